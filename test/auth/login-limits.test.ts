import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { type Client, useTestApp } from '../support/app.js';
import { createNamespace, uniqueSlug } from '../support/fixtures.js';

const app = useTestApp();

let owner: Client;
let slug: string;
let robot: { username: string; password: string };

beforeAll(async () => {
  owner = await app.user('limited');
  const namespace = await createNamespace(owner);
  slug = uniqueSlug('pub');
  const { data } = await owner.execute(
    `mutation ($input: CreateRegistryInput!) { createRegistry(input: $input) { ... on CreateRegistryPayload { registry { id } credentials { username password } } } }`,
    { input: { namespaceId: namespace.id, name: slug, slug, public: true } },
  );
  robot = data.createRegistry.credentials;
});

/** GET /auth/token from `address` (berth trusts no proxy here, so each test uses its own header-free client). */
async function token(authorization?: string) {
  const url = new URL('/auth/token', app.url);
  url.searchParams.set('service', 'berth-registry');
  url.searchParams.set('scope', `repository:${slug}/app:pull`);
  const response = await fetch(url, { headers: authorization ? { authorization } : {} });
  const body = (await response.json()) as { token?: string; errors?: { code: string }[] };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

describe('failed logins at /auth/token', () => {
  it('let the right password through after ten wrong ones, and answer 429 to the eleventh wrong one', async () => {
    for (let i = 0; i < 10; i++) expect((await token(basic(robot.username, `wrong${i}`))).status).toBe(401);
    expect((await token(basic(robot.username, robot.password))).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await token(basic(robot.username, `again${i}`))).status).toBe(401);
    const limited = await token(basic(robot.username, 'eleventh'));
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect((await token(basic(robot.username, robot.password))).status).toBe(200);
  });

  it('holds under concurrency: of 40 concurrent wrong passwords, those past the tenth get 429', async () => {
    const user = await app.user();
    const name = (await user.execute('{ viewer { name } }')).data.viewer.name as string;
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => token(basic(name, `guess${i}`)).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    expect((await token(basic(name, user.token!))).status).toBe(200);
  });

  it('never limits anonymous pulls because of malformed headers', async () => {
    for (const header of Array.from({ length: 11 }, (_, i) => ['Basic !!!', 'Basic Og==', 'Bearer x', `Basic ${'A'.repeat(i)}`][i % 4]!)) {
      expect((await token(header)).status).toBe(401);
    }
    const anonymous = await token();
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.token).toBeDefined();
  });

  it('refuses user names over 256 bytes without remembering them', async () => {
    const long = 'x'.repeat(10_000);
    for (let i = 0; i < 12; i++) expect((await token(basic(long, 'wrong'))).status).toBe(401);
    const justOver = `robot$${'y'.repeat(251)}`;
    for (let i = 0; i < 12; i++) expect((await token(basic(justOver, 'wrong'))).status).toBe(401);
  });
});

describe('bearer guesses on /graphql', () => {
  const post = (authorization?: string) =>
    fetch(new URL('/graphql', app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query: '{ viewer { name } }' }),
    });

  it('answer 429 past ten wrong tokens from one address, while valid tokens and anonymous requests pass', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await post(`Bearer berth_guess${i}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    expect((await post(`Bearer berth_guess-more`)).headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await (await post(`Bearer ${app.admin.token}`)).json()).toEqual({ data: { viewer: { name: 'admin' } } });
    expect((await post()).status).toBe(200);
    expect((await post('Token not-even-bearer')).status).toBe(401);
  });

  it('close graphql-ws connections past the limit with 4429 and accept a valid token', async () => {
    const host = new URL(app.url).host;
    const attempt = async (authorization: string) => {
      const client = createClient({ url: `ws://${host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization } });
      try {
        for await (const result of client.iterate({ query: '{ viewer { name } }' })) return { result };
        return {};
      } catch (error) {
        return { code: (error as { code?: number }).code };
      } finally {
        await client.dispose();
      }
    };
    // The address already used up its allowance in the test above.
    expect((await attempt('Bearer berth_ws-guess')).code).toBe(4429);
    expect((await attempt(`Bearer ${app.admin.token}`)).result?.data).toEqual({ viewer: { name: 'admin' } });
  });
});

describe('FailureLimiter', () => {
  it('remembers at most maxKeys keys, forgetting the least recently failing first', () => {
    const limiter = new FailureLimiter({ maxFailures: 2, maxKeys: 100 });
    for (let i = 0; i < 4_000; i++) limiter.recordFailure(`user${i}|10.0.0.1`);
    expect(limiter.size).toBe(100);
    limiter.recordFailure('user3999|10.0.0.1');
    expect(limiter.recordFailure('user3999|10.0.0.1')).toBeGreaterThan(0);
    expect(limiter.recordFailure('user0|10.0.0.1')).toBe(0);
  });
});
