import { decodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningBerth, startBerth } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { useTestApp } from './support/app.js';
import { addMember, createNamespace, createRegistry } from './support/fixtures.js';
import { GC_PROGRESS, startGc } from './support/gc.js';
import { buildImage, pushArtifact } from './support/oci-images.js';
import { freePort } from './support/registry-process.js';

// Two berth instances on one database, one registry and one Redis: instance A runs the embedded
// registry (so it receives the notifications and runs GC); B only serves the API.
const REDIS_URL = process.env['BERTH_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
// Viewers stay cached far longer than any test runs: whatever B stops accepting, it was told.
const HOUR_MS = 3_600_000;
const a = useTestApp({ REDIS_URL }, { viewerCacheTtlMs: HOUR_MS });
let b: RunningBerth;
let bUrl: string;

beforeAll(async () => {
  const port = await freePort();
  const config = loadConfig({ REDIS_URL, BERTH_PORT: String(port), BERTH_DATA_DIR: a.dataDir, BERTH_REGISTRY_URL: a.registry.embedded!.url });
  b = await startBerth(config, a.db, pino({ level: 'silent' }), { viewerCacheTtlMs: HOUR_MS });
  bUrl = `ws://127.0.0.1:${port}/graphql`;
});

afterAll(async () => {
  await b?.close();
});

function subscribeOnB<T>(query: string, variables: Record<string, unknown>): { next: () => Promise<T[]>; stop: () => Promise<void> } {
  const client = createClient({ url: bUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${a.admin.token}` } });
  const received: T[] = [];
  const iterator = client.iterate<T>({ query, variables });
  return {
    next: async () => {
      const { value, done } = await iterator.next();
      if (!done && value.data) received.push(value.data as T);
      return received;
    },
    stop: async () => {
      await iterator.return?.();
      await client.dispose();
    },
  };
}

describe('pub/sub through Redis', () => {
  it('delivers a push that instance A recorded to a registryEvents subscriber on instance B', async () => {
    const namespace = await createNamespace(a.admin);
    const registry = await createRegistry(a.admin, namespace.id);
    const subscription = subscribeOnB<{ registryEvents: { action: string; repository: string; tag: string } }>(
      'subscription ($id: ID!) { registryEvents(registryId: $id) { action repository tag } }',
      { id: registry.id },
    );
    try {
      const first = subscription.next();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await pushArtifact(a.registry.client, `${registry.slug}/app`, 'v1', buildImage());
      expect((await first)[0]?.registryEvents).toEqual({ action: 'push', repository: 'app', tag: 'v1' });
    } finally {
      await subscription.stop();
    }
  });

  it('streams the progress of a GC running on A to a gcJobProgress subscriber on B, to completion', async () => {
    const namespace = await createNamespace(a.admin);
    const registry = await createRegistry(a.admin, namespace.id);
    await pushArtifact(a.registry.client, `${registry.slug}/app`, 'v1', buildImage());
    const job = await startGc(a.admin, registry.id);
    const client = createClient({ url: bUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${a.admin.token}` } });
    const statuses: string[] = [];
    try {
      for await (const result of client.iterate<{ gcJobProgress: { status: string; bytesFreed: number } }>({ query: GC_PROGRESS, variables: { id: job.id } })) {
        statuses.push(result.data!.gcJobProgress.status);
      }
    } finally {
      await client.dispose();
    }
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses.length).toBeGreaterThan(1);
  });
});

describe('access changes through Redis', () => {
  const MY_TOKENS = '{ viewer { apiTokens(first: 5) { nodes { id } } } }';
  const REVOKE = 'mutation ($id: ID!) { revokeApiToken(input: { id: $id }) { __typename } }';
  const REMOVE = 'mutation ($input: RemoveNamespaceMemberInput!) { removeNamespaceMember(input: $input) { __typename } }';

  /** What B answers the token now: its HTTP status and the namespaces it lists. */
  async function onB(token: string): Promise<{ status: number; slugs: string[] | undefined }> {
    const response = await fetch(bUrl.replace('ws:', 'http:'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ namespaces(first: 10) { nodes { slug } } }' }),
    });
    const body = (await response.json()) as { data?: { namespaces: { nodes: { slug: string }[] } } };
    return { status: response.status, slugs: body.data?.namespaces.nodes.map((node) => node.slug) };
  }

  /** B learns through Redis, after A has answered: ask until it has heard. */
  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    let value = await read();
    for (let i = 0; i < 100 && !done(value); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      value = await read();
    }
    return value;
  }

  it('a token revoked and a member removed through A stop working on B, which had their viewers cached', async () => {
    const namespace = await createNamespace(a.admin);
    const member = await a.user();
    await addMember(a.admin, namespace.id, member, 'VIEWER');
    const leaver = await a.user();
    await addMember(a.admin, namespace.id, leaver, 'VIEWER');
    expect(await onB(member.token!)).toEqual({ status: 200, slugs: [namespace.slug] });
    expect(await onB(leaver.token!)).toEqual({ status: 200, slugs: [namespace.slug] });

    const tokenId = (await member.execute(MY_TOKENS)).data.viewer.apiTokens.nodes[0].id;
    expect((await member.execute(REVOKE, { id: tokenId })).data.revokeApiToken.__typename).toBe('RevokeApiTokenPayload');
    await a.admin.execute(REMOVE, { input: { namespaceId: namespace.id, userId: leaver.userId } });

    expect(await eventually(() => onB(member.token!), (answer) => answer.status === 401)).toMatchObject({ status: 401 });
    expect(await eventually(() => onB(leaver.token!), (answer) => answer.slugs?.length === 0)).toEqual({ status: 200, slugs: [] });
  });

  it('ends a subscription on B as soon as its token is revoked through A, with no event in between', async () => {
    const namespace = await createNamespace(a.admin);
    const registry = await createRegistry(a.admin, namespace.id);
    const member = await a.user();
    await addMember(a.admin, namespace.id, member, 'VIEWER');
    const client = createClient({ url: bUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${member.token}` } });
    const received: unknown[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      client.subscribe({ query: 'subscription ($id: ID!) { registryEvents(registryId: $id) { tag } }', variables: { id: registry.id } }, {
        next: (result) => void received.push(result),
        error: reject,
        complete: resolve,
      });
    });
    try {
      // Started once B delivers an event to it.
      const registryId = decodeGlobalID(registry.id).id;
      const event = { action: 'push', repository: 'app', tag: 'v1', digest: null, at: new Date() };
      await eventually(async () => a.services.pubsub.publish('registry:event', registryId, event), () => received.length > 0);
      const tokenId = (await member.execute(MY_TOKENS)).data.viewer.apiTokens.nodes[0].id;
      await member.execute(REVOKE, { id: tokenId });
      await ended;
      expect(received.at(-1)).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
      expect(received.slice(0, -1).every((result) => JSON.stringify(result) === JSON.stringify({ data: { registryEvents: { tag: 'v1' } } }))).toBe(true);
    } finally {
      await client.dispose();
    }
  });
});
