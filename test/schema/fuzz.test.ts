import { encodeGlobalID } from '@pothos/plugin-relay';
import { getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';
import { type GeneratedOperation, SchemaFuzzer, seededRandom } from '../support/schema-fuzzer.js';

const app = useTestApp();

const SEED = Number(process.env['BERTH_FUZZ_SEED'] ?? 20261201);
const REQUESTS = 2_100;
const CONCURRENCY = 8;

/** Names and IDs that only the foreign namespace has: none may ever appear in a response to the others. */
const FOREIGN = { slug: 'zzforeignns', name: 'Foreign Secret Namespace QX7', registry: 'zzforeignreg', repository: 'zzsecretrepo', tag: 'zzsecrettag', user: 'zzforeignuser', registryName: 'Hidden Registry K9Z' };

interface Caller {
  label: string;
  token: string | null;
}

let callers: Caller[];
let fuzzer: SchemaFuzzer;
let foreignMarkers: string[];

beforeAll(async () => {
  const foreigner = await app.user(FOREIGN.user);
  const foreignNs = await app.db.namespace.create({ data: { slug: FOREIGN.slug, name: FOREIGN.name, memberships: { create: { userId: decodeUser(foreigner), role: 'OWNER' } } } });
  const foreignNsId = encodeGlobalID('Namespace', foreignNs.id);
  const foreignRegistry = await createRegistry(foreigner, foreignNsId, { slug: FOREIGN.registry, name: FOREIGN.registryName });
  const foreignImage = buildImage();
  await pushArtifact(app.registry.client, `${FOREIGN.registry}/${FOREIGN.repository}`, FOREIGN.tag, foreignImage);
  await recordedPush(app.db, `${FOREIGN.registry}/${FOREIGN.repository}`, FOREIGN.tag);
  const foreignJob = await app.db.gcJob.create({ data: { registryId: decodeId(foreignRegistry.id), status: 'SUCCEEDED', phase: 'SWEEPING' } });
  const foreignToken = await app.db.apiToken.findFirstOrThrow({ where: { userId: decodeUser(foreigner) } });

  const owner = await app.user('fuzz-owner');
  const viewer = await app.user('fuzz-viewer');
  const outsider = await app.user('fuzz-outsider');
  const home = await createNamespace(owner);
  await addMember(owner, home.id, viewer, 'VIEWER');
  await createNamespace(outsider);
  const homeRegistry = await createRegistry(owner, home.id, { public: true });
  await pushArtifact(app.registry.client, `${homeRegistry.slug}/app`, 'v1', buildImage());
  await recordedPush(app.db, `${homeRegistry.slug}/app`, 'v1');
  const homeJob = await app.db.gcJob.create({ data: { registryId: decodeId(homeRegistry.id), status: 'SUCCEEDED', phase: 'SWEEPING' } });

  const foreignIds = [
    foreignNsId,
    foreignRegistry.id,
    foreigner.userId,
    encodeGlobalID('GcJob', foreignJob.id),
    encodeGlobalID('ApiToken', foreignToken.id),
    encodeGlobalID('Repository', `${decodeId(foreignRegistry.id)}/${FOREIGN.repository}`),
    encodeGlobalID('Tag', `${decodeId(foreignRegistry.id)}/${FOREIGN.repository}:${FOREIGN.tag}`),
    encodeGlobalID('Image', `${decodeId(foreignRegistry.id)}/${FOREIGN.repository}@${foreignImage.digest}`),
  ];
  // The slugs, repository and tag are in the string pool (lookups by them must answer null), so a
  // caller may create objects named after them; the markers are what no caller can ever send.
  foreignMarkers = [
    FOREIGN.name,
    FOREIGN.registryName,
    FOREIGN.user,
    foreignImage.digest,
    foreignNs.id,
    decodeId(foreignRegistry.id),
    decodeUser(foreigner),
    foreignJob.id,
    foreignToken.id,
    ...foreignIds,
  ];
  const homeIds = [
    home.id,
    homeRegistry.id,
    owner.userId,
    encodeGlobalID('GcJob', homeJob.id),
    encodeGlobalID('Repository', `${decodeId(homeRegistry.id)}/app`),
    encodeGlobalID('Tag', `${decodeId(homeRegistry.id)}/app:v1`),
  ];
  const garbage = ['', 'x', 'VXNlcjo=', 'bm9wZQ==', '!!!', encodeGlobalID('Nope', '1'), encodeGlobalID('Registry', 'missing'), 'A'.repeat(500)];
  const introspection = await app.admin.execute(getIntrospectionQuery());
  fuzzer = new SchemaFuzzer(introspection.data as IntrospectionQuery, seededRandom(SEED), {
    ids: [...foreignIds, ...homeIds, ...garbage],
    strings: [FOREIGN.slug, FOREIGN.registry, FOREIGN.repository, FOREIGN.tag, home.slug, homeRegistry.slug, 'app', 'v1', '', ' ', 'Ünïcödé ✓', 'a'.repeat(300), '<script>', '%00', `${FOREIGN.registry}/${FOREIGN.repository}`],
  });
  callers = [
    { label: 'anonymous', token: null },
    { label: 'VIEWER', token: viewer.token },
    { label: 'outsider', token: outsider.token },
  ];
}, 120_000);

function decodeId(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString().split(':').slice(1).join(':');
}

function decodeUser(client: Client): string {
  return decodeId(client.userId);
}

interface FuzzRequest {
  caller: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** SSE: read the first chunk, then hang up. */
  stream?: boolean;
}

/** One request: mostly a generated operation as JSON, sometimes over GET, SSE, or malformed at the HTTP level. */
function nextRequest(): FuzzRequest {
  const caller = fuzzer.pick(callers);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}) };
  const base = { caller: caller.label, url: new URL('/graphql', app.url).toString(), headers };
  const roll = fuzzer.int(100);
  const kind: GeneratedOperation['kind'] = roll < 65 ? 'query' : roll < 92 ? 'mutation' : 'subscription';
  const generated = fuzzer.operation(kind);
  const { query, variables } = fuzzer.chance(0.08) ? fuzzer.corrupt(generated) : generated;
  const operation = { query, variables };
  if (kind === 'subscription') {
    return { ...base, method: 'POST', headers: { ...headers, accept: 'text/event-stream' }, body: JSON.stringify(operation), stream: true };
  }
  const http = fuzzer.int(100);
  if (http < 6 && kind === 'query') {
    const params = new URLSearchParams({ query: operation.query });
    params.set('variables', fuzzer.chance(0.5) ? JSON.stringify(operation.variables) : fuzzer.pick(['notjson{', '[1]', '"x"', '{"a":']));
    if (fuzzer.chance(0.3)) params.set('extensions', fuzzer.pick(['{', 'null', '{"persistedQuery":{}}']));
    return { ...base, method: 'GET', url: `${base.url}?${params}`, headers: { ...headers, 'x-graphql-yoga-csrf': '1' } };
  }
  if (http < 9) return { ...base, method: 'POST', body: JSON.stringify(operation).slice(0, fuzzer.int(60)) };
  if (http < 11) return { ...base, method: 'POST', headers: { ...headers, 'content-type': fuzzer.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) }, body: JSON.stringify(operation) };
  if (http < 13) return { ...base, method: 'POST', body: JSON.stringify({ ...operation, variables: fuzzer.pick(['x', 5, [], { deep: [[[[[[]]]]]] }]) }) };
  if (http < 14) return { ...base, method: 'POST', headers: { ...headers, authorization: fuzzer.pick(['Bearer berth_nope', 'Basic eDp5', 'Bearer', '']) }, body: JSON.stringify(operation) };
  return { ...base, method: 'POST', body: JSON.stringify(operation) };
}

/** Status 0: no response headers within 10 s, a hang worth failing for. */
async function send(request: FuzzRequest): Promise<{ status: number; body: string }> {
  const controller = new AbortController();
  const answered = setTimeout(() => controller.abort(), 10_000);
  let response: Response;
  try {
    response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return { status: 0, body: '' };
    throw error;
  } finally {
    clearTimeout(answered);
  }
  if (!request.stream) return { status: response.status, body: await response.text() };
  // A subscription may stay open: what it sends within 300 ms is its answer.
  const hangUp = setTimeout(() => controller.abort(), 300);
  let body = '';
  try {
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
  } catch {
    // Hung up by the timer.
  } finally {
    clearTimeout(hangUp);
  }
  return { status: response.status, body };
}

describe('fuzzing the API from the schema', () => {
  it(`${REQUESTS} generated requests as anonymous, VIEWER and outsider: no 5xx, no foreign data`, async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < REQUESTS) {
          sent++;
          const request = nextRequest();
          const { status, body } = await send(request);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          const asked = `${request.url} ${request.body ?? ''}`;
          const leaked = foreignMarkers.filter((marker) => body.includes(marker) && !asked.includes(marker));
          if (status >= 500 || status === 0 || leaked.length > 0) {
            failures.push(`${request.caller} ${request.method} ${status} leaked=[${leaked.join(',')}] ${asked.slice(0, 600)} => ${body.slice(0, 400)}`);
          }
        }
      }),
    );
    expect(failures.slice(0, 5)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2_000);
    // The mix reached past the front door: most requests were answered, not refused.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(REQUESTS / 2);
  }, 120_000);
});
