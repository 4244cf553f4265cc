import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/registry/v2/errors.js';
import {
  dedupedSize,
  imageBlobs,
  imageSize,
  indexPlatforms,
  MediaType,
  parseImageConfig,
  parseManifest,
  type ImageIndex,
  type ImageManifest,
} from '../../../src/registry/v2/manifest.js';

const digest = (char: string): string => `sha256:${char.repeat(64)}`;

const ociImage = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: digest('c'), size: 400 },
  layers: [
    { mediaType: MediaType.ociLayerGzip, digest: digest('1'), size: 1000 },
    { mediaType: MediaType.ociLayerGzip, digest: digest('2'), size: 250 },
  ],
  annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
};

function parseImage(json: unknown, contentType?: string): ImageManifest {
  const manifest = parseManifest(json, contentType);
  if (manifest.kind !== 'image') throw new Error(`expected an image, got ${manifest.kind}`);
  return manifest;
}

function parseIndex(json: unknown, contentType?: string): ImageIndex {
  const manifest = parseManifest(json, contentType);
  if (manifest.kind !== 'index') throw new Error(`expected an index, got ${manifest.kind}`);
  return manifest;
}

describe('parseManifest', () => {
  it('reads an OCI image manifest: config digest, layers with sizes, annotations', () => {
    const manifest = parseImage(ociImage);
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    expect(manifest.config.digest).toBe(digest('c'));
    expect(manifest.layers.map((layer) => [layer.digest, layer.size])).toEqual([
      [digest('1'), 1000],
      [digest('2'), 250],
    ]);
    expect(manifest.annotations).toEqual(ociImage.annotations);
    expect(imageSize(manifest)).toBe(1250);
    expect(imageBlobs(manifest).map((blob) => blob.digest)).toEqual([digest('c'), digest('1'), digest('2')]);
  });

  it('reads a Docker schema2 manifest by its declared media type', () => {
    const manifest = parseImage({
      ...ociImage,
      mediaType: MediaType.dockerManifest,
      config: { ...ociImage.config, mediaType: MediaType.dockerConfig },
      annotations: undefined,
    });
    expect(manifest.mediaType).toBe(MediaType.dockerManifest);
    expect(manifest.annotations).toEqual({});
  });

  it('takes the media type from Content-Type when the document has none, else from its shape', () => {
    const { mediaType: _omitted, ...withoutMediaType } = ociImage;
    expect(parseManifest(withoutMediaType, MediaType.dockerManifest).mediaType).toBe(MediaType.dockerManifest);
    expect(parseManifest(withoutMediaType).mediaType).toBe(MediaType.ociManifest);
    expect(parseManifest({ schemaVersion: 2, manifests: [] }).mediaType).toBe(MediaType.ociIndex);
  });

  it('reads an index and lists its runnable platforms, skipping attestations and platformless children', () => {
    const index = parseIndex({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifestList,
      manifests: [
        { mediaType: MediaType.dockerManifest, digest: digest('a'), size: 500, platform: { os: 'linux', architecture: 'amd64' } },
        {
          mediaType: MediaType.dockerManifest,
          digest: digest('b'),
          size: 501,
          platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        },
        {
          mediaType: MediaType.ociManifest,
          digest: digest('d'),
          size: 840,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': digest('a') },
        },
        { mediaType: MediaType.ociManifest, digest: digest('e'), size: 300 },
      ],
    });
    expect(index.mediaType).toBe(MediaType.dockerManifestList);
    expect(index.manifests).toHaveLength(4);
    expect(indexPlatforms(index)).toEqual([
      { digest: digest('a'), mediaType: MediaType.dockerManifest, size: 500, os: 'linux', architecture: 'amd64' },
      { digest: digest('b'), mediaType: MediaType.dockerManifest, size: 501, os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
  });

  it.each([
    ['a schema1 manifest', { schemaVersion: 1, name: 'team/app', tag: 'v1', fsLayers: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['a layer with a broken digest', { ...ociImage, layers: [{ mediaType: MediaType.ociLayerGzip, digest: 'sha256:xyz', size: 1 }] }, undefined],
    ['a negative size', { ...ociImage, config: { ...ociImage.config, size: -1 } }, undefined],
    ['an index media type over an image body', { ...ociImage, mediaType: MediaType.ociIndex }, undefined],
    ['something that is not a manifest', 'hello', undefined],
  ])('rejects %s with MANIFEST_INVALID', (_name, json, contentType) => {
    let caught: unknown;
    try {
      parseManifest(json, contentType);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    expect((caught as RegistryError).code).toBe('MANIFEST_INVALID');
  });
});

describe('dedupedSize', () => {
  it('counts a blob shared by several images once', () => {
    const base = { digest: digest('1'), size: 1000 };
    const images = [
      [{ digest: digest('c'), size: 10 }, base, { digest: digest('2'), size: 5 }],
      [{ digest: digest('d'), size: 10 }, base, { digest: digest('3'), size: 7 }],
    ];
    expect(dedupedSize(images.flat())).toBe(10 + 1000 + 5 + 10 + 7);
    expect(dedupedSize([])).toBe(0);
  });
});

describe('parseImageConfig', () => {
  it('reads created, os, architecture and variant', () => {
    const config = parseImageConfig({
      created: '2026-11-25T14:53:21.258123456Z',
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
      rootfs: { type: 'layers', diff_ids: [] },
    });
    expect(config).toEqual({ created: new Date('2026-11-25T14:53:21.258Z'), os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  it('turns missing or malformed fields into null instead of failing', () => {
    expect(parseImageConfig({ created: 'yesterday', os: 42 })).toEqual({ created: null, os: null, architecture: null, variant: null });
    expect(parseImageConfig(null)).toEqual({ created: null, os: null, architecture: null, variant: null });
  });
});
