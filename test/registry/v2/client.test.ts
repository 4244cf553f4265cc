import { describe, expect, it } from 'vitest';
import { bearerTokens } from '../../../src/registry/v2/auth.js';
import { RegistryClient } from '../../../src/registry/v2/client.js';
import { RegistryError, RegistryNotFoundError } from '../../../src/registry/v2/errors.js';
import { indexPlatforms, MediaType, parseImageConfig } from '../../../src/registry/v2/manifest.js';
import { buildImage, buildIndex, pushArtifact, type TestImage } from '../../support/oci-images.js';
import { useTestRegistry } from '../../support/registry-process.js';

const registry = useTestRegistry();

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof RegistryError)) throw error;
  return error;
}

describe('RegistryClient against docker-registry', () => {
  it('pushes an OCI image and reads it back by tag and by digest', async () => {
    const { client } = registry;
    const image = buildImage({ platform: { os: 'linux', architecture: 'arm64' }, layerCount: 2 });
    expect(await pushArtifact(client, 'team/app', 'v1', image)).toBe(image.digest);

    const byTag = await client.getManifest('team/app', 'v1');
    expect(byTag).toMatchObject({ digest: image.digest, mediaType: MediaType.ociManifest, size: image.manifest.length });
    expect(Buffer.from(byTag.bytes).equals(image.manifest)).toBe(true);
    expect(byTag.manifest.kind).toBe('image');
    if (byTag.manifest.kind !== 'image') return;
    expect(byTag.manifest.config.digest).toBe(image.config.digest);
    expect(byTag.manifest.layers.map((layer) => layer.size)).toEqual(image.layers.map((layer) => layer.size));

    const byDigest = await client.getManifest('team/app', image.digest);
    expect(byDigest.text).toBe(byTag.text);
    expect(await client.headManifest('team/app', 'v1')).toEqual({
      digest: image.digest,
      mediaType: MediaType.ociManifest,
      size: image.manifest.length,
    });

    const config = parseImageConfig(await client.getBlobJson('team/app', image.config.digest));
    expect(config).toMatchObject({ os: 'linux', architecture: 'arm64', created: new Date(image.created) });
    expect(await client.headBlob('team/app', image.layers[0]!.digest)).toBe(image.layers[0]!.size);
    expect(await client.headBlob('team/app', `sha256:${'0'.repeat(64)}`)).toBeNull();
  });

  it('pushes a multi-arch OCI index and lists its platforms', async () => {
    const { client } = registry;
    const index = buildIndex([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    await pushArtifact(client, 'team/multi', 'latest', index);

    const fetched = await client.getManifest('team/multi', 'latest');
    expect(fetched).toMatchObject({ digest: index.digest, mediaType: MediaType.ociIndex });
    expect(fetched.manifest.kind).toBe('index');
    if (fetched.manifest.kind !== 'index') return;
    expect(indexPlatforms(fetched.manifest).map(({ digest, architecture, variant }) => ({ digest, architecture, variant }))).toEqual([
      { digest: index.children[0]!.digest, architecture: 'amd64', variant: undefined },
      { digest: index.children[1]!.digest, architecture: 'arm64', variant: 'v8' },
      { digest: index.children[2]!.digest, architecture: 'arm', variant: 'v7' },
    ]);
    const child = await client.getManifest('team/multi', index.children[1]!.digest);
    expect(child.mediaType).toBe(MediaType.ociManifest);
  });

  it('gets Docker schema2 manifests and manifest lists back as stored, not converted', async () => {
    const { client } = registry;
    const image = buildImage({ flavor: 'docker' });
    const list = buildIndex([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], { flavor: 'docker' });
    await pushArtifact(client, 'team/docker', 'single', image);
    await pushArtifact(client, 'team/docker', 'list', list);

    expect(await client.getManifest('team/docker', 'single')).toMatchObject({
      digest: image.digest,
      mediaType: MediaType.dockerManifest,
    });
    expect(await client.getManifest('team/docker', 'list')).toMatchObject({
      digest: list.digest,
      mediaType: MediaType.dockerManifestList,
    });
  });

  it('lists tags, which callers sort; unknown repositories have none', async () => {
    const { client } = registry;
    const image = buildImage();
    for (const tag of ['v2', 'latest', 'v10', 'v1']) await pushArtifact(client, 'team/tags', tag, image);
    expect((await client.listTags('team/tags')).sort()).toEqual(['latest', 'v1', 'v10', 'v2']);
    expect(await client.listTags('team/never-pushed')).toEqual([]);
  });

  it('deletes a manifest by digest, removing every tag that points at it', async () => {
    const { client } = registry;
    const doomed = buildImage();
    const kept = buildImage();
    await pushArtifact(client, 'team/delete', 'a', doomed);
    await pushArtifact(client, 'team/delete', 'b', doomed);
    await pushArtifact(client, 'team/delete', 'c', kept);

    await client.deleteManifest('team/delete', doomed.digest);

    expect(await client.listTags('team/delete')).toEqual(['c']);
    expect(await client.headManifest('team/delete', 'a')).toBeNull();
    const error = await rejection(client.getManifest('team/delete', doomed.digest));
    expect(error).toBeInstanceOf(RegistryNotFoundError);
    expect(error.code).toBe('MANIFEST_UNKNOWN');

    await client.deleteManifest('team/delete', kept.digest);
    expect(await client.listTags('team/delete')).toEqual([]); // the registry says `tags: null`
  });

  it('refuses to delete by tag without asking the registry', async () => {
    const client = registry.newClient();
    const error = await rejection(client.deleteManifest('team/delete', 'c'));
    expect(error.code).toBe('DIGEST_INVALID');
    expect(await rejection(client.listTags('../etc'))).toMatchObject({ code: 'NAME_INVALID' });
    expect(client.calls).toBe(0);
  });

  it('raises RegistryNotFoundError for unknown manifests and blobs', async () => {
    const { client } = registry;
    await pushArtifact(client, 'team/missing', 'v1', buildImage());
    const manifest = await rejection(client.getManifest('team/missing', 'nosuchtag'));
    expect(manifest).toBeInstanceOf(RegistryNotFoundError);
    expect(manifest).toMatchObject({ code: 'MANIFEST_UNKNOWN', status: 404 });
    const blob = await rejection(client.getBlobJson('team/missing', `sha256:${'1'.repeat(64)}`));
    expect(blob).toBeInstanceOf(RegistryNotFoundError);
    expect(blob.code).toBe('BLOB_UNKNOWN');
  });

  it('raises the V2 code when a manifest references blobs that were never pushed', async () => {
    const image: TestImage = buildImage();
    const error = await rejection(registry.client.putManifest('team/orphan', 'v1', image.mediaType, image.manifest));
    expect(error).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', status: 400 });
  });

  it('walks every catalog page by following the Link header', async () => {
    const { client } = registry;
    const names = ['cat/r0', 'cat/r1', 'cat/r2', 'cat/r3', 'cat/r4'];
    // A blob link alone makes a repository (one with _layers) for the catalog.
    for (const name of names) await client.pushBlob(name, Buffer.from(name));

    const pages: string[] = [];
    const counting = registry.newClient({
      onRequest: ({ path, status }) => {
        if (path === '/v2/_catalog') pages.push(String(status));
      },
    });
    const all: string[] = [];
    for await (const name of counting.catalog({ pageSize: 2 })) all.push(name);

    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining(names));
    expect(new Set(all).size).toBe(all.length);
    expect(pages).toEqual(Array.from({ length: Math.ceil(all.length / 2) }, () => '200'));
    expect(counting.calls).toBe(pages.length);
  });

  it('mints one token per scope set and reuses it until it nears expiry', async () => {
    await pushArtifact(registry.client, 'team/tokens', 'v1', buildImage());
    const minted: string[][] = [];
    const client = new RegistryClient({
      baseUrl: registry.url,
      auth: bearerTokens(async (scopes) => {
        minted.push([...scopes]);
        return registry.token(scopes);
      }),
    });
    await Promise.all([client.listTags('team/tokens'), client.listTags('team/tokens'), client.headManifest('team/tokens', 'v1')]);
    await client.listTags('team/other');
    expect(minted).toEqual([['repository:team/tokens:pull'], ['repository:team/other:pull']]);
    expect(client.calls).toBe(4);

    const shortLived = new RegistryClient({
      baseUrl: registry.url,
      auth: bearerTokens(async (scopes) => {
        minted.push([...scopes]);
        return (await registry.signer.sign('test', [], { lifetimeSeconds: 20 })).token;
      }),
    });
    await shortLived.ping();
    await shortLived.ping();
    expect(minted).toHaveLength(4); // 20 s is inside the refresh margin: never reused
  });

  it('reports a token without the needed scope as UNAUTHORIZED', async () => {
    await pushArtifact(registry.client, 'team/granted', 'v1', buildImage());
    await pushArtifact(registry.client, 'team/not-granted', 'v1', buildImage());
    const client = new RegistryClient({
      baseUrl: registry.url,
      auth: bearerTokens(() => registry.token(['repository:team/granted:pull'])),
    });
    expect(await client.listTags('team/granted')).toEqual(['v1']);
    const error = await rejection(client.listTags('team/not-granted'));
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
  });
});
