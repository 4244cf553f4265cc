import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, type Data, useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { GC_DELAY_ENV, GC_PROGRESS, registryShim, startGc, waitForGcJob } from '../support/gc.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';
import { overSse, type Stream } from '../support/subscriptions.js';

// garbage-collect sleeps first (see registryShim), so a second job is sure to wait in the queue.
const shimDir = await mkdtemp(join(tmpdir(), 'berth-gc-shim-'));
process.env['PATH'] = `${await registryShim(shimDir)}:${process.env['PATH']}`;
afterAll(() => rm(shimDir, { recursive: true, force: true }));

const app = useTestApp();
let first: string;
let second: string;
let viewer: Client;

beforeAll(async () => {
  const namespace = await createNamespace(app.admin);
  first = (await createRegistry(app.admin, namespace.id)).id;
  const other = await createRegistry(app.admin, namespace.id);
  second = other.id;
  viewer = await app.user();
  await addMember(app.admin, namespace.id, viewer, 'VIEWER');
  const image = buildImage();
  await pushArtifact(app.registry.client, `${other.slug}/app`, 'v1', image);
  await app.registry.client.deleteManifest(`${other.slug}/app`, image.digest);
});

function overWebSocket(token: string, id: string): Promise<Stream> {
  const client = createClient({
    url: `${app.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const events: Data[] = [];
  return new Promise<Stream>((resolve, reject) => {
    client.subscribe(
      { query: GC_PROGRESS, variables: { id } },
      {
        next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : events.push(result.data?.gcJobProgress)),
        error: reject,
        complete: () => resolve({ events, completed: true }),
      },
    );
  }).finally(() => client.dispose());
}

function overSseAs(token: string, id: string): Promise<Stream> {
  return overSse(app.url, token, GC_PROGRESS, { id }, 'gcJobProgress');
}

function expectWholeRun(stream: Stream, id: string): void {
  const { events } = stream;
  expect(stream.completed).toBe(true);
  expect(events.every((event) => event.id === id)).toBe(true);
  // The snapshot: the job was still waiting behind the first one.
  expect(events[0]).toMatchObject({ status: 'QUEUED', phase: 'QUEUED', percent: 0 });
  const phases = events.map((event) => event.phase).filter((phase, i, all) => phase !== all[i - 1]);
  expect(phases).toEqual(['QUEUED', 'PREPARING', 'READ_ONLY', 'MARKING', 'SWEEPING', 'RESTORING']);
  const percents = events.map((event) => event.percent);
  expect(percents).toEqual([...percents].sort((a, b) => a - b));
  expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED', percent: 100, blobsDeleted: 3 });
  expect(events.slice(0, -1).every((event) => ['QUEUED', 'RUNNING'].includes(event.status))).toBe(true);
}

describe('gcJobProgress', () => {
  it('streams the snapshot, every phase in order, rising percent and the end, over graphql-ws and SSE alike', async () => {
    process.env[GC_DELAY_ENV] = '0.6';
    // A dry run holds the queue without collecting what the second job is to collect.
    const running = await startGc(app.admin, first, { dryRun: true });
    const queued = await startGc(app.admin, second);
    expect(queued.status).toBe('QUEUED');

    const [ws, sse] = await Promise.all([overWebSocket(viewer.token!, queued.id), overSseAs(app.admin.token!, queued.id)]);
    expectWholeRun(ws, queued.id);
    expectWholeRun(sse, queued.id);
    expect(ws.events.at(-1)).toEqual(sse.events.at(-1));
    expect((await waitForGcJob(app.admin, running.id)).status).toBe('SUCCEEDED');

    // A late subscriber gets the finished job and the end of the stream, nothing else.
    const late = await overWebSocket(viewer.token!, queued.id);
    expect(late.events).toEqual([ws.events.at(-1)]);
    expect(late.completed).toBe(true);
  });

  it('refuses a subscriber outside the namespace as if the job did not exist', async () => {
    process.env[GC_DELAY_ENV] = '';
    const job = await waitForGcJob(app.admin, (await startGc(app.admin, first, { dryRun: true })).id);
    const outsider = await app.user();
    await expect(overWebSocket(outsider.token!, job.id)).rejects.toThrow(/no GC job/);
    await expect(overSseAs(outsider.token!, job.id)).rejects.toThrow(/NOT_FOUND/);
  });
});
