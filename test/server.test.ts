import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestApp } from './support/app.js';

const app = useTestApp();
let base: string;

beforeAll(() => {
  base = new URL(app.url).host;
});

describe('HTTP endpoints', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`http://${base}/healthz`)).status).toBe(200);
    expect((await fetch(`http://${base}/readyz`)).status).toBe(200);
  });

  it('serves GraphiQL with its assets inline, loading nothing from elsewhere', async () => {
    const response = await fetch(`http://${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('berth');
    expect(html).not.toMatch(/<script[^>]+src="https?:/);
    expect(html).not.toMatch(/<link[^>]+href="https?:/);
  });

  it('rejects a query over the complexity limit with a GraphQL error', async () => {
    const loop = (inner: string, times: number): string => (times === 0 ? inner : `registries(first: 100) { nodes { namespace { ${loop(inner, times - 1)} } } }`);
    const deep = `{ namespaces(first: 100) { nodes { ${loop('slug', 5)} } } }`;
    const { data, errors } = await app.admin.execute(deep);
    expect(data ?? null).toBeNull();
    expect(errors?.[0]?.message).toMatch(/depth/i);
  });
});

describe('graphql-ws on /graphql', () => {
  function connect(connectionParams?: Record<string, unknown>) {
    return createClient({ url: `ws://${base}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams });
  }

  async function firstResult(client: ReturnType<typeof connect>, query: string) {
    try {
      for await (const result of client.iterate({ query })) return { result };
      return {};
    } catch (error) {
      return { error: error as { code?: number; reason?: string } };
    } finally {
      await client.dispose();
    }
  }

  it('runs operations for a valid API token', async () => {
    const { result } = await firstResult(connect({ authorization: `Bearer ${app.admin.token}` }), '{ viewer { name isAdmin } }');
    expect(result?.data).toEqual({ viewer: { name: 'admin', isAdmin: true } });
  });

  it.each([
    ['no token', undefined],
    ['an unknown token', { authorization: 'Bearer berth_wrong' }],
    ['a malformed header', { authorization: 'Token abc' }],
  ])('closes with 4403 Forbidden for %s, giving no reason away', async (_label, params) => {
    const { result, error } = await firstResult(connect(params), '{ viewer { name } }');
    expect(result).toBeUndefined();
    expect(error?.code).toBe(4403);
    expect(error?.reason).toBe('Forbidden');
  });
});
