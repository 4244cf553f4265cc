import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_MEDIA_TYPES } from '../../src/registry/v2/manifest.js';
import { useTestApp } from '../support/app.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { GC_DELAY_ENV, registryShim, startGc, waitForGcJob } from '../support/gc.js';
import { blobsOf, buildImage, pushArtifact, sha256Digest, skopeoCopy, type TestImage, writeOciLayout } from '../support/oci-images.js';

// garbage-collect waits a little inside its window (see registryShim), so that many pulls and a push fall in it.
const scratch = await mkdtemp(join(tmpdir(), 'berth-gc-pulls-'));
process.env['PATH'] = `${await registryShim(join(scratch, 'bin'))}:${process.env['PATH']}`;
afterAll(() => rm(scratch, { recursive: true, force: true }));

const app = useTestApp();
let slug: string;
let registryId: string;
let host: string;
let creds: string;
const tagged = new Map<string, TestImage>();

beforeAll(async () => {
  const namespace = await createNamespace(app.admin);
  ({ id: registryId, slug } = await createRegistry(app.admin, namespace.id));
  host = new URL(app.registry.embedded!.url).host;
  creds = `admin:${app.admin.token}`;
  for (let i = 0; i < 3; i++) {
    const image = buildImage({ layerCount: 2, layerBytes: 256 * 1024 });
    await pushArtifact(app.registry.client, `${slug}/pulled`, `v${i}`, image);
    tagged.set(`v${i}`, image);
  }
  // Untagged manifests for deleteUntagged, and a deleted image for the sweep.
  for (let i = 0; i < 3; i++) await pushArtifact(app.registry.client, `${slug}/pulled`, 'moving', buildImage());
  const deleted = buildImage();
  await pushArtifact(app.registry.client, `${slug}/gone`, 'v1', deleted);
  await app.registry.client.deleteManifest(`${slug}/gone`, deleted.digest);
});

/** A pull token from berth's token endpoint, as a docker client gets one. */
async function pullToken(repository: string): Promise<string> {
  const scope = encodeURIComponent(`repository:${repository}:pull`);
  const response = await fetch(`${app.url}/auth/token?service=berth-registry&scope=${scope}`, {
    headers: { authorization: `Basic ${Buffer.from(creds).toString('base64')}` },
  });
  return ((await response.json()) as { token: string }).token;
}

/** A whole pull through the V2 API: the manifest by tag, then every blob, each checked against its digest. */
async function pullOverV2(token: string, tag: string, image: TestImage): Promise<void> {
  const base = `${app.registry.embedded!.url}/v2/${slug}/pulled`;
  const headers = { authorization: `Bearer ${token}` };
  const manifest = await fetch(`${base}/manifests/${tag}`, { headers: { ...headers, accept: MANIFEST_MEDIA_TYPES.join(', ') } });
  const bytes = Buffer.from(await manifest.arrayBuffer());
  if (manifest.status !== 200 || sha256Digest(bytes) !== image.digest) throw new Error(`manifest ${tag}: ${manifest.status}`);
  for (const blob of blobsOf(image)) {
    const response = await fetch(`${base}/blobs/${blob.digest}`, { headers });
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status !== 200 || sha256Digest(body) !== blob.digest) throw new Error(`blob ${blob.digest}: ${response.status}`);
  }
}

describe('pulls during a real GC with deleteUntagged', () => {
  it('never fail; pushes inside the window are refused with the reason; no tagged image loses a blob', { timeout: 90_000 }, async () => {
    process.env[GC_DELAY_ENV] = '1.5';
    const token = await pullToken(`${slug}/pulled`);
    const pulls: { at: number; error?: unknown }[] = [];
    let stop = false;
    const v2Loop = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const tag = `v${i % 3}`;
        try {
          await pullOverV2(token, tag, tagged.get(tag)!);
          pulls.push({ at: Date.now() });
        } catch (error) {
          pulls.push({ at: Date.now(), error });
        }
      }
    };
    const skopeoLoop = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          await skopeoCopy(`docker://${host}/${slug}/pulled:v${i % 3}`, `oci:${join(scratch, `loop-${i}`)}:v`, { sourceCreds: creds });
          pulls.push({ at: Date.now() });
        } catch (error) {
          pulls.push({ at: Date.now(), error });
        }
      }
    };
    const loops = [v2Loop(), v2Loop(), skopeoLoop()];

    // A push started before the window, with a layer big enough to be in flight when it opens.
    const early = buildImage({ layerBytes: 8 * 1024 * 1024 });
    const earlyLayout = await writeOciLayout(join(scratch, 'early'), 'early', early);
    const earlyPush = skopeoCopy(earlyLayout.reference, `docker://${host}/${slug}/pulled:early`, { destinationCreds: creds }).then(
      () => null,
      (error: unknown) => error,
    );
    const job = await startGc(app.admin, registryId, { deleteUntagged: true });
    await waitForGcJob(app.admin, job.id, (j) => j.phase === 'MARKING');
    const inside = await writeOciLayout(join(scratch, 'inside'), 'inside', buildImage());
    await expect(skopeoCopy(inside.reference, `docker://${host}/${slug}/pulled:inside`, { destinationCreds: creds })).rejects.toThrow(
      /registry in maintenance: garbage collection is running/,
    );
    const done = await waitForGcJob(app.admin, job.id);
    const earlyError = await earlyPush;
    // Some pulls after the window closed too.
    const after = pulls.length;
    while (pulls.length < after + 6) await new Promise((resolve) => setTimeout(resolve, 20));
    stop = true;
    await Promise.all(loops);

    expect(done).toMatchObject({ status: 'SUCCEEDED', manifestsDeleted: 2 });
    const run = await app.db.gcRun.findFirstOrThrow({ where: { jobs: { some: {} } }, orderBy: { createdAt: 'desc' } });
    const during = pulls.filter(({ at }) => at >= run.windowOpenedAt!.getTime() && at <= run.windowClosedAt!.getTime());
    expect(during.length).toBeGreaterThan(3);
    expect(pulls.filter(({ error }) => error)).toEqual([]);

    // The early push either made it, or failed with a reason a client can act on.
    const tags = [...tagged.keys(), 'moving'];
    if (earlyError) expect(String(earlyError)).toMatch(/registry in maintenance|405|Method not allowed|blob unknown/i);
    else tags.push('early');

    // Every tagged image, the early push too if it landed, pulls completely.
    for (const tag of tags) {
      await skopeoCopy(`docker://${host}/${slug}/pulled:${tag}`, `oci:${join(scratch, `after-${tag}`)}:${tag}`, { sourceCreds: creds });
    }
    expect(await app.registry.client.headManifest(`${slug}/pulled`, 'inside')).toBeNull();
  });
});
