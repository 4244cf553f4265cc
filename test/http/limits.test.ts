import { encodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_REQUEST_BODY_BYTES } from '../../src/http/request-parsing.js';
import { MAX_OPERATIONS_PER_SOCKET } from '../../src/server.js';
import { type Client, useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';

const app = useTestApp();

let owner: Client;
let outsider: Client;
let registryId: string;
let jobId: string;

beforeAll(async () => {
  owner = await app.user();
  outsider = await app.user();
  const namespace = await createNamespace(owner);
  registryId = (await createRegistry(owner, namespace.id)).id;
  const job = await app.db.gcJob.create({ data: { registryId: (await app.db.registry.findFirstOrThrow()).id, status: 'SUCCEEDED', phase: 'SWEEPING' } });
  jobId = encodeGlobalID('GcJob', job.id);
});

/** A POST to /graphql over real HTTP, as any client would send it. */
async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(new URL('/graphql', app.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

describe('nodes(ids:)', () => {
  it('takes at most 100 ids, and answers 20,000 with a 400 at once', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => encodeGlobalID('Registry', `r${i}`));
    const hundred = await post({ query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: ids(100) } }, { authorization: `Bearer ${owner.token}` });
    expect(hundred.status).toBe(200);
    expect(JSON.parse(hundred.text).data.nodes).toHaveLength(100);
    for (const n of [101, 20_000]) {
      const over = await post({ query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: ids(n) } }, { authorization: `Bearer ${owner.token}` });
      expect(over.status).toBe(400);
      expect(JSON.parse(over.text).errors[0]).toMatchObject({ message: `nodes takes at most 100 ids; ${n} were given`, extensions: { code: 'QUERY_TOO_LARGE' } });
    }
  });

  it('counts its ids in complexity', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => encodeGlobalID('Registry', `r${i}`));
    const aliases = Array.from({ length: 60 }, (_, i) => `a${i}: nodes(ids: $ids) { id }`).join(' ');
    const { status, text } = await post({ query: `query ($ids: [ID!]!) { ${aliases} }`, variables: { ids } }, { authorization: `Bearer ${owner.token}` });
    expect(status).toBe(400);
    expect(JSON.parse(text).errors[0].message).toMatch(/maximum complexity/);
  });
});

describe('request bodies', () => {
  /** A POST whose body is sent chunked, without Content-Length, in pieces of 64 KiB. */
  async function postChunked(body: string) {
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 65_536) controller.enqueue(bytes.subarray(offset, offset + 65_536));
        controller.close();
      },
    });
    const response = await fetch(new URL('/graphql', app.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    return { status: response.status, text: await response.text() };
  }

  it(`answers 413 past ${MAX_REQUEST_BODY_BYTES} bytes, with or without Content-Length, and reads a chunked body within it`, async () => {
    const padded = (bytes: number) => {
      const body = JSON.stringify({ query: '{ __typename }', variables: { padding: '' } });
      return body.replace('"padding":""', `"padding":"${'x'.repeat(bytes - body.length)}"`);
    };
    const tooLarge = { errors: [{ message: 'Request body too large', extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] };
    for (const send of [(body: string) => post(JSON.parse(body)), postChunked]) {
      const over = await send(padded(MAX_REQUEST_BODY_BYTES + 1));
      expect(over.status).toBe(413);
      expect(JSON.parse(over.text)).toEqual(tooLarge);
      const within = await send(padded(200_000));
      expect(within).toEqual({ status: 200, text: JSON.stringify({ data: { __typename: 'Query' } }) });
    }
  });
});

describe('documents', () => {
  it('answers a document nested 3,000 levels deep with 400 (200 for plain JSON clients), over HTTP and graphql-ws', async () => {
    const deep = `{ ${'viewer { '.repeat(3_000)}name${' }'.repeat(3_000)} }`;
    expect((await post({ query: deep }, { accept: 'application/graphql-response+json' })).status).toBe(400);
    const http = await post({ query: deep });
    expect(http.status).toBe(200);
    expect(JSON.parse(http.text).errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(JSON.parse(http.text).errors[0].message).toBe('Syntax Error: the document nests deeper than 64 levels.');
    const lists = (depth: number) => `{ nodes(ids: ${'['.repeat(depth)}${']'.repeat(depth)}) { id } }`;
    expect((await post({ query: lists(1_900) }, { accept: 'application/graphql-response+json' })).status).toBe(400);
    const long = await post({ query: `{ ${'viewer { name } '.repeat(1_000)} }` }, { accept: 'application/graphql-response+json' });
    expect(long.status).toBe(400);
    expect(JSON.parse(long.text).errors[0].message).toMatch(/^Syntax Error: Document contains more that 2000 tokens/);
    const ws = await firstWsResult(owner.token!, deep);
    expect(ws.errors?.[0]?.message).toMatch(/Syntax Error/);
  });

  it('clips error messages that echo the input to a few hundred characters', async () => {
    const longName = `f${'x'.repeat(20_000)}`;
    const { text } = await post({ query: `{ ${longName} }` }, { authorization: `Bearer ${owner.token}` });
    const message = JSON.parse(text).errors[0].message as string;
    expect(message.length).toBeLessThan(400);
    expect(text.length).toBeLessThan(1_000);
    const typed = await owner.execute(`mutation ($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { ... on Error { message } } }`, {
      input: { id: 'y'.repeat(20_000) },
    });
    expect(typed.data.revokeApiToken.message.length).toBeLessThan(400);
  });
});

describe('GET /graphql', () => {
  const get = (params: string) => fetch(new URL(`/graphql?${params}`, app.url), { headers: { 'x-graphql-yoga-csrf': '1' } });

  it('answers malformed variables or extensions with 400', async () => {
    for (const params of ['query={viewer{name}}&variables=notjson{', 'query={viewer{name}}&extensions=notjson{', 'query={viewer{name}}&variables=[1]', 'query={viewer{name}}&variables=42']) {
      const response = await get(params);
      expect({ params, status: response.status }).toEqual({ params, status: 400 });
    }
    expect((await get('query={viewer{name}}&variables={}')).status).toBe(200);
  });
});

describe('subscriptions refuse anonymous and unauthorised subscribers cleanly', () => {
  async function sse(query: string, variables: Record<string, unknown>, token?: string) {
    const controller = new AbortController();
    const response = await fetch(new URL('/graphql', app.url), {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    controller.abort();
    return { status: response.status, first: new TextDecoder().decode(value) };
  }

  const GC = 'subscription ($id: ID!) { gcJobProgress(id: $id) { status } }';
  const EVENTS = 'subscription ($id: ID!) { registryEvents(registryId: $id) { action } }';

  it.each([
    ['gcJobProgress', 'anonymous', GC],
    ['gcJobProgress', 'outsider', GC],
    ['registryEvents', 'anonymous', EVENTS],
    ['registryEvents', 'outsider', EVENTS],
  ])('%s as %s over SSE: HTTP 200 and a FORBIDDEN or NOT_FOUND error event', async (_field, who, query) => {
    const id = query === GC ? jobId : registryId;
    const { status, first } = await sse(query, { id }, who === 'outsider' ? outsider.token! : undefined);
    expect(status).toBe(200);
    expect(first).toMatch(/"code":"(FORBIDDEN|NOT_FOUND)"/);
    expect(first).not.toContain('Unexpected error');
  });

  it.each([
    ['gcJobProgress', GC],
    ['registryEvents', EVENTS],
  ])('%s as an outsider over graphql-ws: an error for the operation', async (_field, query) => {
    const result = await firstWsResult(outsider.token!, query, { id: query === GC ? jobId : registryId });
    expect(result.errors?.[0]?.extensions?.['code']).toMatch(/FORBIDDEN|NOT_FOUND/);
  });
});

describe('graphql-ws', () => {
  it(`runs at most ${MAX_OPERATIONS_PER_SOCKET} operations at once on one connection`, async () => {
    const client = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.token}` } });
    const errors: unknown[] = [];
    const disposers = Array.from({ length: MAX_OPERATIONS_PER_SOCKET + 1 }, () =>
      client.subscribe({ query: 'subscription ($id: ID!) { registryEvents(registryId: $id) { action } }', variables: { id: registryId } }, {
        next: () => {},
        error: (error) => void errors.push(error),
        complete: () => {},
      }),
    );
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toContain(`at most ${MAX_OPERATIONS_PER_SOCKET} operations`);
    for (const dispose of disposers) dispose();
    await client.dispose();
  });
});

async function firstWsResult(token: string, query: string, variables?: Record<string, unknown>) {
  const client = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${token}` } });
  try {
    for await (const result of client.iterate({ query, variables })) return result;
    return {};
  } catch (error) {
    return { errors: Array.isArray(error) ? (error as { message: string; extensions?: Record<string, unknown> }[]) : [{ message: String(error), extensions: {} }] };
  } finally {
    await client.dispose();
  }
}
