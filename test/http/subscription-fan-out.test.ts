import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';

const app = useTestApp();

const PROGRESS = 'subscription ($id: ID!) { gcJobProgress(id: $id) { status blobsMarked registry { namespace { viewerRole } } } }';

interface Received {
  gcJobProgress: { status: string; blobsMarked: number; registry: { namespace: { viewerRole: string } } };
}

/** Subscribes as `client` over its own connection; resolves with everything received once the stream completes. */
function follow(client: Client, jobId: string, started: () => void): Promise<Received[]> {
  const ws = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${client.token}` } });
  const received: Received[] = [];
  return new Promise<Received[]>((resolve, reject) => {
    ws.subscribe<Received>({ query: PROGRESS, variables: { id: encodeGlobalID('GcJob', jobId) } }, {
      next: ({ data, errors }) => {
        if (!data) return reject(new Error(JSON.stringify(errors)));
        received.push(data);
        started();
      },
      error: reject,
      complete: () => resolve(received),
    });
  }).finally(() => ws.dispose());
}

describe('a published event followed by many subscribers', () => {
  it('reaches each of them once, executed as each viewer sees it', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    const viewer = await app.user();
    await addMember(app.admin, namespace.id, viewer, 'VIEWER');
    const job = await app.db.gcJob.create({ data: { registryId: decodeGlobalID(registry.id).id, status: 'RUNNING', phase: 'MARKING' } });

    const subscribers = [...Array.from({ length: 10 }, () => app.admin), ...Array.from({ length: 10 }, () => viewer)];
    let startedCount = 0;
    const streams = subscribers.map((client) => follow(client, job.id, () => startedCount++));
    for (let i = 0; i < 200 && startedCount < subscribers.length; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    for (const [blobsMarked, status] of [[5, 'RUNNING'], [9, 'SUCCEEDED']] as const) {
      app.services.pubsub.publish('gcJob:progress', job.id, { ...job, status, blobsMarked, percent: blobsMarked * 10 });
    }
    const results = await Promise.all(streams);

    for (const [i, received] of results.entries()) {
      const role = i < 10 ? 'OWNER' : 'VIEWER';
      expect(received).toEqual([
        { gcJobProgress: { status: 'RUNNING', blobsMarked: 0, registry: { namespace: { viewerRole: role } } } },
        { gcJobProgress: { status: 'RUNNING', blobsMarked: 5, registry: { namespace: { viewerRole: role } } } },
        { gcJobProgress: { status: 'SUCCEEDED', blobsMarked: 9, registry: { namespace: { viewerRole: role } } } },
      ]);
    }
  });
});
