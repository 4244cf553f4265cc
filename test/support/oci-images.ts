import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { RegistryClient } from '../../src/registry/v2/client.js';
import { MediaType, type Platform } from '../../src/registry/v2/manifest.js';

/**
 * Small random container images built in memory, for pushing through the V2 API or for skopeo
 * through an OCI image layout on disk. Every build has fresh random layer content, so digests
 * never collide between tests.
 */

const execFileAsync = promisify(execFile);

export type Flavor = 'oci' | 'docker';

export interface TestBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
  /** Layers only: the digest of the uncompressed tar, as the config's rootfs lists it. */
  diffId?: string;
}

export interface TestImage {
  kind: 'image';
  mediaType: string;
  digest: string;
  manifest: Buffer;
  config: TestBlob;
  layers: TestBlob[];
  platform: Platform;
  created: string;
}

export interface TestIndex {
  kind: 'index';
  mediaType: string;
  digest: string;
  manifest: Buffer;
  children: TestImage[];
}

export type TestArtifact = TestImage | TestIndex;

export interface ImageOptions {
  platform?: Platform;
  flavor?: Flavor;
  /** @default 1 */
  layerCount?: number;
  /** Random bytes in each layer's one file. @default 64 */
  layerBytes?: number;
  /** @default now */
  created?: string;
  /** Layers of another image to build on (shared blobs), before this image's own new layers. */
  baseLayers?: TestBlob[];
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function buildImage(options: ImageOptions = {}): TestImage {
  const { platform = { os: 'linux', architecture: 'amd64' }, flavor = 'oci', layerCount = 1, layerBytes = 64 } = options;
  const created = options.created ?? new Date().toISOString();
  const layerMediaType = flavor === 'oci' ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip;
  const tars = Array.from({ length: layerCount }, (_, i) =>
    tarArchive([{ name: `layer-${i}/random.bin`, content: randomBytes(layerBytes) }]),
  );
  const layers = [...(options.baseLayers ?? []), ...tars.map((tar) => ({ ...blob(layerMediaType, gzipSync(tar)), diffId: sha256Digest(tar) }))];
  const configJson = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: ['/bin/true'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `berth test layer ${i}` })),
  };
  const config = blob(flavor === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig, Buffer.from(JSON.stringify(configJson)));
  const mediaType = flavor === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: descriptor(config),
      layers: layers.map(descriptor),
    }),
  );
  return { kind: 'image', mediaType, digest: sha256Digest(manifest), manifest, config, layers, platform, created };
}

/** A multi-platform index (OCI) or manifest list (Docker) over one fresh image per platform. */
export function buildIndex(platforms: readonly Platform[], options: Omit<ImageOptions, 'platform'> = {}): TestIndex {
  const flavor = options.flavor ?? 'oci';
  const children = platforms.map((platform) => buildImage({ ...options, platform }));
  const mediaType = flavor === 'oci' ? MediaType.ociIndex : MediaType.dockerManifestList;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map((child) => ({
        mediaType: child.mediaType,
        digest: child.digest,
        size: child.manifest.length,
        platform: child.platform,
      })),
    }),
  );
  return { kind: 'index', mediaType, digest: sha256Digest(manifest), manifest, children };
}

/** Config and layers of an image, or of every child of an index. */
export function blobsOf(artifact: TestArtifact): TestBlob[] {
  return artifact.kind === 'image'
    ? [artifact.config, ...artifact.layers]
    : artifact.children.flatMap((child) => blobsOf(child));
}

/** Pushes blobs, then index children by digest, then the top manifest under `tag`; returns its digest. */
export async function pushArtifact(
  client: RegistryClient,
  repository: string,
  tag: string,
  artifact: TestArtifact,
): Promise<string> {
  for (const { bytes } of blobsOf(artifact)) await client.pushBlob(repository, bytes);
  if (artifact.kind === 'index') {
    for (const child of artifact.children) {
      await client.putManifest(repository, child.digest, child.mediaType, child.manifest);
    }
  }
  return client.putManifest(repository, tag, artifact.mediaType, artifact.manifest);
}

interface LayoutEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciLayoutImage {
  dir: string;
  tag: string;
  /** skopeo's transport reference, `oci:<dir>:<tag>`. */
  reference: string;
  /** skopeo needs `--all` to copy every child of an index, not just the host's platform. */
  all: boolean;
}

/** Adds `artifact` to the OCI image layout in `dir` under `tag` (creating the layout if needed). */
export async function writeOciLayout(dir: string, tag: string, artifact: TestArtifact): Promise<OciLayoutImage> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const write = (digest: string, bytes: Buffer): Promise<void> => writeFile(join(blobDir, digest.slice('sha256:'.length)), bytes);
  for (const { digest, bytes } of blobsOf(artifact)) await write(digest, bytes);
  if (artifact.kind === 'index') for (const child of artifact.children) await write(child.digest, child.manifest);
  await write(artifact.digest, artifact.manifest);

  const indexPath = join(dir, 'index.json');
  const refName = 'org.opencontainers.image.ref.name';
  const existing = await readFile(indexPath, 'utf8').then(
    (text) => JSON.parse(text) as { manifests: LayoutEntry[] },
    () => ({ manifests: [] }),
  );
  const manifests = existing.manifests.filter((entry) => entry.annotations?.[refName] !== tag);
  manifests.push({
    mediaType: artifact.mediaType,
    digest: artifact.digest,
    size: artifact.manifest.length,
    annotations: { [refName]: tag },
  });
  await writeFile(indexPath, JSON.stringify({ schemaVersion: 2, manifests }));
  return { dir, tag, reference: `oci:${dir}:${tag}`, all: artifact.kind === 'index' };
}

export interface SkopeoCopyOptions {
  /** Bearer token for a `docker://` source (`--src-registry-token`). */
  sourceToken?: string;
  /** Bearer token for a `docker://` destination (`--dest-registry-token`). */
  destinationToken?: string;
  /** `user:password` for a `docker://` source, exchanged at the registry's token realm (`--src-creds`). */
  sourceCreds?: string;
  /** `user:password` for a `docker://` destination (`--dest-creds`). */
  destinationCreds?: string;
  /** A docker config.json for both sides (`--authfile`). */
  authfile?: string;
  all?: boolean;
  /** @default 30_000 */
  timeoutMs?: number;
}

/** Runs `skopeo copy` against a plain-HTTP registry; rejects with skopeo's stderr on failure. */
export async function skopeoCopy(source: string, destination: string, options: SkopeoCopyOptions = {}): Promise<void> {
  const flags = ['--quiet'];
  if (options.all) flags.push('--all');
  if (source.startsWith('docker://')) flags.push('--src-tls-verify=false');
  if (destination.startsWith('docker://')) flags.push('--dest-tls-verify=false');
  const tokens: string[] = [];
  if (options.sourceToken) tokens.push('--src-registry-token', options.sourceToken);
  if (options.destinationToken) tokens.push('--dest-registry-token', options.destinationToken);
  if (options.sourceCreds) tokens.push('--src-creds', options.sourceCreds);
  if (options.destinationCreds) tokens.push('--dest-creds', options.destinationCreds);
  if (options.authfile) tokens.push('--authfile', options.authfile);
  if (source.startsWith('docker://') && !options.sourceToken && !options.sourceCreds && !options.authfile) flags.push('--src-no-creds');
  if (destination.startsWith('docker://') && !options.destinationToken && !options.destinationCreds && !options.authfile) flags.push('--dest-no-creds');
  try {
    await execFileAsync('skopeo', ['copy', ...flags, ...tokens, source, destination], {
      timeout: options.timeoutMs ?? 30_000,
    });
  } catch (error) {
    const stderr = error instanceof Error && 'stderr' in error ? String(error.stderr) : String(error);
    throw new Error(`skopeo copy ${[...flags, source, destination].join(' ')} failed: ${stderr}`, { cause: error });
  }
}

function blob(mediaType: string, bytes: Buffer): TestBlob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

function descriptor({ mediaType, digest, size }: TestBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType, digest, size };
}

/** A ustar archive of regular files: 512-byte header per file, content padded to 512, two zero blocks. */
function tarArchive(files: readonly { name: string; content: Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const { name, content } of files) {
    blocks.push(tarHeader(name, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const octal = (value: number, width: number): string => `${value.toString(8).padStart(width - 1, '0')}\0`;
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100); // mode
  header.write(octal(0, 8), 108); // uid
  header.write(octal(0, 8), 116); // gid
  header.write(octal(size, 12), 124);
  header.write(octal(0, 12), 136); // mtime: fixed, so equal content gives equal layers
  header.write(' '.repeat(8), 148); // the checksum counts its own field as spaces
  header.write('0', 156); // regular file
  header.write('ustar\0', 257);
  header.write('00', 263);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}
