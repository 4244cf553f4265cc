import { decodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { startGc, waitForGcJob } from '../support/gc.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';

const app = useTestApp();
const off = useTestApp({ BERTH_METRICS: 'false' });

/** The samples of /metrics, as `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe('/metrics', () => {
  it('reports requests per operation, backend calls, GC and import jobs, subscriptions, connections and the process', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    const image = buildImage({ layerBytes: 4096 });
    await pushArtifact(app.registry.client, `${registry.slug}/app`, 'v1', image);
    await app.registry.client.deleteManifest(`${registry.slug}/app`, image.digest);
    const job = await waitForGcJob(app.admin, (await startGc(app.admin, registry.id)).id);
    expect(job).toMatchObject({ status: 'SUCCEEDED' });
    expect(job.bytesFreed).toBeGreaterThan(0);
    await app.db.importJob.create({
      data: { registryId: decodeGlobalID(registry.id).id, sourceUrl: 'https://source.invalid', sourceRepository: 'app', reference: 'v1', targetRepository: 'app', status: 'SUCCEEDED', bytesCopied: 123_456n },
    });
    for (let i = 0; i < 3; i++) expect((await app.admin.execute('query Ping { viewer { name } }')).status).toBe(200);

    const client = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${app.admin.token}` } });
    const received: unknown[] = [];
    client.subscribe({ query: 'subscription ($r: ID!) { registryEvents(registryId: $r) { tag } }', variables: { r: registry.id } }, {
      next: (result) => void received.push(result),
      error: () => {},
      complete: () => {},
    });
    const event = { action: 'push', repository: 'app', tag: 'v2', digest: null, at: new Date() };
    for (let i = 0; i < 100 && received.length === 0; i++) {
      app.services.pubsub.publish('registry:event', decodeGlobalID(registry.id).id, event);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const samples = await scrape(app.url);
    expect(samples.get('berth_graphql_requests_total{operation="Ping"}')).toBe(3);
    expect(samples.get('berth_graphql_request_duration_seconds_count{operation="Ping"}')).toBe(3);
    expect(samples.get('berth_graphql_request_duration_seconds_sum{operation="Ping"}')).toBeGreaterThan(0);
    expect(samples.get('berth_backend_calls_total{backend="hosted",kind="manifest"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('berth_backend_calls_total{backend="hosted",kind="manifest_delete"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('berth_gc_jobs{status="SUCCEEDED"}')).toBe(1);
    expect(samples.get('berth_gc_jobs{status="RUNNING"}')).toBe(0);
    expect(samples.get('berth_gc_freed_bytes')).toBe(job.bytesFreed);
    expect(samples.get('berth_import_jobs{status="SUCCEEDED"}')).toBe(1);
    expect(samples.get('berth_import_jobs{status="FAILED"}')).toBe(0);
    expect(samples.get('berth_import_copied_bytes')).toBe(123_456);
    expect(samples.get('berth_graphql_subscriptions')).toBe(1);
    expect(samples.get('berth_websocket_connections')).toBe(1);
    expect(samples.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    await client.dispose();
    let after = await scrape(app.url);
    for (let i = 0; i < 100 && (after.get('berth_graphql_subscriptions') !== 0 || after.get('berth_websocket_connections') !== 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await scrape(app.url);
    }
    expect(after.get('berth_graphql_subscriptions')).toBe(0);
    expect(after.get('berth_websocket_connections')).toBe(0);
  });

  it('is not served with BERTH_METRICS=false', async () => {
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
  });
});
