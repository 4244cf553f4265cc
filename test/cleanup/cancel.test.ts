import { decodeGlobalID } from '@pothos/plugin-relay';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { CLEANUP_JOB, followCleanup, runCleanup, setPolicy } from '../support/cleanup.js';
import { eventually, recordedPush } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';

// A GC window closed a moment ago, so the next one is an hour away: a cleanup's GC waits for it.
const app = useTestApp({ BERTH_GC_MIN_INTERVAL: '1h' });

const CANCEL = /* GraphQL */ `
  mutation ($input: CancelCleanupInput!) {
    cancelCleanup(input: $input) { __typename ... on CancelCleanupPayload { job { id status } } ... on Error { message } }
  }
`;

describe('a cleanup waiting for its garbage collection', () => {
  it('joins the next window, and a cancel ends it and the collection it asked for', { timeout: 60_000 }, async () => {
    await app.db.gcRun.create({ data: { status: 'SUCCEEDED', windowOpenedAt: new Date(), windowClosedAt: new Date() } });
    const registry = await createRegistry(app.admin, (await createNamespace(app.admin)).id);
    const path = `${registry.slug}/app`;
    await pushArtifact(app.registry.client, path, 'ci-1', buildImage());
    await pushArtifact(app.registry.client, path, 'v1', buildImage());
    await recordedPush(app.db, path, 'ci-1');
    await recordedPush(app.db, path, 'v1');
    await setPolicy(app.admin, { registryId: registry.id, rules: [{ tagRegex: 'ci-.*' }] });

    const queued = await runCleanup(app.admin, registry.id);
    const events = followCleanup(app.url, app.admin.token!, queued.id);
    const waiting = await eventually(async () => {
      const job = await app.db.cleanupJob.findUniqueOrThrow({ where: { id: decodeGlobalID(queued.id).id }, include: { gcJob: { include: { run: true } } } });
      return job.phase === 'GC_QUEUED' && job.gcJob ? job : null;
    });
    expect(waiting.gcJob).toMatchObject({ status: 'QUEUED', deleteUntagged: false });
    expect(waiting.gcJob!.run!.notBefore!.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(await app.registry.client.listTags(path)).toEqual(['v1']);

    const { data } = await app.admin.execute(CANCEL, { input: { id: queued.id } });
    expect(data.cancelCleanup.__typename).toBe('CancelCleanupPayload');
    const seen = await events;
    expect(seen.at(-1)).toMatchObject({ status: 'CANCELLED', error: 'cancelled while running', tagsDeleted: 1, bytesFreed: 0, percent: 100 });
    expect(seen.map((event) => event.phase)).toContain('GC_QUEUED');
    expect(await app.db.gcJob.findUniqueOrThrow({ where: { id: waiting.gcJob!.id } })).toMatchObject({ status: 'CANCELLED' });

    const recorded = (await app.admin.execute(CLEANUP_JOB, { id: queued.id })).data.node;
    expect(recorded.deletions.nodes).toMatchObject([{ tag: 'ci-1', deleted: true }]);
    const again = await app.admin.execute(CANCEL, { input: { id: queued.id } });
    expect(again.data.cancelCleanup).toMatchObject({ __typename: 'ConflictError', message: 'the cleanup job has already ended (CANCELLED)' });
  });
});
