import { z } from 'zod';
import { RegistryError } from './errors.js';
import { isDigest } from './reference.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const IMAGE_MANIFEST_MEDIA_TYPES = [MediaType.ociManifest, MediaType.dockerManifest] as const;
export const INDEX_MEDIA_TYPES = [MediaType.ociIndex, MediaType.dockerManifestList] as const;
/**
 * Every manifest GET/HEAD must accept all four: with fewer, distribution 2.8 answers 404 for OCI
 * content, rewrites schema2 into schema1 (another digest) or substitutes a list's amd64 child.
 */
export const MANIFEST_MEDIA_TYPES = [...IMAGE_MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES] as const;

export type ImageManifestMediaType = (typeof IMAGE_MANIFEST_MEDIA_TYPES)[number];
export type IndexMediaType = (typeof INDEX_MEDIA_TYPES)[number];
export type ManifestMediaType = (typeof MANIFEST_MEDIA_TYPES)[number];

const platformSchema = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
});

const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().refine(isDigest, 'not a digest'),
  size: z.number().int().nonnegative(),
  platform: platformSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});

export type Platform = z.infer<typeof platformSchema>;
export type Descriptor = z.infer<typeof descriptorSchema>;

export interface ImageManifest {
  kind: 'image';
  mediaType: ImageManifestMediaType;
  config: Descriptor;
  layers: Descriptor[];
  /** OCI 1.1: the manifest this one is about (a signature, an SBOM, an attestation). */
  subject: Descriptor | null;
  annotations: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: IndexMediaType;
  manifests: Descriptor[];
  annotations: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

/** An index child that runs somewhere: it has a platform and is not an attestation. */
export interface PlatformManifest extends Platform {
  digest: string;
  mediaType: string;
  size: number;
}

/**
 * Parses a manifest document. The media type comes from the document, else from the response's
 * `Content-Type`, else from its shape (OCI makes `mediaType` optional). Throws MANIFEST_INVALID for
 * anything that is not one of the four supported types, such as a schema1 manifest.
 */
export function parseManifest(json: unknown, contentType?: string): Manifest {
  const declared = mediaTypeOf(json) ?? contentType ?? inferredMediaType(json);
  if (isImageManifestMediaType(declared)) {
    const parsed = imageManifestSchema.safeParse(json);
    if (!parsed.success) throw invalid(`${declared}: ${parsed.error.message}`);
    const { config, layers, subject, annotations = {} } = parsed.data;
    return { kind: 'image', mediaType: declared, config, layers, subject: subject ?? null, annotations };
  }
  if (isIndexMediaType(declared)) {
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) throw invalid(`${declared}: ${parsed.error.message}`);
    const { manifests, annotations = {} } = parsed.data;
    return { kind: 'index', mediaType: declared, manifests, annotations };
  }
  throw invalid(`unsupported manifest media type ${declared ?? '(none)'}`);
}

/** The image's size as registries report it: its compressed layers (the config is not counted). */
export function imageSize(manifest: ImageManifest): number {
  return manifest.layers.reduce((total, layer) => total + layer.size, 0);
}

/** Every blob an image references: its config first, then its layers. */
export function imageBlobs(manifest: ImageManifest): Descriptor[] {
  return [manifest.config, ...manifest.layers];
}

/**
 * The runnable children of an index with their platforms. Children without a platform and
 * BuildKit attestation manifests (platform unknown/unknown) are left out.
 */
export function indexPlatforms(index: ImageIndex): PlatformManifest[] {
  return index.manifests.flatMap(({ digest, mediaType, size, platform, annotations }) => {
    if (!platform || annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return [];
    return [{ digest, mediaType, size, ...platform }];
  });
}

/** Bytes stored for a set of blobs: each digest counts once however many images share it. */
export function dedupedSize(blobs: Iterable<Pick<Descriptor, 'digest' | 'size'>>): number {
  const sizes = new Map<string, number>();
  for (const { digest, size } of blobs) sizes.set(digest, size);
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

const imageConfigSchema = z.object({
  created: z.iso.datetime({ offset: true }).optional().catch(undefined),
  os: z.string().optional().catch(undefined),
  architecture: z.string().optional().catch(undefined),
  variant: z.string().optional().catch(undefined),
});

export interface ImageConfig {
  created: Date | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
}

/** The fields berth shows from an image config blob; missing or malformed ones become null. */
export function parseImageConfig(json: unknown): ImageConfig {
  const parsed = imageConfigSchema.safeParse(json);
  const config = parsed.success ? parsed.data : {};
  return {
    created: config.created === undefined ? null : new Date(config.created),
    os: config.os ?? null,
    architecture: config.architecture ?? null,
    variant: config.variant ?? null,
  };
}

export function isImageManifestMediaType(mediaType: string | undefined): mediaType is ImageManifestMediaType {
  return (IMAGE_MANIFEST_MEDIA_TYPES as readonly (string | undefined)[]).includes(mediaType);
}

export function isIndexMediaType(mediaType: string | undefined): mediaType is IndexMediaType {
  return (INDEX_MEDIA_TYPES as readonly (string | undefined)[]).includes(mediaType);
}

function mediaTypeOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || !('mediaType' in json)) return undefined;
  return typeof json.mediaType === 'string' ? json.mediaType : undefined;
}

function inferredMediaType(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  if ('manifests' in json) return MediaType.ociIndex;
  if ('layers' in json) return MediaType.ociManifest;
  return undefined;
}

function invalid(reason: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `invalid manifest: ${reason}`);
}
