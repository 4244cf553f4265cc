import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/registry/v2/manifest.js';
import { type Client, useTestApp } from '../support/app.js';
import { eventually, recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, buildIndex, pushArtifact, skopeoCopy, writeOciLayout } from '../support/oci-images.js';

const app = useTestApp();
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-image-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

let owner: Client;
let viewer: Client;
let outsider: Client;
let registry: { id: string; slug: string };
let repository: string;
let pushWindow: { from: number; to: number };

const image = buildImage({ layerCount: 2, created: '2026-01-02T03:04:05.000Z' });
const index = buildIndex([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]);
const signature = buildImage();

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  outsider = await app.user('outsider');
  const namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  registry = await createRegistry(owner, namespace.id);
  repository = `${registry.slug}/app`;
  const host = new URL(app.registry.embedded!.url).host;

  // skopeo, as a docker client would: credentials exchanged at berth's token endpoint.
  const from = Date.now();
  const single = await writeOciLayout(path.join(scratch, 'layout'), 'v1', image);
  await skopeoCopy(single.reference, `docker://${host}/${repository}:v1`, { destinationCreds: `owner:${owner.token}` });
  const multi = await writeOciLayout(path.join(scratch, 'layout'), 'multi', index);
  await skopeoCopy(multi.reference, `docker://${host}/${repository}:multi`, { destinationCreds: `owner:${owner.token}`, all: true });
  // A cosign-style signature of the single image, through the V2 API.
  await pushArtifact(app.registry.client, repository, `${image.digest.replace(':', '-')}.sig`, signature);
  await recordedPush(app.db, repository, 'multi');
  await recordedPush(app.db, repository, `${image.digest.replace(':', '-')}.sig`);
  pushWindow = { from: from - 1_000, to: Date.now() + 1_000 };
});

const IMAGE = /* GraphQL */ `
  query ($id: ID!, $reference: String!) {
    node(id: $id) {
      ... on Registry {
        repository(name: "app") {
          image(reference: $reference) {
            id digest mediaType sizeBytes configDigest createdAt os architecture signed pushedAt pulledAt
            tags { name digest }
            layers { digest mediaType sizeBytes }
            platforms { digest os architecture variant sizeBytes }
            repository { name }
          }
        }
      }
    }
  }
`;

async function readImage(client: Client, reference: string) {
  const { data, errors } = await client.execute(IMAGE, { id: registry.id, reference });
  expect(errors).toBeUndefined();
  return data.node.repository.image;
}

describe('Image', () => {
  it('reads an image pushed with skopeo: digest, sizes, config fields, layers, tags and signature', async () => {
    const read = await readImage(viewer, 'v1');
    expect(read).toMatchObject({
      digest: image.digest,
      mediaType: MediaType.ociManifest,
      sizeBytes: image.config.size + image.layers[0]!.size + image.layers[1]!.size,
      configDigest: image.config.digest,
      createdAt: '2026-01-02T03:04:05.000Z',
      os: 'linux',
      architecture: 'amd64',
      signed: true,
      tags: [{ name: 'v1', digest: image.digest }],
      layers: image.layers.map((layer) => ({ digest: layer.digest, mediaType: layer.mediaType, sizeBytes: layer.size })),
      platforms: [],
      repository: { name: 'app' },
    });
    expect(Date.parse(read.pushedAt)).toBeGreaterThanOrEqual(pushWindow.from);
    expect(Date.parse(read.pushedAt)).toBeLessThanOrEqual(pushWindow.to);
  });

  it('reads a multi-arch index: its platforms, and the sum of their images as its size', async () => {
    const read = await readImage(viewer, 'multi');
    const [amd64, arm64] = index.children.map((child) => ({ child, size: child.config.size + child.layers[0]!.size }));
    expect(read).toMatchObject({
      digest: index.digest,
      mediaType: MediaType.ociIndex,
      sizeBytes: amd64!.size + arm64!.size,
      configDigest: null,
      createdAt: null,
      os: null,
      architecture: null,
      signed: false,
      layers: [],
      platforms: [
        { digest: amd64!.child.digest, os: 'linux', architecture: 'amd64', variant: null, sizeBytes: amd64!.size },
        { digest: arm64!.child.digest, os: 'linux', architecture: 'arm64', variant: 'v8', sizeBytes: arm64!.size },
      ],
    });
    const child = await readImage(viewer, index.children[1]!.digest);
    expect(child).toMatchObject({ digest: index.children[1]!.digest, architecture: 'arm64', tags: [] });
  });

  it('is a node: its ID resolves for members only, and unknown references give null', async () => {
    const { id } = await readImage(viewer, 'v1');
    expect(decodeGlobalID(id)).toEqual({ typename: 'Image', id: `${decodeGlobalID(registry.id).id}/app@${image.digest}` });
    const query = `query ($id: ID!) { node(id: $id) { ... on Image { digest tags { name } } } }`;
    expect((await viewer.execute(query, { id })).data.node).toEqual({ digest: image.digest, tags: [{ name: 'v1' }] });
    expect((await outsider.execute(query, { id })).data.node).toBeNull();
    const unknown = encodeGlobalID('Image', `${decodeGlobalID(registry.id).id}/app@sha256:${'0'.repeat(64)}`);
    expect((await viewer.execute(query, { id: unknown })).data.node).toBeNull();
    for (const reference of ['nope', `sha256:${'0'.repeat(64)}`, 'not a reference']) expect(await readImage(viewer, reference)).toBeNull();
  });

  it('lists the distinct images of the repository, newest push first when asked', async () => {
    const { data } = await viewer.execute(
      `query ($id: ID!) { node(id: $id) { ... on Registry { repository(name: "app") {
        images(first: 10, orderBy: { field: PUSHED_AT, direction: DESC }) { totalCount nodes { digest } }
      } } } }`,
      { id: registry.id },
    );
    expect(data.node.repository.images).toEqual({
      totalCount: 3,
      nodes: [{ digest: signature.digest }, { digest: index.digest }, { digest: image.digest }],
    });
  });

  it('records a pull by a user, not the reads berth makes to answer queries', async () => {
    expect((await readImage(owner, 'v1')).pulledAt).toBeNull();
    const host = new URL(app.registry.embedded!.url).host;
    const pulledFrom = Date.now() - 1_000;
    await skopeoCopy(`docker://${host}/${repository}:v1`, `oci:${path.join(scratch, 'pulled')}:v1`, { sourceCreds: `viewer:${viewer.token}` });
    const pulled = await eventually(async () => (await readImage(viewer, 'v1')).pulledAt as string | null);
    expect(Date.parse(pulled)).toBeGreaterThanOrEqual(pulledFrom);
  });
});
