import { stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { clientAs, recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, buildIndex, pushArtifact } from '../support/oci-images.js';
import { CREATE_REGISTRY, DELETE_REGISTRY } from './operations.js';

const app = useTestApp();

const DELETE_TAGS = `mutation ($input: DeleteTagsInput!) { deleteTags(input: $input) {
  __typename ... on DeleteTagsPayload { deletedTagNames deletedDigests failed { name reason } unrestored { name } } ... on Error { message } } }`;
const DELETE_IMAGE = `mutation ($input: DeleteImageInput!) { deleteImage(input: $input) {
  __typename ... on DeleteImagePayload { deletedDigest deletedTagNames deletedChildDigests } ... on Error { message } } }`;
const DELETE_REPOSITORY = `mutation ($input: DeleteRepositoryInput!) { deleteRepository(input: $input) {
  __typename ... on DeleteRepositoryPayload { deletedId deletedTagNames } ... on Error { message } } }`;

let maintainer: Client;
let viewer: Client;
let outsider: Client;
let registry: { id: string; slug: string };

function repositoryId(name: string): string {
  return encodeGlobalID('Repository', `${decodeGlobalID(registry.id).id}/${name}`);
}

async function tagsOf(name: string): Promise<string[]> {
  return (await app.registry.client.listTags(`${registry.slug}/${name}`)).sort();
}

beforeAll(async () => {
  maintainer = await app.user();
  viewer = await app.user();
  outsider = await app.user();
  const namespace = await createNamespace(maintainer);
  await addMember(maintainer, namespace.id, viewer, 'VIEWER');
  registry = await createRegistry(maintainer, namespace.id);
});

describe('deleteTags', () => {
  it('deletes one tag of a shared image and leaves the others on the same digest', async () => {
    const image = buildImage();
    const path = `${registry.slug}/shared`;
    for (const tag of ['latest', 'v1', 'stable']) await pushArtifact(app.registry.client, path, tag, image);
    const pushedAt = (await recordedPush(app.db, path, 'latest')).pushedAt;
    await recordedPush(app.db, path, 'v1');
    const { data } = await maintainer.execute(DELETE_TAGS, { input: { repositoryId: repositoryId('shared'), names: ['v1', 'nope'] } });
    expect(data.deleteTags).toEqual({
      __typename: 'DeleteTagsPayload',
      deletedTagNames: ['v1'],
      deletedDigests: [],
      failed: [{ name: 'nope', reason: 'NOT_FOUND' }],
      unrestored: [],
    });
    expect(await tagsOf('shared')).toEqual(['latest', 'stable']);
    expect((await app.registry.client.headManifest(path, 'latest'))?.digest).toBe(image.digest);
    // The registry reports the survivors as deleted and pushed anew; berth keeps their push time.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await app.db.contentTag.findFirst({ where: { repository: { path }, name: 'v1' } })).toBeNull();
    expect((await app.db.contentTag.findFirst({ where: { repository: { path }, name: 'latest' } }))?.pushedAt).toEqual(pushedAt);
  });

  it('is refused to VIEWERs and hidden from outsiders; an empty list is a ValidationError', async () => {
    await pushArtifact(app.registry.client, `${registry.slug}/guarded`, 'v1', buildImage());
    const input = { repositoryId: repositoryId('guarded'), names: ['v1'] };
    expect((await viewer.execute(DELETE_TAGS, { input })).data.deleteTags.__typename).toBe('ForbiddenError');
    expect((await outsider.execute(DELETE_TAGS, { input })).data.deleteTags.__typename).toBe('NotFoundError');
    expect((await maintainer.execute(DELETE_TAGS, { input: { ...input, names: [] } })).data.deleteTags.__typename).toBe('ValidationError');
    expect(await tagsOf('guarded')).toEqual(['v1']);
  });
});

describe('deleteImage', () => {
  it('deletes a multi-arch index by tag with all its tags and platform images', async () => {
    const index = buildIndex([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    const path = `${registry.slug}/multi`;
    await pushArtifact(app.registry.client, path, 'v1', index);
    await pushArtifact(app.registry.client, path, 'latest', index);
    const { data } = await maintainer.execute(DELETE_IMAGE, { input: { repositoryId: repositoryId('multi'), reference: 'v1' } });
    expect(data.deleteImage).toMatchObject({ __typename: 'DeleteImagePayload', deletedDigest: index.digest });
    expect([...data.deleteImage.deletedTagNames].sort()).toEqual(['latest', 'v1']);
    expect([...data.deleteImage.deletedChildDigests].sort()).toEqual(index.children.map((c) => c.digest).sort());
    for (const child of index.children) expect(await app.registry.client.headManifest(path, child.digest)).toBeNull();
  });

  it('answers NotFoundError for an unknown reference', async () => {
    await pushArtifact(app.registry.client, `${registry.slug}/single`, 'v1', buildImage());
    const { data } = await maintainer.execute(DELETE_IMAGE, { input: { repositoryId: repositoryId('single'), reference: 'missing' } });
    expect(data.deleteImage.__typename).toBe('NotFoundError');
    expect(await tagsOf('single')).toEqual(['v1']);
  });
});

describe('deleteRepository', () => {
  it('removes every tag and image; the repository is then gone and another one untouched', async () => {
    for (const tag of ['a', 'b']) await pushArtifact(app.registry.client, `${registry.slug}/doomed`, tag, buildImage());
    await pushArtifact(app.registry.client, `${registry.slug}/kept`, 'v1', buildImage());
    const { data } = await maintainer.execute(DELETE_REPOSITORY, { input: { id: repositoryId('doomed') } });
    expect(data.deleteRepository).toMatchObject({ __typename: 'DeleteRepositoryPayload', deletedId: repositoryId('doomed') });
    expect([...data.deleteRepository.deletedTagNames].sort()).toEqual(['a', 'b']);
    expect(await tagsOf('doomed')).toEqual([]);
    expect(await tagsOf('kept')).toEqual(['v1']);
    const again = await maintainer.execute(DELETE_REPOSITORY, { input: { id: repositoryId('doomed') } });
    expect(again.data.deleteRepository.__typename).toBe('NotFoundError');
  });
});

describe('deleteRegistry', () => {
  it('refuses a registry with content unless forced, then deletes the content too', async () => {
    const namespace = await createNamespace(maintainer);
    const full = await createRegistry(maintainer, namespace.id);
    await pushArtifact(app.registry.client, `${full.slug}/app`, 'v1', buildImage());
    await recordedPush(app.db, `${full.slug}/app`, 'v1');
    const refused = await maintainer.execute(DELETE_REGISTRY, { input: { id: full.id } });
    expect(refused.data.deleteRegistry).toMatchObject({ __typename: 'ConflictError', message: expect.stringContaining('force') });
    const forced = await maintainer.execute(DELETE_REGISTRY, { input: { id: full.id, force: true } });
    expect(forced.data.deleteRegistry.__typename).toBe('DeleteRegistryPayload');
    expect(await app.registry.client.listTags(`${full.slug}/app`)).toEqual([]);
    expect(await app.db.registry.count({ where: { slug: full.slug } })).toBe(0);
  });

  it('answers BackendUnavailableError and keeps the registry and its content while the backend is down', async () => {
    const namespace = await createNamespace(maintainer);
    const target = await createRegistry(maintainer, namespace.id);
    await pushArtifact(app.registry.client, `${target.slug}/app`, 'v1', buildImage());
    await recordedPush(app.db, `${target.slug}/app`, 'v1');
    await app.registry.embedded!.stop();
    try {
      const { data } = await maintainer.execute(DELETE_REGISTRY, { input: { id: target.id, force: true } });
      expect(data.deleteRegistry.__typename).toBe('BackendUnavailableError');
      const tags = await maintainer.execute(DELETE_TAGS, { input: { repositoryId: repositoryId('kept'), names: ['v1'] } });
      expect(tags.data.deleteTags.__typename).toBe('BackendUnavailableError');
    } finally {
      await app.registry.embedded!.start();
    }
    expect(await app.db.registry.count({ where: { slug: target.slug } })).toBe(1);
    expect(await app.registry.client.listTags(`${target.slug}/app`)).toEqual(['v1']);
  });

  it('leaves nothing of it readable under its slug: retired while old tokens live, a registry that takes it later starts empty', async () => {
    const newcomer = await app.user();
    const before = await createRegistry(maintainer, (await createNamespace(maintainer)).id);
    const image = buildImage();
    const layer = image.layers[0]!.digest;
    await pushArtifact(app.registry.client, `${before.slug}/app`, 'v1', image);
    await recordedPush(app.db, `${before.slug}/app`, 'v1');
    // The registry checks a token's signature and expiry, nothing else: a token issued for the slug
    // before the deletion works until it expires, like this one.
    const oldToken = clientAs(app, 'holder-of-an-old-token');

    const deleted = await maintainer.execute(DELETE_REGISTRY, { input: { id: before.id, force: true } });
    expect(deleted.data.deleteRegistry.__typename).toBe('DeleteRegistryPayload');
    await expect(stat(path.join(app.registry.embedded!.storageDir, 'docker/registry/v2/repositories', before.slug))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await app.registry.client.headBlob(`${before.slug}/app`, layer)).toBeNull();

    const availability = await newcomer.execute(`query ($slug: String!) { registrySlugAvailability(slug: $slug) { available reason message } }`, { slug: before.slug });
    expect(availability.data.registrySlugAvailability).toMatchObject({ available: false, reason: 'RESERVED', message: expect.stringContaining('no token issued for it is valid') });
    const namespace = await createNamespace(newcomer);
    const refused = await newcomer.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'reused', slug: before.slug } });
    expect(refused.data.createRegistry).toMatchObject({ __typename: 'ValidationError', field: 'slug', message: expect.stringContaining('retired') });

    const leftover = buildImage();
    await pushArtifact(oldToken, `${before.slug}/leftover`, 'v1', leftover);
    // The tokens have expired.
    await app.db.retiredSlug.update({ where: { slug: before.slug }, data: { retiredUntil: new Date(Date.now() - 1000) } });
    const reused = await createRegistry(newcomer, namespace.id, { slug: before.slug });

    const reader = clientAs(app, 'newcomer');
    expect(await reader.headBlob(`${before.slug}/app`, layer)).toBeNull();
    expect(await reader.headBlob(`${before.slug}/leftover`, leftover.layers[0]!.digest)).toBeNull();
    expect(await reader.mountBlob(`${before.slug}/mine`, layer, `${before.slug}/app`)).toBe(false);
    await app.reconciler.runNow();
    const browsed = await newcomer.execute(`query ($id: ID!) { node(id: $id) { ... on Registry { repositories(first: 10) { totalCount } } } }`, { id: reused.id });
    expect(browsed.data.node.repositories.totalCount).toBe(0);
  });
});
