import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { GC_FAIL_ENV, registryShim, startGc, waitForGcJob } from '../support/gc.js';
import { randomBytes } from 'node:crypto';
import { parseScopes } from '../../src/registry/v2/scope.js';
import { buildImage, type TestImage, pushArtifact } from '../support/oci-images.js';
import { slowRequest } from '../support/slow-request.js';

const scratch = await mkdtemp(join(tmpdir(), 'berth-gc-failures-'));
process.env['PATH'] = `${await registryShim(join(scratch, 'bin'))}:${process.env['PATH']}`;
afterAll(() => rm(scratch, { recursive: true, force: true }));

const app = useTestApp({ BERTH_GC_DRAIN_TIMEOUT: '1s' });
let namespaceId: string;
let registryId: string;
let slug: string;

beforeAll(async () => {
  ({ id: namespaceId } = await createNamespace(app.admin));
  ({ id: registryId, slug } = await createRegistry(app.admin, namespaceId));
  await createRegistry(app.admin, namespaceId);
});

afterEach(() => {
  delete process.env[GC_FAIL_ENV];
});

/** Every hosted registry ACTIVE, pushes granted by the token endpoint, and the registry takes them. */
async function expectWritable(repository: string): Promise<void> {
  expect((await app.db.registry.findMany({ select: { state: true } })).map((r) => r.state)).toEqual(['ACTIVE', 'ACTIVE']);
  expect(await app.services.maintenance.refusal()).toBeNull();
  expect(app.registry.embedded!.writesRefused).toBe(false);
  const image = buildImage();
  await pushArtifact(app.registry.client, repository, 'after', image);
  expect((await app.registry.client.headManifest(repository, 'after'))?.digest).toBe(image.digest);
}

describe('a GC run that fails', () => {
  it('ends FAILED with garbage-collect’s reason when it exits non-zero, and the backend is writable again', async () => {
    process.env[GC_FAIL_ENV] = '1';
    const job = await waitForGcJob(app.admin, (await startGc(app.admin, registryId)).id);
    expect(job).toMatchObject({ status: 'FAILED', phase: 'RESTORING', percent: 100, blobsDeleted: 0 });
    expect(job.error).toBe('garbage-collect exited with code 3: failed to mark: storage on fire');
    await expectWritable(`${slug}/after-gc-failure`);
  });

  it('ends FAILED when a push under way outlasts the drain timeout; nothing is collected, and the push still lands', async () => {
    const { embedded, signer } = app.registry;
    const { token } = await signer.sign('test', parseScopes([`repository:${slug}/stuck:push,pull`]));
    const upload = await fetch(`${embedded!.url}/v2/${slug}/stuck/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const patch = slowRequest(new URL(upload.headers.get('location')!, embedded!.url), 'PATCH', token, randomBytes(4096));
    await patch.started;

    const job = await waitForGcJob(app.admin, (await startGc(app.admin, registryId)).id);
    expect(job).toMatchObject({ status: 'FAILED', phase: 'RESTORING', percent: 100, blobsDeleted: 0, bytesFreed: 0 });
    expect(job.error).toBe('pushes or deletes were still running when the drain timeout ended; nothing was collected, try again');
    patch.finish();
    expect(await patch.status).toBe(202);
    await expectWritable(`${slug}/after-drain-timeout`);
  });

});

describe('deleteUntagged', () => {
  it('on registry aa leaves the untagged manifests of registry aa2 alone', async () => {
    const aa = await createRegistry(app.admin, namespaceId, { slug: 'aa' });
    await createRegistry(app.admin, namespaceId, { slug: 'aa2' });
    const untagged = async (repository: string): Promise<TestImage> => {
      const image = buildImage();
      await pushArtifact(app.registry.client, repository, 'moving', image);
      await pushArtifact(app.registry.client, repository, 'moving', buildImage());
      return image;
    };
    const inAa = await untagged('aa/app');
    const inAa2 = await untagged('aa2/app');

    const job = await waitForGcJob(app.admin, (await startGc(app.admin, aa.id, { deleteUntagged: true })).id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', manifestsDeleted: 1 });
    expect(await app.registry.client.headManifest('aa/app', inAa.digest)).toBeNull();
    expect((await app.registry.client.headManifest('aa2/app', inAa2.digest))?.digest).toBe(inAa2.digest);
  });
});
