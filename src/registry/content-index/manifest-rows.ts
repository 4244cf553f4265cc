import { type ImageConfig, imageBlobs, indexPlatforms, type Manifest, parseImageConfig, parseManifest } from '../v2/manifest.js';

/** A manifest as the content index keeps it: its facts, and what it references in document order. */
export interface ManifestRows {
  manifest: {
    digest: string;
    mediaType: string;
    size: bigint;
    isIndex: boolean;
    configDigest: string | null;
    created: Date | null;
    os: string | null;
    architecture: string | null;
    variant: string | null;
    imageBytes: bigint | null;
    subject: string | null;
  };
  references: {
    manifestDigest: string;
    position: number;
    digest: string;
    mediaType: string;
    size: bigint;
    os: string | null;
    architecture: string | null;
    variant: string | null;
  }[];
}

/**
 * The rows for a manifest document and (for an image) its parsed config. Garbage collection marks
 * exactly these references, so storage figures computed from them match what a sweep frees.
 */
export function manifestRows(digest: string, size: number, manifest: Manifest, config: ImageConfig | null): ManifestRows {
  if (manifest.kind === 'image') {
    const blobs = imageBlobs(manifest);
    return {
      manifest: {
        digest,
        mediaType: manifest.mediaType,
        size: BigInt(size),
        isIndex: false,
        configDigest: manifest.config.digest,
        created: config?.created ?? null,
        os: config?.os ?? null,
        architecture: config?.architecture ?? null,
        variant: config?.variant ?? null,
        imageBytes: blobs.reduce((total, blob) => total + BigInt(blob.size), 0n),
        subject: manifest.subject?.digest ?? null,
      },
      references: blobs.map((blob, position) => ({
        manifestDigest: digest,
        position,
        digest: blob.digest,
        mediaType: blob.mediaType,
        size: BigInt(blob.size),
        os: null,
        architecture: null,
        variant: null,
      })),
    };
  }
  const runnable = new Map(indexPlatforms(manifest).map((platform) => [platform.digest, platform]));
  return {
    manifest: {
      digest,
      mediaType: manifest.mediaType,
      size: BigInt(size),
      isIndex: true,
      configDigest: null,
      created: null,
      os: null,
      architecture: null,
      variant: null,
      imageBytes: null,
      subject: null,
    },
    references: manifest.manifests.map((child, position) => {
      const platform = runnable.get(child.digest);
      return {
        manifestDigest: digest,
        position,
        digest: child.digest,
        mediaType: child.mediaType,
        size: BigInt(child.size),
        os: platform?.os ?? null,
        architecture: platform?.architecture ?? null,
        variant: platform?.variant ?? null,
      };
    }),
  };
}

/** Where the index reads manifests it does not know yet: the registry's API, or its storage files. */
export interface ManifestSource {
  /** The rows for `digest` as stored in `repository`, or null when the backend no longer has it. */
  read(repository: string, digest: string): Promise<ManifestRows | null>;
}

/** Reads a manifest document and, for an image, its config blob, each by digest; null when either read finds nothing. */
export function manifestSource(read: {
  document: (repository: string, digest: string) => Promise<Uint8Array | null>;
  json: (repository: string, digest: string) => Promise<unknown>;
}): ManifestSource {
  return {
    read: async (repository, digest) => {
      const document = await read.document(repository, digest);
      if (document === null) return null;
      const manifest = parseManifest(JSON.parse(new TextDecoder().decode(document)));
      const config = manifest.kind === 'image' ? await read.json(repository, manifest.config.digest) : null;
      return manifestRows(digest, document.byteLength, manifest, config === null ? null : parseImageConfig(config));
    },
  };
}
