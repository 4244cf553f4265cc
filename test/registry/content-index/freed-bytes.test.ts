import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../../support/app.js';
import { recordedPush } from '../../support/content.js';
import { createNamespace, createRegistry } from '../../support/fixtures.js';
import { blobStore, fileBytes, startGc, waitForGcJob } from '../../support/gc.js';
import { buildImage, buildIndex, pushArtifact, type TestImage } from '../../support/oci-images.js';

// What the index says deleting something would free, checked against what a real garbage
// collection then frees, by its own count and on disk.
const app = useTestApp();

let owner: Client;
let registry: { id: string; slug: string };
let other: { id: string; slug: string };

// `base` layers are shared: `x` and `y` in one repository, `z` in another, and another tenant's `w`.
const base = buildImage({ layerBytes: 3000 });
const x = buildImage({ baseLayers: base.layers, layerBytes: 5000 });
const y = buildImage({ baseLayers: base.layers, layerBytes: 7000 });
const z = buildImage({ baseLayers: x.layers.slice(1), layerBytes: 1100 });
const w = buildImage({ baseLayers: y.layers.slice(1), layerBytes: 900 });
const multi = buildIndex([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
]);

beforeAll(async () => {
  owner = await app.user('owner');
  const namespace = await createNamespace(owner);
  registry = await createRegistry(owner, namespace.id);
  const stranger = await app.user('stranger');
  other = await createRegistry(stranger, (await createNamespace(stranger)).id);
  const { client } = app.registry;
  const pushes: [string, string, Parameters<typeof pushArtifact>[3]][] = [
    [`${registry.slug}/a`, 'x', x],
    [`${registry.slug}/a`, 'x-alias', x],
    [`${registry.slug}/a`, 'y', y],
    [`${registry.slug}/b`, 'z', z],
    [`${registry.slug}/c`, 'multi', multi],
    [`${other.slug}/w`, 'w', w],
  ];
  for (const [repository, tag, artifact] of pushes) {
    await pushArtifact(client, repository, tag, artifact);
    await recordedPush(app.db, repository, tag);
  }
});

const EXCLUSIVE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Registry {
        reclaimableBytes
        a: repository(name: "a") { exclusiveBytes x: tag(name: "x") { exclusiveBytes } y: tag(name: "y") { exclusiveBytes image { exclusiveBytes } } }
        b: repository(name: "b") { exclusiveBytes }
        c: repository(name: "c") { exclusiveBytes }
      }
    }
  }
`;

async function exclusive() {
  const { data, errors } = await owner.execute(EXCLUSIVE, { id: registry.id });
  expect(errors).toBeUndefined();
  return data.node;
}

/** Runs a real GC and returns what it says it freed and what the disk lost. */
async function collect(): Promise<{ bytesFreed: number; shrink: number }> {
  const blobs = blobStore(app.registry.embedded!.storageDir);
  const before = await fileBytes(blobs);
  const job = await waitForGcJob(owner, (await startGc(owner, registry.id)).id);
  expect(job.status).toBe('SUCCEEDED');
  return { bytesFreed: job.bytesFreed, shrink: before - (await fileBytes(blobs)) };
}

const size = (image: TestImage, layers: number[]) => image.manifest.length + image.config.size + layers.reduce((total, i) => total + image.layers[i]!.size, 0);

const DELETE_TAGS = `mutation ($input: DeleteTagsInput!) { deleteTags(input: $input) { __typename } }`;
const DELETE_REPOSITORY = `mutation ($input: DeleteRepositoryInput!) { deleteRepository(input: $input) { __typename } }`;
const repositoryId = (name: string) => Buffer.from(`Repository:${Buffer.from(registry.id, 'base64').toString().split(':')[1]}/${name}`).toString('base64');

describe('exclusiveBytes and reclaimableBytes', () => {
  it('count only what no other manifest anywhere on the backend references', async () => {
    const node = await exclusive();
    expect(node.reclaimableBytes).toBe(0);
    // x keeps another tag: deleting tag x frees nothing.
    expect(node.a.x.exclusiveBytes).toBe(0);
    // y's manifest and config only: its base layer is x's too, its own layer another tenant's w's.
    expect(node.a.y.exclusiveBytes).toBe(size(y, []));
    expect(node.a.y.image.exclusiveBytes).toBe(size(y, []));
    // z's own layer counts; the other is x's.
    expect(node.b.exclusiveBytes).toBe(size(z, [1]));
    // Repository a: x's and y's manifests and configs, and the base layer they share only with each other.
    expect(node.a.exclusiveBytes).toBe(size(x, []) + size(y, []) + base.layers[0]!.size);
  });

  it('is what deleting the tag and a garbage collection then free, by GC’s count and on disk', async () => {
    const before = await exclusive();
    expect((await owner.execute(DELETE_TAGS, { input: { repositoryId: repositoryId('a'), names: ['y'] } })).data.deleteTags.__typename).toBe('DeleteTagsPayload');
    expect((await exclusive()).reclaimableBytes).toBe(before.a.y.exclusiveBytes);
    const freed = await collect();
    expect(freed).toEqual({ bytesFreed: before.a.y.exclusiveBytes, shrink: before.a.y.exclusiveBytes });
    expect((await exclusive()).reclaimableBytes).toBe(0);
  });

  it('is what deleting a repository, index children included, and a garbage collection then free', async () => {
    for (const name of ['b', 'c']) {
      const expected = (await exclusive())[name].exclusiveBytes;
      expect(expected).toBeGreaterThan(0);
      expect((await owner.execute(DELETE_REPOSITORY, { input: { id: repositoryId(name) } })).data.deleteRepository.__typename).toBe('DeleteRepositoryPayload');
      expect((await exclusive()).reclaimableBytes).toBe(expected);
      expect(await collect()).toEqual({ bytesFreed: expected, shrink: expected });
    }
  });
});
