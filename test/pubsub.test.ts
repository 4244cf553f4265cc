import { createClient } from 'graphql-ws';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningBerth, startBerth } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { useTestApp } from './support/app.js';
import { createNamespace, createRegistry } from './support/fixtures.js';
import { GC_PROGRESS, startGc } from './support/gc.js';
import { buildImage, pushArtifact } from './support/oci-images.js';
import { freePort } from './support/registry-process.js';

// Two berth instances on one database, one registry and one Redis: instance A runs the embedded
// registry (so it receives the notifications and runs GC); B only serves the API.
const REDIS_URL = process.env['BERTH_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const a = useTestApp({ REDIS_URL });
let b: RunningBerth;
let bUrl: string;

beforeAll(async () => {
  const port = await freePort();
  const config = loadConfig({ REDIS_URL, BERTH_PORT: String(port), BERTH_DATA_DIR: a.dataDir, BERTH_REGISTRY_URL: a.registry.embedded!.url });
  b = await startBerth(config, a.db, pino({ level: 'silent' }));
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
