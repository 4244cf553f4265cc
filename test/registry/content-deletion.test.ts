import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { bearerTokens } from '../../src/registry/v2/auth.js';
import { RegistryClient } from '../../src/registry/v2/client.js';
import {
  deleteImage,
  deleteRegistryContent,
  deleteRepository,
  deleteTags,
} from '../../src/registry/content-deletion.js';
import {
  RegistryError,
  RegistryNotFoundError,
  RegistryReadOnlyError,
  RegistryUnavailableError,
} from '../../src/registry/v2/errors.js';
import { MediaType } from '../../src/registry/v2/manifest.js';
import { buildImage, buildIndex, pushArtifact, sha256Digest, type TestImage, type TestIndex } from '../support/oci-images.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../support/registry-process.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };
const armV7 = { os: 'linux', architecture: 'arm', variant: 'v7' };

/** An OCI index over existing images, so two indexes can share a child. */
function indexOver(children: readonly TestImage[]): TestIndex {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children.map((child) => ({
        mediaType: child.mediaType,
        digest: child.digest,
        size: child.manifest.length,
        platform: child.platform,
      })),
    }),
  );
  return { kind: 'index', mediaType: MediaType.ociIndex, digest: sha256Digest(manifest), manifest, children: [...children] };
}

/** Puts an already pushed manifest under one more tag. */
async function alsoTag(client: RegistryClient, repository: string, tag: string, image: TestImage | TestIndex): Promise<void> {
  await client.putManifest(repository, tag, image.mediaType, image.manifest);
}

async function sortedTags(client: RegistryClient, repository: string): Promise<string[]> {
  return (await client.listTags(repository)).sort();
}

async function exists(client: RegistryClient, repository: string, digest: string): Promise<boolean> {
  return (await client.headManifest(repository, digest)) !== null;
}

async function catalog(client: RegistryClient): Promise<string[]> {
  const names: string[] = [];
  for await (const name of client.catalog()) names.push(name);
  return names;
}

describe('content deletion against a live registry', () => {
  const test = useTestRegistry();

  describe('deleteTags', () => {
    it('deletes one of two tags on a digest and re-puts the exact bytes under the other', async () => {
      const { client } = test;
      const image = buildImage();
      await pushArtifact(client, 'tags/shared', 'a', image);
      await alsoTag(client, 'tags/shared', 'b', image);

      const result = await deleteTags(client, 'tags/shared', ['a']);

      expect(result).toEqual({ deletedTagNames: ['a'], deletedDigests: [], failed: [], unrestored: [], changed: [] });
      expect(await client.listTags('tags/shared')).toEqual(['b']);
      const survivor = await client.getManifest('tags/shared', 'b');
      expect(survivor.digest).toBe(image.digest);
      expect(Buffer.from(survivor.bytes).equals(image.manifest)).toBe(true);
    });

    it('leaves a tag that points at another image than the caller expects, and tells each step', async () => {
      const { client } = test;
      const [judged, repushed, other] = [buildImage(), buildImage(), buildImage()];
      await pushArtifact(client, 'tags/expected', 'old', judged);
      await pushArtifact(client, 'tags/expected', 'moved', repushed);
      await pushArtifact(client, 'tags/expected', 'keep', other);
      const steps: string[] = [];

      const result = await deleteTags(client, 'tags/expected', ['old', 'moved'], {
        expectedDigests: new Map([['old', judged.digest], ['moved', judged.digest]]),
        onManifestDeleted: (digest) => steps.push(digest),
      });

      expect(result).toEqual({ deletedTagNames: ['old'], deletedDigests: [judged.digest], failed: [], unrestored: [], changed: ['moved'] });
      expect(steps).toEqual([judged.digest]);
      expect(await sortedTags(client, 'tags/expected')).toEqual(['keep', 'moved']);
    });

    it('deletes many tags across digests in one call, keeping tags it was not asked for', async () => {
      const { client } = test;
      const [x, y, z] = [buildImage(), buildImage(), buildImage()];
      await pushArtifact(client, 'tags/many', 'x1', x);
      await alsoTag(client, 'tags/many', 'x2', x);
      await alsoTag(client, 'tags/many', 'x3', x);
      await pushArtifact(client, 'tags/many', 'y1', y);
      await pushArtifact(client, 'tags/many', 'z1', z);

      const result = await deleteTags(client, 'tags/many', ['x1', 'y1', 'x2']);

      expect(result).toEqual({ deletedTagNames: ['x1', 'y1', 'x2'], deletedDigests: [y.digest], failed: [], unrestored: [], changed: [] });
      expect(await sortedTags(client, 'tags/many')).toEqual(['x3', 'z1']);
      expect((await client.headManifest('tags/many', 'x3'))?.digest).toBe(x.digest);
      expect((await client.headManifest('tags/many', 'z1'))?.digest).toBe(z.digest);
      expect(await exists(client, 'tags/many', y.digest)).toBe(false);
    });

    it('reports tags that do not exist as NOT_FOUND and still deletes the others', async () => {
      const { client } = test;
      await pushArtifact(client, 'tags/missing', 'here', buildImage());

      const result = await deleteTags(client, 'tags/missing', ['gone', 'here', 'Not a tag!']);

      expect(result.deletedTagNames).toEqual(['here']);
      expect(result.failed.map(({ name, reason }) => ({ name, reason }))).toEqual([
        { name: 'gone', reason: 'NOT_FOUND' },
        { name: 'Not a tag!', reason: 'NOT_FOUND' },
      ]);
      for (const { error } of result.failed) expect(error).toBeInstanceOf(RegistryNotFoundError);
      expect(await client.listTags('tags/missing')).toEqual([]);
      const nothing = await deleteTags(client, 'tags/never-pushed', ['v1']);
      expect(nothing.failed.map(({ reason }) => reason)).toEqual(['NOT_FOUND']);
    });

    it('reports the tags it could not put back and stops before the rest when the re-put fails', async () => {
      const [x, y] = [buildImage(), buildImage()];
      await pushArtifact(test.client, 'tags/no-push', 'a', x);
      await alsoTag(test.client, 'tags/no-push', 'b', x);
      await pushArtifact(test.client, 'tags/no-push', 'c', y);
      // A token with pull and delete but without push: the DELETE passes, the re-put is refused.
      const client = new RegistryClient({
        baseUrl: test.url,
        auth: bearerTokens((scopes) => test.token(scopes.map((scope) => scope.replace(/:pull,push$/, ':pull')))),
      });

      const result = await deleteTags(client, 'tags/no-push', ['a', 'c']);

      expect(result.deletedTagNames).toEqual(['a']);
      expect(result.deletedDigests).toEqual([x.digest]);
      expect(result.failed.map(({ name, reason }) => ({ name, reason }))).toEqual([{ name: 'c', reason: 'BACKEND_ERROR' }]);
      expect(result.unrestored.map(({ name, reason }) => ({ name, reason }))).toEqual([{ name: 'b', reason: 'BACKEND_ERROR' }]);
      expect(await test.client.listTags('tags/no-push')).toEqual(['c']);
    });

    it('untags a platform image that a tagged index still uses without breaking the index', async () => {
      const { client } = test;
      const index = buildIndex([amd64, arm64]);
      const [first] = index.children as [TestImage, TestImage];
      await pushArtifact(client, 'tags/child', 'multi', index);
      await alsoTag(client, 'tags/child', 'amd64', first);

      const result = await deleteTags(client, 'tags/child', ['amd64']);

      expect(result).toEqual({ deletedTagNames: ['amd64'], deletedDigests: [], failed: [], unrestored: [], changed: [] });
      expect(await client.listTags('tags/child')).toEqual(['multi']);
      expect(await exists(client, 'tags/child', first.digest)).toBe(true);
    });

    it('deleting the last tag of an index deletes the index first, then its children', async () => {
      const { client } = test;
      const index = buildIndex([amd64, arm64]);
      await pushArtifact(client, 'tags/last', 'multi', index);

      const { deletedDigests } = await deleteTags(client, 'tags/last', ['multi']);

      expect(deletedDigests[0]).toBe(index.digest);
      expect(deletedDigests.slice(1).sort()).toEqual(index.children.map((child) => child.digest).sort());
      for (const digest of deletedDigests) expect(await exists(client, 'tags/last', digest)).toBe(false);
    });
  });

  describe('deleteImage', () => {
    it.each(['tag', 'digest'] as const)('by %s deletes the manifest and every tag on it', async (kind) => {
      const { client } = test;
      const repository = `images/by-${kind}`;
      const [image, other] = [buildImage(), buildImage()];
      await pushArtifact(client, repository, 'v1', image);
      await alsoTag(client, repository, 'latest', image);
      await pushArtifact(client, repository, 'other', other);

      const result = await deleteImage(client, repository, kind === 'tag' ? 'v1' : image.digest);

      expect({ ...result, deletedTagNames: result.deletedTagNames.sort() }).toEqual({
        deletedDigest: image.digest,
        deletedTagNames: ['latest', 'v1'],
        deletedChildDigests: [],
        failed: [],
      });
      expect(await client.listTags(repository)).toEqual(['other']);
      expect(await exists(client, repository, image.digest)).toBe(false);
    });

    it('rejects an unknown tag or digest with RegistryNotFoundError', async () => {
      const { client } = test;
      await pushArtifact(client, 'images/unknown', 'v1', buildImage());
      await expect(deleteImage(client, 'images/unknown', 'v2')).rejects.toBeInstanceOf(RegistryNotFoundError);
      await expect(deleteImage(client, 'images/unknown', buildImage().digest)).rejects.toBeInstanceOf(RegistryNotFoundError);
      expect(await client.listTags('images/unknown')).toEqual(['v1']);
    });

    it('deletes an index with its unused children and keeps the child another tagged index uses', async () => {
      const { client } = test;
      const first = buildIndex([amd64, arm64]);
      const [onlyFirst, shared] = first.children as [TestImage, TestImage];
      const second = indexOver([shared, buildImage({ platform: armV7 })]);
      await pushArtifact(client, 'images/multi', 'first', first);
      await pushArtifact(client, 'images/multi', 'second', second);

      await expect(deleteImage(client, 'images/multi', shared.digest)).rejects.toBeInstanceOf(ConflictError);
      const result = await deleteImage(client, 'images/multi', 'first');

      expect(result).toEqual({
        deletedDigest: first.digest,
        deletedTagNames: ['first'],
        deletedChildDigests: [onlyFirst.digest],
        failed: [],
      });
      expect(await exists(client, 'images/multi', first.digest)).toBe(false);
      expect(await exists(client, 'images/multi', onlyFirst.digest)).toBe(false);
      expect(await exists(client, 'images/multi', shared.digest)).toBe(true);
      expect((await client.getManifest('images/multi', 'second')).digest).toBe(second.digest);

      const last = await deleteImage(client, 'images/multi', second.digest);
      expect(last.deletedChildDigests.sort()).toEqual(second.children.map((child) => child.digest).sort());
    });
  });

  describe('deleteRepository', () => {
    it('leaves no tags and no manifests, keeps the name in the catalog, and touches no other repository', async () => {
      const { client } = test;
      const image = buildImage();
      const index = buildIndex([amd64, arm64]);
      const neighbour = buildImage();
      await pushArtifact(client, 'repos/doomed', 'v1', image);
      await alsoTag(client, 'repos/doomed', 'latest', image);
      await pushArtifact(client, 'repos/doomed', 'multi', index);
      await pushArtifact(client, 'repos/doomed-not', 'v1', neighbour);

      const result = await deleteRepository(client, 'repos/doomed');

      const everyDigest = [image.digest, index.digest, ...index.children.map((child) => child.digest)];
      expect(result.repository).toBe('repos/doomed');
      expect(result.deletedTagNames.sort()).toEqual(['latest', 'multi', 'v1']);
      expect([...result.deletedDigests].sort()).toEqual(everyDigest.sort());
      expect(result.deletedDigests.indexOf(index.digest)).toBeLessThan(result.deletedDigests.indexOf(index.children[0]?.digest ?? ''));
      expect(result.failed).toEqual([]);
      expect(await client.listTags('repos/doomed')).toEqual([]);
      for (const digest of everyDigest) expect(await exists(client, 'repos/doomed', digest)).toBe(false);
      expect(await catalog(client)).toContain('repos/doomed');
      expect((await client.headManifest('repos/doomed-not', 'v1'))?.digest).toBe(neighbour.digest);
    });
  });

  describe('deleteRegistryContent', () => {
    it('empties the repositories it is given, untagged manifests included, and touches no other', async () => {
      const { client } = test;
      const kept = buildImage();
      const untagged = buildImage();
      await pushArtifact(client, 'aa/one', 'v1', buildImage());
      await pushArtifact(client, 'aa/one', untagged.digest, untagged);
      await pushArtifact(client, 'aa/two/deep', 'multi', buildIndex([amd64, arm64]));
      await pushArtifact(client, 'aa2/one', 'v1', kept);

      const result = await deleteRegistryContent(client, [
        { path: 'aa/one', untagged: [untagged.digest] },
        { path: 'aa/two/deep', untagged: [] },
      ]);

      expect(result.repositories.map(({ repository }) => repository)).toEqual(['aa/one', 'aa/two/deep']);
      expect(result.repositories.map(({ deletedDigests }) => deletedDigests.length)).toEqual([2, 3]);
      expect(result.failed).toEqual([]);
      expect(await client.listTags('aa/one')).toEqual([]);
      expect(await exists(client, 'aa/one', untagged.digest)).toBe(false);
      expect(await client.listTags('aa/two/deep')).toEqual([]);
      expect((await client.headManifest('aa2/one', 'v1'))?.digest).toBe(kept.digest);
    });

    it('stops at the first repository the registry refuses and names it and every one after it', async () => {
      const images = [buildImage(), buildImage(), buildImage()];
      for (const [i, name] of ['pp/a', 'pp/b', 'pp/c'].entries()) await pushArtifact(test.client, name, 'v1', images[i] as TestImage);
      // A token without `delete` on pp/b, as a user lacking the role would get.
      const client = new RegistryClient({
        baseUrl: test.url,
        auth: bearerTokens((scopes) => test.token(scopes.map((scope) => (scope.startsWith('repository:pp/b:') ? 'repository:pp/b:pull' : scope)))),
      });

      const result = await deleteRegistryContent(client, ['pp/a', 'pp/b', 'pp/c'].map((path) => ({ path, untagged: [] })));

      expect(result.repositories.map(({ repository, deletedDigests }) => ({ repository, deletedDigests }))).toEqual([
        { repository: 'pp/a', deletedDigests: [images[0]?.digest] },
      ]);
      expect(result.failed.map(({ name, reason }) => ({ name, reason }))).toEqual([
        { name: 'pp/b', reason: 'BACKEND_ERROR' },
        { name: 'pp/c', reason: 'BACKEND_ERROR' },
      ]);
      expect(result.failed[0]?.error).toBeInstanceOf(RegistryError);
      expect(result.failed[0]?.error.status).toBe(401);
      expect(await test.client.listTags('pp/b')).toEqual(['v1']);
      expect(await test.client.listTags('pp/c')).toEqual(['v1']);
    });
  });
});

describe('content deletion when the registry cannot delete', () => {
  let test: TestRegistry;
  const image = buildImage();
  beforeAll(async () => {
    test = await startTestRegistry();
    await pushArtifact(test.client, 'down/app', 'v1', image);
    await alsoTag(test.client, 'down/app', 'v2', image);
  });
  afterAll(async () => {
    await test.dispose();
  });

  const everyOperation = [
    ['deleteTags', (client: RegistryClient) => deleteTags(client, 'down/app', ['v1'])],
    ['deleteImage', (client: RegistryClient) => deleteImage(client, 'down/app', 'v1')],
    ['deleteRepository', (client: RegistryClient) => deleteRepository(client, 'down/app')],
    ['deleteRegistryContent', (client: RegistryClient) => deleteRegistryContent(client, [{ path: 'down/app', untagged: [] }])],
  ] as const;

  it('throws RegistryReadOnlyError from every operation while the registry is read-only, deleting nothing', async () => {
    await test.registry.refuseWrites('registry in maintenance: testing');
    for (const [, operation] of everyOperation) {
      await expect(operation(test.client)).rejects.toBeInstanceOf(RegistryReadOnlyError);
    }
    expect(await sortedTags(test.client, 'down/app')).toEqual(['v1', 'v2']);
  });

  it('throws RegistryUnavailableError quickly from every operation once the registry is stopped', async () => {
    await test.registry.stop();
    const client = test.newClient({ timeoutMs: 2_000 });
    for (const [name, operation] of everyOperation) {
      const startedAt = performance.now();
      await expect(operation(client), name).rejects.toBeInstanceOf(RegistryUnavailableError);
      expect(performance.now() - startedAt, name).toBeLessThan(1_000);
    }
  });
});
