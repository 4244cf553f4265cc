import { RegistryNotFoundError } from './v2/errors.js';
import type { LoadedManifest, ManifestKey, RegistryLoaders } from './loaders.js';
import { imageBlobs, indexPlatforms } from './v2/manifest.js';

/**
 * What a hosted registry or repository holds and how much storage it takes, read through the
 * request's loaders (so every tag list and manifest is fetched once however many fields ask).
 * The V2 API only reaches manifests through tags: an untagged manifest is invisible here.
 */

export interface RegistryUsage {
  /** Every blob stored under the slug counted once: manifests, index children, configs and layers. */
  bytes: number;
  /** Repositories that hold at least one tag. */
  repositories: number;
  /** Distinct tagged manifests, per repository. */
  images: number;
}

/** A tagged manifest of a repository and the tags that point at it (sorted). */
export interface TaggedManifest {
  loaded: LoadedManifest;
  tags: string[];
}

/** Deduplicated storage, repository and image counts of everything under `<slug>/`. */
export async function registryUsage(loaders: RegistryLoaders, slug: string): Promise<RegistryUsage> {
  const paths = await listRepositories(loaders, slug);
  const blobs = new Map<string, number>();
  let images = 0;
  await Promise.all(
    paths.map(async (path) => {
      const manifests = await taggedManifests(loaders, path);
      images += manifests.size;
      await Promise.all([...manifests.values()].map(({ loaded }) => collectBlobs(loaders, path, loaded, blobs)));
    }),
  );
  return { bytes: sum(blobs.values()), repositories: paths.length, images };
}

/** Deduplicated storage of one repository (`<slug>/<name>`). */
export async function repositoryBytes(loaders: RegistryLoaders, path: string): Promise<number> {
  const blobs = new Map<string, number>();
  const manifests = await taggedManifests(loaders, path);
  await Promise.all([...manifests.values()].map(({ loaded }) => collectBlobs(loaders, path, loaded, blobs)));
  return sum(blobs.values());
}

/**
 * The backend paths under `<slug>/` that still hold a tag. The registry never drops a repository
 * from its catalog, not even once its last manifest is deleted, so emptiness decides.
 */
export async function listRepositories(loaders: RegistryLoaders, slug: string): Promise<string[]> {
  const paths = await loaders.repositories.load(slug);
  const tags = await Promise.all(paths.map((path) => loaders.tags.load(path)));
  return paths.filter((_, i) => tags[i]!.length > 0);
}

/** The distinct manifests the tags of a repository point at, keyed by digest, in tag order. */
export async function taggedManifests(loaders: RegistryLoaders, path: string): Promise<Map<string, TaggedManifest>> {
  const tags = await loaders.tags.load(path);
  const loaded = await Promise.all(tags.map((tag) => loadManifest(loaders, { repository: path, reference: tag })));
  const byDigest = new Map<string, TaggedManifest>();
  tags.forEach((tag, i) => {
    const manifest = loaded[i];
    if (!manifest) return;
    const entry = byDigest.get(manifest.digest);
    if (entry) entry.tags.push(tag);
    else byDigest.set(manifest.digest, { loaded: manifest, tags: [tag] });
  });
  return byDigest;
}

/**
 * An image's size: its config and layers; for an index, the sum of its platform images. A child
 * the registry no longer has (2.8 deletes children without checking their index) counts nothing.
 */
export async function imageBytes(loaders: RegistryLoaders, path: string, loaded: LoadedManifest): Promise<number> {
  const { manifest } = loaded;
  if (manifest.kind === 'image') return sum(imageBlobs(manifest).map((blob) => blob.size));
  const children = await Promise.all(
    indexPlatforms(manifest).map((platform) => loadManifest(loaders, { repository: path, reference: platform.digest })),
  );
  const sizes = await Promise.all(children.map((child) => (child ? imageBytes(loaders, path, child) : 0)));
  return sum(sizes);
}

/** A manifest, or null when the tag or digest is gone (deleted between listing and reading it). */
export async function loadManifest(loaders: RegistryLoaders, key: ManifestKey): Promise<LoadedManifest | null> {
  try {
    return await loaders.manifests.load(key);
  } catch (error) {
    if (error instanceof RegistryNotFoundError) return null;
    throw error;
  }
}

/** Adds a manifest, its blobs and (for an index) every child with theirs to `blobs`, digest → size. */
async function collectBlobs(loaders: RegistryLoaders, path: string, loaded: LoadedManifest, blobs: Map<string, number>): Promise<void> {
  if (blobs.has(loaded.digest)) return;
  blobs.set(loaded.digest, loaded.size);
  const { manifest } = loaded;
  if (manifest.kind === 'image') {
    for (const blob of imageBlobs(manifest)) blobs.set(blob.digest, blob.size);
    return;
  }
  await Promise.all(
    manifest.manifests.map(async (child) => {
      const childManifest = await loadManifest(loaders, { repository: path, reference: child.digest });
      if (childManifest) await collectBlobs(loaders, path, childManifest, blobs);
    }),
  );
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
