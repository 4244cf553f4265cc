import { hostname } from 'node:os';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Data, useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { artifactBytes, GC_PROGRESS, START_GC, TERMINAL } from '../support/gc.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';
import { useSecondInstance } from '../support/instances.js';

// Two berth instances on one database, one registry and one Redis: A runs the embedded registry,
// B reaches it through BERTH_REGISTRY_URL and cannot run garbage collection itself.
const REDIS_URL = process.env['BERTH_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const a = useTestApp({ REDIS_URL });
const second = useSecondInstance(a, REDIS_URL);

async function executeOnB(query: string, variables: Record<string, unknown>): Promise<Data> {
  const response = await second.berth.server.yoga.fetch('http://berth.b/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${a.admin.token}` },
    body: JSON.stringify({ query, variables }),
  });
  return ((await response.json()) as { data: Data }).data;
}

/** Every event of gcJobProgress on one instance, until it completes. */
async function follow(port: number, id: string): Promise<Data[]> {
  const client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${a.admin.token}` } });
  const events: Data[] = [];
  try {
    for await (const result of client.iterate<Data>({ query: GC_PROGRESS, variables: { id } })) events.push(result.data!.gcJobProgress);
  } finally {
    await client.dispose();
  }
  return events;
}

describe('garbage collection with two instances', () => {
  it('runs a GC requested through B once, on A, and streams its progress to subscribers on both', async () => {
    expect(second.berth.services.gc.supported).toBe(false);
    const namespace = await createNamespace(a.admin);
    const registry = await createRegistry(a.admin, namespace.id);
    const deleted = buildImage({ layerBytes: 2048 });
    await pushArtifact(a.registry.client, `${registry.slug}/app`, 'v1', deleted);
    await a.registry.client.deleteManifest(`${registry.slug}/app`, deleted.digest);

    const started = (await executeOnB(START_GC, { input: { registryId: registry.id } })).startGarbageCollection;
    expect(started).toMatchObject({ __typename: 'StartGarbageCollectionPayload', job: { status: 'QUEUED' } });
    const aPort = Number(new URL(a.url).port);
    const [onA, onB] = await Promise.all([follow(aPort, started.job.id), follow(second.port, started.job.id)]);

    for (const events of [onA, onB]) {
      expect(TERMINAL).toContain(events.at(-1).status);
      expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED', bytesFreed: artifactBytes(deleted) });
    }
    expect(onA.at(-1)).toEqual(onB.at(-1));
    // Exactly one run, claimed by A: B never takes a job it cannot run.
    const runs = await a.db.gcRun.findMany({ where: { jobs: { some: { id: decodeGlobalID(started.job.id).id } } } });
    expect(runs).toHaveLength(1);
    expect(runs[0]!.leaseOwner).toBe(`${hostname()}:${a.dataDir}`);
    expect(await a.db.gcRun.count({ where: { leaseOwner: `${hostname()}:${second.dataDir}` } })).toBe(0);
  });

  it('refuses pushes at B’s token endpoint while A holds the window', async () => {
    const namespace = await createNamespace(a.admin);
    const registry = await createRegistry(a.admin, namespace.id);
    const run = await a.db.gcRun.create({ data: { status: 'RUNNING', windowOpenedAt: new Date() } });
    try {
      const scope = `repository:${registry.slug}/app:pull,push`;
      const response = await fetch(`http://127.0.0.1:${second.port}/auth/token?service=berth-registry&scope=${encodeURIComponent(scope)}`, {
        headers: { authorization: `Basic ${Buffer.from(`admin:${a.admin.token}`).toString('base64')}` },
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ errors: [{ code: 'DENIED', message: 'registry in maintenance: garbage collection is running' }] });
    } finally {
      await a.db.gcRun.update({ where: { id: run.id }, data: { status: 'SUCCEEDED', windowClosedAt: new Date() } });
    }
  });
});
