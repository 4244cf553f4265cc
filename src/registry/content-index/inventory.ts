import type { RegistryStorage } from '../hosted/storage.js';
import type { RegistryClient } from '../v2/client.js';
import { RegistryNotFoundError } from '../v2/errors.js';
import { type ManifestSource, manifestSource } from './manifest-rows.js';

/** What one repository of the backend holds right now. */
export interface StoredRepository {
  path: string;
  /** Each tag's digest. */
  tags: Map<string, string>;
  /** Every manifest it links, tagged or not; null where the backend cannot list them (the V2 API only shows tagged ones). */
  revisions: string[] | null;
  /** Blobs linked into it. */
  links: string[];
}

/** How a reconcile sees the backend. */
export interface Inventory {
  /** Every repository path, one at a time. */
  paths(): AsyncIterable<string>;
  describe(paths: readonly string[]): Promise<StoredRepository[]>;
  /** Stored blobs, one digest prefix at a time in digest order; null where the backend cannot list its blobs. */
  blobs: (() => AsyncIterable<{ prefix: string; blobs: { digest: string; size: number }[] }>) | null;
  /** Whether a manifest the listing cannot show is still linked into the repository. */
  hasManifest(path: string, digest: string): Promise<boolean>;
  manifests: ManifestSource;
}

/** The embedded registry's storage, read directly: complete (untagged manifests, blobs) and no pulls recorded. */
export function storageInventory(storage: RegistryStorage): Inventory {
  const readJson = async (digest: string): Promise<unknown> => {
    const bytes = await storage.readBlob(digest);
    return bytes === null ? null : JSON.parse(bytes.toString('utf8'));
  };
  return {
    paths: () => storage.walkRepositories(),
    describe: (paths) =>
      Promise.all(
        paths.map(async (path) => {
          const [tags, revisions, links] = await Promise.all([storage.tags(path), storage.revisions(path), storage.layerLinks(path)]);
          return { path, tags, revisions, links };
        }),
      ),
    blobs: () => storage.walkBlobs(),
    hasManifest: async (path, digest) => (await storage.revisions(path)).includes(digest),
    manifests: manifestSource({ document: (_repository, digest) => storage.readBlob(digest), json: (_repository, digest) => readJson(digest) }),
  };
}

/** Manifests and configs by digest over the V2 API (berth's own reads, not counted as pulls). */
export function v2ManifestSource(client: RegistryClient): ManifestSource {
  return manifestSource({
    document: async (repository, digest) => (await orNull(() => client.getManifest(repository, digest)))?.bytes ?? null,
    json: (repository, digest) => orNull(() => client.getBlobJson(repository, digest)),
  });
}

/** An existing registry berth does not run (BERTH_REGISTRY_URL), read over its V2 API as berth. */
export function v2Inventory(client: RegistryClient): Inventory {
  return {
    paths: () => client.catalog(),
    describe: (paths) =>
      Promise.all(
        paths.map(async (path) => {
          const names = await client.listTags(path);
          const heads = await Promise.all(names.map((tag) => client.headManifest(path, tag)));
          const tags = new Map(names.flatMap((tag, i) => (heads[i] ? [[tag, heads[i]!.digest] as const] : [])));
          return { path, tags, revisions: null, links: [] };
        }),
      ),
    blobs: null,
    hasManifest: async (path, digest) => (await client.headManifest(path, digest)) !== null,
    manifests: v2ManifestSource(client),
  };
}

async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof RegistryNotFoundError) return null;
    throw error;
  }
}
