import { hostname } from 'node:os';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type Data, useTestApp } from '../support/app.js';
import { RUN_CLEANUP, setPolicy, waitForCleanupJob } from '../support/cleanup.js';
import { recordedPush } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';
import { useSecondInstance } from '../support/instances.js';

// Two berth instances on one database, one registry and one Redis: A runs the embedded registry
// (and so every GC); B reaches it through BERTH_REGISTRY_URL.
const REDIS_URL = process.env['BERTH_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const DAY = 86_400_000;
const a = useTestApp({ REDIS_URL }, {}, { captureLogs: true });
const bLogs: string[] = [];
const second = useSecondInstance(a, REDIS_URL, pino({ level: 'debug' }, { write: (line: string) => void bLogs.push(line) }));

const ownerA = () => `${hostname()}:${a.dataDir}`;
const ownerB = () => `${hostname()}:${second.dataDir}`;

/** A registry whose repository `app` holds `old-1` (pushed 60 days ago) and `fresh`. */
async function registryWithOldTag(): Promise<{ id: string; dbId: string; slug: string }> {
  const registry = await createRegistry(a.admin, (await createNamespace(a.admin)).id);
  const path = `${registry.slug}/app`;
  await pushArtifact(a.registry.client, path, 'old-1', buildImage({ layerBytes: 2048 }));
  await pushArtifact(a.registry.client, path, 'fresh', buildImage({ layerBytes: 2048 }));
  await recordedPush(a.db, path, 'old-1');
  await recordedPush(a.db, path, 'fresh');
  await a.db.contentTag.updateMany({ where: { repository: { path }, name: 'old-1' }, data: { pushedAt: new Date(Date.now() - 60 * DAY) } });
  return { ...registry, dbId: decodeGlobalID(registry.id).id };
}

const RULES = [{ tagRegex: 'old-.*', olderThanDays: 30 }];

describe('cleanup with two instances', () => {
  it('runs a scheduled policy once, however many instances look when it is due', { timeout: 90_000 }, async () => {
    const registry = await registryWithOldTag();
    const policy = await setPolicy(a.admin, { registryId: registry.id, rules: RULES, schedule: '0 3 * * *' });
    const next3am = new Date(policy.nextRunAt);
    expect([next3am.getUTCHours(), next3am.getUTCMinutes()]).toEqual([3, 0]);

    // 03:00 has come: both instances look at once, three times each.
    await a.db.cleanupPolicy.update({ where: { registryId: registry.dbId }, data: { nextRunAt: new Date(Date.now() - 1_000) } });
    const looks = Array.from({ length: 3 }, () => [a.services.cleanupScheduler.runDue(), second.berth.services.cleanupScheduler.runDue()]).flat();
    const startedHere = (await Promise.all(looks)).flat();
    expect(startedHere.length).toBeLessThanOrEqual(1);

    // Exactly one instance claimed the occurrence: no other even tried to start a run for it.
    expect([...a.logs, ...bLogs].filter((line) => line.includes('scheduled cleanup skipped'))).toEqual([]);
    const jobs = await a.db.cleanupJob.findMany({ where: { registryId: registry.dbId } });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ trigger: 'SCHEDULE' });
    const done = await waitForCleanupJob(a.admin, encodeGlobalID('CleanupJob', jobs[0]!.id));
    expect(done).toMatchObject({ status: 'SUCCEEDED', tagsDeleted: 1 });
    const ran = await a.db.cleanupJob.findUniqueOrThrow({ where: { id: jobs[0]!.id } });
    expect([ownerA(), ownerB()]).toContain(ran.leaseOwner);
    expect(await a.registry.client.listTags(`${registry.slug}/app`)).toEqual(['fresh']);

    // The policy moved on to the next 03:00; looking again starts nothing.
    const moved = await a.db.cleanupPolicy.findUniqueOrThrow({ where: { registryId: registry.dbId } });
    expect(moved.nextRunAt!.getTime()).toBeGreaterThan(Date.now());
    expect(moved.nextRunAt!.getUTCHours()).toBe(3);
    expect((await Promise.all([a.services.cleanupScheduler.runDue(), second.berth.services.cleanupScheduler.runDue()])).flat()).toEqual([]);
    expect(await a.db.cleanupJob.count({ where: { registryId: registry.dbId } })).toBe(1);
  });

  it('runs a cleanup requested through B on B, and its garbage collection on A', { timeout: 90_000 }, async () => {
    const registry = await registryWithOldTag();
    await setPolicy(a.admin, { registryId: registry.id, rules: RULES });
    const response = await second.berth.server.yoga.fetch('http://berth.b/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.admin.token}` },
      body: JSON.stringify({ query: RUN_CLEANUP, variables: { input: { registryId: registry.id } } }),
    });
    const { data } = (await response.json()) as { data: Data };
    expect(data.runCleanup.__typename).toBe('RunCleanupPayload');
    const done = await waitForCleanupJob(a.admin, data.runCleanup.job.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', tagsDeleted: 1, gcJob: { status: 'SUCCEEDED' } });
    expect(done.bytesFreed).toBe(done.expectedBytesFreed);
    expect(done.bytesFreed).toBeGreaterThan(2048);

    const job = await a.db.cleanupJob.findUniqueOrThrow({ where: { id: decodeGlobalID(done.id).id }, include: { gcJob: { include: { run: true } } } });
    expect(job.leaseOwner).toBe(ownerB());
    expect(job.gcJob?.run?.leaseOwner).toBe(ownerA());
  });
});
