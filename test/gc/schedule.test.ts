import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { artifactBytes, GC_JOB_FIELDS, START_GC, startGc, waitForGcJob } from '../support/gc.js';
import { buildImage, pushArtifact, type TestImage } from '../support/oci-images.js';

// An hour between windows: nothing in this file waits for a slot to come by itself.
const app = useTestApp({ BERTH_GC_MIN_INTERVAL: '1h' });
const registries: { id: string; slug: string; deleted: TestImage }[] = [];
let maintainer: Client;

const JOB_WITH_RUN = /* GraphQL */ `
  query ($id: ID!) { node(id: $id) { ... on GcJob { ...GcJobFields scheduledAt run { id status jobCount scheduledAt bypassInterval windowOpenedAt windowClosedAt } } } }
  ${GC_JOB_FIELDS}
`;

beforeAll(async () => {
  maintainer = await app.user();
  const namespace = await createNamespace(app.admin);
  await addMember(app.admin, namespace.id, maintainer, 'MAINTAINER');
  for (let i = 0; i < 4; i++) {
    const registry = await createRegistry(app.admin, namespace.id);
    const deleted = buildImage({ layerBytes: 1024 });
    await pushArtifact(app.registry.client, `${registry.slug}/app`, 'v1', deleted);
    registries.push({ ...registry, deleted });
  }
});

async function jobWithRun(id: string) {
  return (await app.admin.execute(JOB_WITH_RUN, { id })).data.node;
}

describe('one window for many requests', () => {
  it('joins requests into the waiting run, holds it for the interval, never delays a dry run, and lets an admin bypass the interval', async () => {
    const [first, second, third, fourth] = registries as [(typeof registries)[number], (typeof registries)[number], (typeof registries)[number], (typeof registries)[number]];
    // No window yet: the first real run starts at once.
    const opening = await waitForGcJob(app.admin, (await startGc(maintainer, first.id)).id);
    expect(opening.status).toBe('SUCCEEDED');
    const closedAt = Date.parse((await jobWithRun(opening.id)).run.windowClosedAt);
    // Collected by the joined run below.
    for (const { slug, deleted } of [second, third, fourth]) await app.registry.client.deleteManifest(`${slug}/app`, deleted.digest);

    // Within the interval: both requests wait in one run, whose slot is an hour after that window.
    const a = await startGc(maintainer, second.id);
    const b = await startGc(maintainer, third.id, { deleteUntagged: true });
    const [waitingA, waitingB] = [await jobWithRun(a.id), await jobWithRun(b.id)];
    expect(waitingA.run.id).toBe(waitingB.run.id);
    expect(waitingA).toMatchObject({ status: 'QUEUED', run: { status: 'QUEUED', jobCount: 2, bypassInterval: false } });
    expect(Date.parse(waitingA.scheduledAt)).toBe(closedAt + 3_600_000);
    expect(waitingA.run.scheduledAt).toBe(waitingA.scheduledAt);
    // The registry already waits: a second request for it is refused with the waiting job.
    expect((await maintainer.execute(START_GC, { input: { registryId: second.id } })).data.startGarbageCollection).toMatchObject({
      __typename: 'GcAlreadyRunningError',
      job: { id: a.id },
    });

    // A dry run needs no window: it runs now, alone.
    const dry = await waitForGcJob(app.admin, (await startGc(maintainer, fourth.id, { dryRun: true })).id);
    expect(dry.status).toBe('SUCCEEDED');
    expect((await jobWithRun(dry.id)).run).toMatchObject({ jobCount: 1, scheduledAt: null, windowOpenedAt: null });
    expect((await jobWithRun(a.id)).status).toBe('QUEUED');

    // Only admins may bypass the interval.
    expect((await maintainer.execute(START_GC, { input: { registryId: fourth.id, bypassInterval: true } })).data.startGarbageCollection).toMatchObject({
      __typename: 'ForbiddenError',
      message: 'only admins may bypass the minimum interval between GC windows',
    });
    const c = await startGc(app.admin, fourth.id, { bypassInterval: true });
    const done = await Promise.all([a, b, c].map((job) => waitForGcJob(app.admin, job.id)));
    const runs = await Promise.all(done.map((job) => jobWithRun(job.id)));

    // One run, one window, one sweep served all three.
    expect(new Set(runs.map((job) => job.run.id)).size).toBe(1);
    expect(runs[0].run).toMatchObject({ status: 'SUCCEEDED', jobCount: 3, bypassInterval: true });
    expect(Date.parse(runs[0].run.windowOpenedAt)).toBeLessThan(Date.parse(runs[0].run.windowClosedAt));
    const freed = artifactBytes(second.deleted) + artifactBytes(third.deleted) + artifactBytes(fourth.deleted);
    for (const job of done) expect(job).toMatchObject({ status: 'SUCCEEDED', blobsDeleted: 9, bytesFreed: freed });
    expect(await app.db.gcRun.count({ where: { windowOpenedAt: { not: null } } })).toBe(2);
    expect((await app.db.registry.findMany({ select: { state: true } })).every((r) => r.state === 'ACTIVE')).toBe(true);

    // The next request waits an hour after this window.
    const later = await jobWithRun((await startGc(maintainer, first.id)).id);
    expect(Date.parse(later.scheduledAt)).toBe(Date.parse(runs[0].run.windowClosedAt) + 3_600_000);
  });
});
