import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '../../src/registry/v2/client.js';
import { RegistryError, RegistryReadOnlyError, RegistryUnavailableError } from '../../src/registry/v2/errors.js';
import { useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { blobStore, CANCEL_GC, fileBytes, GC_DELAY_ENV, registryToken, registryShim, startGc, waitForGcJob } from '../support/gc.js';
import { type TestImage, blobsOf, buildImage, pushArtifact, skopeoCopy } from '../support/oci-images.js';

// garbage-collect sleeps $BERTH_TEST_GC_DELAY_S first (see registryShim): the read-only window stays open that long.
const scratch = await mkdtemp(join(tmpdir(), 'berth-gc-window-'));
process.env['PATH'] = `${await registryShim(join(scratch, 'bin'))}:${process.env['PATH']}`;
afterAll(() => rm(scratch, { recursive: true, force: true }));

const app = useTestApp();
let client: RegistryClient;
let registryId: string;
let slug: string;
let otherRegistryId: string;

beforeAll(async () => {
  client = app.registry.client;
  const namespace = await createNamespace(app.admin);
  ({ id: registryId, slug } = await createRegistry(app.admin, namespace.id));
  otherRegistryId = (await createRegistry(app.admin, namespace.id)).id;
});

async function pushAndDelete(repository: string): Promise<TestImage> {
  const image = buildImage();
  await pushArtifact(client, repository, 'doomed', image);
  await client.deleteManifest(repository, image.digest);
  return image;
}

async function registryStates(): Promise<string[]> {
  return (await app.db.registry.findMany({ select: { state: true } })).map((r) => r.state);
}

/** A failure the client can act on: refused while read-only, unreachable while restarting, or told to re-push a swept blob. */
function isCleanFailure(error: unknown): boolean {
  if (error instanceof RegistryReadOnlyError || error instanceof RegistryUnavailableError) return true;
  return error instanceof RegistryError && ['MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN', 'BLOB_UPLOAD_UNKNOWN'].includes(error.code);
}

describe('the read-only window', () => {
  it('makes pushes during GC fail cleanly or land before the window, and no tagged image loses a blob', async () => {
    process.env[GC_DELAY_ENV] = '1';
    const repository = `${slug}/busy`;
    const doomed = await pushAndDelete(repository);
    const pushes: { tag: string; image: TestImage; error?: unknown; at: number }[] = [];
    let stop = false;
    const pusher = (async () => {
      for (let i = 0; !stop; i++) {
        const image = buildImage({ layerCount: 2 });
        const tag = `p${i}`;
        try {
          await pushArtifact(client, repository, tag, image);
          pushes.push({ tag, image, at: Date.now() });
        } catch (error) {
          pushes.push({ tag, image, error, at: Date.now() });
          await sleep(20);
        }
      }
    })();
    while (pushes.length < 3) await sleep(10);

    const job = await startGc(app.admin, registryId);
    await waitForGcJob(app.admin, job.id, (j) => j.phase === 'MARKING');
    expect(await app.services.maintenance.refusal()).toBe('registry in maintenance: garbage collection is running');
    expect(new Set(await registryStates())).toEqual(new Set(['READ_ONLY']));
    const done = await waitForGcJob(app.admin, job.id);
    const endedAt = Date.now();
    while (!pushes.some((p) => p.at > endedAt && !p.error)) await sleep(10);
    stop = true;
    await pusher;

    expect(done).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(done.bytesFreed).toBeGreaterThanOrEqual(blobsOf(doomed).reduce((sum, blob) => sum + blob.size, doomed.manifest.length));
    expect(await app.services.maintenance.refusal()).toBeNull();
    expect(new Set(await registryStates())).toEqual(new Set(['ACTIVE']));

    const failed = pushes.filter((p) => p.error);
    expect(failed.length).toBeGreaterThan(0);
    for (const { error } of failed) expect(isCleanFailure(error), String(error)).toBe(true);
    // Exactly the pushes that succeeded are tagged, and each of them is stored whole.
    const succeeded = pushes.filter((p) => !p.error);
    expect(new Set(await client.listTags(repository))).toEqual(new Set(succeeded.map((p) => p.tag)));
    for (const { tag, image } of succeeded) {
      expect((await client.headManifest(repository, tag))?.digest).toBe(image.digest);
      for (const blob of blobsOf(image)) expect(await client.headBlob(repository, blob.digest)).toBe(blob.size);
    }
    const token = await registryToken(app.registry.signer, [`repository:${repository}:pull`]);
    const host = new URL(app.registry.embedded!.url).host;
    for (const { tag } of [succeeded[0]!, succeeded.at(-1)!]) {
      await skopeoCopy(`docker://${host}/${repository}:${tag}`, `oci:${join(scratch, tag)}:${tag}`, { sourceToken: token });
    }
    // A refused push goes through once the window has closed.
    const retry = failed[0]!;
    await pushArtifact(client, repository, retry.tag, retry.image);
    expect((await client.headManifest(repository, retry.tag))?.digest).toBe(retry.image.digest);
  });

  it('cancels a running job at its next safe point: garbage-collect is killed and the registry restored, nothing deleted', async () => {
    process.env[GC_DELAY_ENV] = '30';
    await pushAndDelete(`${slug}/cancelled`);
    const blobsBefore = await fileBytes(blobStore(app.registry.embedded!.storageDir));
    const job = await startGc(app.admin, registryId);
    await waitForGcJob(app.admin, job.id, (j) => j.phase === 'MARKING');
    expect(app.registry.embedded!.writesRefused).toBe(true);

    const cancelledAt = Date.now();
    const { data } = await app.admin.execute(CANCEL_GC, { input: { id: job.id } });
    expect(data.cancelGarbageCollection).toMatchObject({ __typename: 'CancelGarbageCollectionPayload', job: { id: job.id, status: 'RUNNING' } });
    const done = await waitForGcJob(app.admin, job.id);
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    expect(done).toMatchObject({ status: 'CANCELLED', phase: 'RESTORING', error: 'cancelled while running', bytesFreed: 0, blobsDeleted: 0, percent: 100 });
    expect(await fileBytes(blobStore(app.registry.embedded!.storageDir))).toBe(blobsBefore);
    expect(app.registry.embedded!.writesRefused).toBe(false);
    expect(await app.services.maintenance.refusal()).toBeNull();
    expect(new Set(await registryStates())).toEqual(new Set(['ACTIVE']));
    await pushArtifact(client, `${slug}/cancelled`, 'after', buildImage());

    const again = await startGc(app.admin, registryId);
    expect(again.status).toBe('QUEUED');
    process.env[GC_DELAY_ENV] = '';
    expect((await waitForGcJob(app.admin, again.id)).status).toBe('SUCCEEDED');
  });

  it('runs one job at a time: another registry’s job waits, and a waiting job cancels at once', async () => {
    process.env[GC_DELAY_ENV] = '0.5';
    const first = await startGc(app.admin, registryId, { dryRun: true });
    const waiting = await startGc(app.admin, otherRegistryId, { dryRun: true });
    expect(waiting.status).toBe('QUEUED');
    const { data } = await app.admin.execute(CANCEL_GC, { input: { id: waiting.id } });
    expect(data.cancelGarbageCollection.job).toMatchObject({ status: 'CANCELLED', startedAt: null, percent: 100 });

    const next = await startGc(app.admin, otherRegistryId, { dryRun: true });
    expect(next.status).toBe('QUEUED');
    const [firstDone, nextDone] = [await waitForGcJob(app.admin, first.id), await waitForGcJob(app.admin, next.id)];
    expect([firstDone.status, nextDone.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(Date.parse(nextDone.startedAt)).toBeGreaterThanOrEqual(Date.parse(firstDone.finishedAt));
    expect((await waitForGcJob(app.admin, waiting.id)).startedAt).toBeNull();
  });
});
