import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '../../src/registry/v2/client.js';
import { useTestApp } from '../support/app.js';
import { eventually } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { artifactBytes, blobStore, fileBytes, registryToken, startGc, waitForGcJob } from '../support/gc.js';
import { type TestArtifact, type TestBlob, type TestImage, buildImage, buildIndex, pushArtifact, sha256Digest, skopeoCopy } from '../support/oci-images.js';

const app = useTestApp();
const scratch = await mkdtemp(join(tmpdir(), 'berth-gc-reclaim-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

let client: RegistryClient;
let storageDir: string;
let registryId: string;
let slug: string;
let otherRegistryId: string;
/** What each repository should still serve after GC: tag → artifact. */
const tagged = new Map<string, Map<string, TestArtifact>>();

beforeAll(async () => {
  client = app.registry.client;
  storageDir = app.registry.embedded!.storageDir;
  const namespace = await createNamespace(app.admin);
  ({ id: registryId, slug } = await createRegistry(app.admin, namespace.id));
  const other = await createRegistry(app.admin, namespace.id);
  otherRegistryId = other.id;
  await push(`${other.slug}/other`, 'v1', buildImage());
});

async function push(repository: string, tag: string, artifact: TestArtifact): Promise<void> {
  await pushArtifact(client, repository, tag, artifact);
  if (!tagged.has(repository)) tagged.set(repository, new Map());
  tagged.get(repository)!.set(tag, artifact);
}

/** Deletes by digest, as the registry requires; the tags go with it. */
async function deleteImage(repository: string, tag: string): Promise<void> {
  const artifact = tagged.get(repository)!.get(tag)!;
  await client.deleteManifest(repository, artifact.digest);
  tagged.get(repository)!.delete(tag);
}

/** An image whose layers are `layers` (shared with another image) and whose config is its own. */
function imageOnLayers(layers: TestBlob[]): TestImage {
  const base = buildImage();
  const descriptor = ({ mediaType, digest, size }: TestBlob) => ({ mediaType, digest, size });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: base.mediaType, config: descriptor(base.config), layers: layers.map(descriptor) }));
  return { ...base, layers, manifest, digest: sha256Digest(manifest) };
}

/** Leaves `artifact` stored but untagged: pushed under a tag that then moves on to `anchor`. */
async function pushUntagged(repository: string, artifact: TestArtifact, anchor: TestImage): Promise<void> {
  await pushArtifact(client, repository, 'scratch', artifact);
  await client.putManifest(repository, 'scratch', anchor.mediaType, anchor.manifest);
}

/** Every image still tagged comes out of the registry completely: skopeo reads every manifest and blob. */
async function expectAllTaggedImagesCopyable(): Promise<void> {
  for (const [repository, tags] of tagged) {
    const token = await registryToken(app.registry.signer, [`repository:${repository}:pull`]);
    for (const [tag, artifact] of tags) {
      const out = join(scratch, `${repository.replaceAll('/', '_')}-${tag}-${Date.now()}`);
      await skopeoCopy(`docker://${new URL(app.registry.embedded!.url).host}/${repository}:${tag}`, `oci:${out}:${tag}`, { sourceToken: token, all: artifact.kind === 'index' });
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      expect(index.manifests.map((m) => m.digest)).toEqual([artifact.digest]);
    }
  }
}

async function expectAllPlatforms(repository: string, tag: string): Promise<void> {
  const index = tagged.get(repository)!.get(tag)!;
  if (index.kind !== 'index') throw new Error('not an index');
  const fetched = await client.getManifest(repository, tag);
  expect(fetched.manifest.kind === 'index' && fetched.manifest.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
  for (const child of index.children) expect((await client.headManifest(repository, child.digest))?.digest).toBe(child.digest);
}

describe('garbage collection reclaims exactly what no manifest references', () => {
  it('runs garbage-collect on the embedded registry’s own config and storage', async () => {
    const embedded = app.registry.embedded!;
    expect(embedded.binary).toBe('docker-registry');
    expect(await readFile(embedded.configFile, 'utf8')).toContain(`rootdirectory: ${JSON.stringify(embedded.storageDir)}`);
    expect(embedded.storageDir).toBe(join(app.dataDir, 'registry'));
  });

  it('frees in a real run exactly what the dry run reported, measured on disk, and breaks no tagged image', async () => {
    const app1 = `${slug}/app`;
    await push(app1, 'v1', buildImage({ layerCount: 2, layerBytes: 4096 }));
    await push(app1, 'multi', buildIndex(PLATFORMS, { layerBytes: 2048 }));
    await push(app1, 'old', buildImage({ layerBytes: 8192 }));
    const shared = buildImage({ layerBytes: 4096 });
    await push(`${slug}/shared`, 'keep', shared);
    await push(`${slug}/shared`, 'drop', imageOnLayers(shared.layers));
    await push(`${slug}/gone`, 'v1', buildImage({ layerBytes: 1024 }));

    const old = tagged.get(app1)!.get('old')!;
    const drop = tagged.get(`${slug}/shared`)!.get('drop') as TestImage;
    const gone = tagged.get(`${slug}/gone`)!.get('v1')!;
    // The old image and the emptied repository's image go whole; of `drop` only what `keep` does not share.
    const expectedBytes = artifactBytes(old) + artifactBytes(gone) + drop.manifest.length + drop.config.size;
    await deleteImage(app1, 'old');
    await deleteImage(`${slug}/shared`, 'drop');
    await deleteImage(`${slug}/gone`, 'v1');

    const goneDir = join(storageDir, 'docker', 'registry', 'v2', 'repositories', slug, 'gone');
    const goneBytes = await fileBytes(goneDir);
    const before = await fileBytes(storageDir);

    const dry = await waitForGcJob(app.admin, (await startGc(app.admin, registryId, { dryRun: true })).id);
    expect(dry).toMatchObject({ status: 'SUCCEEDED', dryRun: true, bytesFreed: expectedBytes, blobsDeleted: 8, error: null, percent: 100 });
    expect(dry.blobsMarked + dry.blobsDeleted).toBe(dry.blobsTotal);
    expect(await fileBytes(storageDir)).toBe(before);

    const real = await waitForGcJob(app.admin, (await startGc(app.admin, registryId)).id);
    expect(real).toMatchObject({ status: 'SUCCEEDED', dryRun: false, phase: 'RESTORING', bytesFreed: dry.bytesFreed, blobsDeleted: dry.blobsDeleted, percent: 100 });
    expect(real.blobsMarked).toBe(dry.blobsMarked);
    // The file system, not berth, says what went: the blobs, plus the links of the pruned repository.
    expect(before - (await fileBytes(storageDir))).toBe(real.bytesFreed + goneBytes);
    expect(goneBytes).toBeGreaterThan(0);

    const catalog: string[] = [];
    for await (const name of client.catalog()) catalog.push(name);
    expect(catalog).not.toContain(`${slug}/gone`);
    expect(catalog).toContain(`${slug}/shared`);

    await expectAllTaggedImagesCopyable();
    await expectAllPlatforms(app1, 'multi');
    const states = await app.db.registry.findMany({ select: { state: true } });
    expect(states.every((r) => r.state === 'ACTIVE')).toBe(true);

    // Nothing is left to collect: a second run frees nothing.
    const again = await waitForGcJob(app.admin, (await startGc(app.admin, otherRegistryId)).id);
    expect(again).toMatchObject({ status: 'SUCCEEDED', bytesFreed: 0, blobsDeleted: 0 });
  });

  it('deleteUntagged removes untagged manifests, never the platforms of a tagged index', async () => {
    const repository = `${slug}/untagged`;
    const anchor = buildImage();
    await push(repository, 'anchor', anchor);
    await push(repository, 'multi', buildIndex(PLATFORMS));
    await push(repository, 'latest', buildImage());
    const superseded = tagged.get(repository)!.get('latest')!;
    // Pushing another image under `latest` leaves the first one untagged.
    await push(repository, 'latest', buildImage());
    const orphan = buildImage();
    await pushUntagged(repository, orphan, anchor);
    const orphanIndex = buildIndex(PLATFORMS);
    await pushUntagged(repository, orphanIndex, anchor);
    const expectedBytes = artifactBytes(superseded) + artifactBytes(orphan) + artifactBytes(orphanIndex);

    const supersededRevision = { repository: { path: repository }, digest: superseded.digest };
    await eventually(async () => (await app.db.contentRevision.count({ where: supersededRevision })) === 1);
    const blobsBefore = await fileBytes(blobStore(storageDir));
    const dry = await waitForGcJob(app.admin, (await startGc(app.admin, registryId, { dryRun: true, deleteUntagged: true })).id);
    // superseded, orphan, the orphan index and its two children
    expect(dry).toMatchObject({ status: 'SUCCEEDED', manifestsDeleted: 5, bytesFreed: expectedBytes });
    expect(await fileBytes(blobStore(storageDir))).toBe(blobsBefore);
    expect((await client.headManifest(repository, orphan.digest))?.digest).toBe(orphan.digest);

    const real = await waitForGcJob(app.admin, (await startGc(app.admin, registryId, { deleteUntagged: true })).id);
    expect(real).toMatchObject({ status: 'SUCCEEDED', manifestsDeleted: 5, bytesFreed: dry.bytesFreed, blobsDeleted: dry.blobsDeleted, blobsMarked: dry.blobsMarked });
    expect(blobsBefore - (await fileBytes(blobStore(storageDir)))).toBe(real.bytesFreed);
    for (const digest of [superseded.digest, orphan.digest, orphanIndex.digest]) expect(await client.headManifest(repository, digest)).toBeNull();
    expect(await app.db.contentRevision.count({ where: supersededRevision })).toBe(0);

    await expectAllPlatforms(repository, 'multi');
    await expectAllTaggedImagesCopyable();
  });
});
