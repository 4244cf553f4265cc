import DataLoader from 'dataloader';
import type { RegistryClient } from './v2/client.js';
import { type ImageConfig, type Manifest, parseImageConfig } from './v2/manifest.js';
import { isDigest } from './v2/reference.js';

/** A manifest by tag or digest in one repository of the backend (`<slug>/<name>`). */
export interface ManifestKey {
  repository: string;
  reference: string;
}

/** A blob by digest in one repository of the backend. */
export interface BlobKey {
  repository: string;
  digest: string;
}

/** What berth keeps of a fetched manifest: its identity and its parsed content. */
export interface LoadedManifest {
  digest: string;
  mediaType: string;
  /** Bytes of the manifest document itself. */
  size: number;
  manifest: Manifest;
}

export type BackendCallKind = 'catalog' | 'tags' | 'manifest' | 'config';

export interface BackendCallSummary {
  total: number;
  /** Catalog walks (each walk follows every page). */
  catalog: number;
  tags: number;
  manifests: number;
  configs: number;
  /** Calls that asked the backend again for something this request had already asked for. */
  repeated: number;
}

/** The backend calls of one request, so batching can be observed (`x-berth-debug: calls`) and asserted. */
export class BackendCallLog {
  private readonly counts = new Map<string, number>();
  private readonly byKind: Record<BackendCallKind, number> = { catalog: 0, tags: 0, manifest: 0, config: 0 };

  record(kind: BackendCallKind, key: string): void {
    const id = `${kind} ${key}`;
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.byKind[kind] += 1;
  }

  summary(): BackendCallSummary {
    let total = 0;
    let repeated = 0;
    for (const count of this.counts.values()) {
      total += count;
      repeated += count - 1;
    }
    const { catalog, tags, manifest, config } = this.byKind;
    return { total, catalog, tags, manifests: manifest, configs: config, repeated };
  }
}

const DEFAULT_CACHE_ENTRIES = 5_000;

/**
 * Manifests and image configs fetched by digest, shared by every request: content under a digest
 * never changes. Manifests are kept per repository, because a digest can be deleted from one
 * repository and stay in another; the activity index forgets a manifest when the registry reports
 * its deletion. Configs are only ever reached through a manifest of the same repository, so they
 * are kept by digest alone.
 */
export class RegistryContentCache {
  private readonly manifests: Lru<LoadedManifest>;
  private readonly configs: Lru<ImageConfig>;

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.manifests = new Lru(maxEntries);
    this.configs = new Lru(maxEntries);
  }

  manifest(repository: string, digest: string): LoadedManifest | undefined {
    return this.manifests.get(`${repository}@${digest}`);
  }

  rememberManifest(repository: string, loaded: LoadedManifest): void {
    this.manifests.set(`${repository}@${loaded.digest}`, loaded);
  }

  forgetManifest(repository: string, digest: string): void {
    this.manifests.delete(`${repository}@${digest}`);
  }

  config(digest: string): ImageConfig | undefined {
    return this.configs.get(digest);
  }

  rememberConfig(digest: string, config: ImageConfig): void {
    this.configs.set(digest, config);
  }

  /** Drops everything (the benchmark measures cold requests with it). */
  clear(): void {
    this.manifests.clear();
    this.configs.clear();
  }
}

/**
 * Loaders for ONE request (or one subscription operation): never module-level, since each request
 * sees the registry as it is now. The V2 API has no multi-get, so batching here means each key is
 * fetched once per request and whatever was fetched by digest once per process.
 */
export function createRegistryLoaders(client: RegistryClient, cache: RegistryContentCache) {
  const calls = new BackendCallLog();

  let catalog: Promise<string[]> | undefined;
  const walkCatalog = (): Promise<string[]> => {
    catalog ??= (async () => {
      calls.record('catalog', '');
      const paths: string[] = [];
      for await (const path of client.catalog()) paths.push(path);
      return paths;
    })();
    return catalog;
  };

  /** Backend paths under `<slug>/`, from one catalog walk per request. */
  const repositories = new DataLoader<string, readonly string[]>(async (slugs) => {
    try {
      const paths = await walkCatalog();
      return slugs.map((slug) => paths.filter((path) => path.startsWith(`${slug}/`)));
    } catch (error) {
      return slugs.map(() => asError(error));
    }
  });

  /** A repository's tags, sorted by name ([] for an unknown repository or one without tags). */
  const tags = new DataLoader<string, readonly string[]>((paths) =>
    settle(
      paths.map(async (path) => {
        calls.record('tags', path);
        return (await client.listTags(path)).sort();
      }),
    ),
  );

  const manifestKey = ({ repository, reference }: ManifestKey): string => `${repository}@${reference}`;
  const manifests: DataLoader<ManifestKey, LoadedManifest, string> = new DataLoader(
    (keys) =>
      settle(
        keys.map(async ({ repository, reference }) => {
          const byDigest = isDigest(reference);
          const cached = byDigest ? cache.manifest(repository, reference) : undefined;
          if (cached) return cached;
          calls.record('manifest', manifestKey({ repository, reference }));
          const { digest, mediaType, size, manifest } = await client.getManifest(repository, reference);
          const loaded: LoadedManifest = { digest, mediaType, size, manifest };
          cache.rememberManifest(repository, loaded);
          // Tags resolve to digests; whatever asks for this digest next must not fetch it again.
          if (!byDigest) manifests.prime({ repository, reference: digest }, loaded);
          return loaded;
        }),
      ),
    { cacheKeyFn: manifestKey },
  );

  const configs = new DataLoader<BlobKey, ImageConfig, string>(
    (keys) =>
      settle(
        keys.map(async ({ repository, digest }) => {
          const cached = cache.config(digest);
          if (cached) return cached;
          calls.record('config', digest);
          const config = parseImageConfig(await client.getBlobJson(repository, digest));
          cache.rememberConfig(digest, config);
          return config;
        }),
      ),
    { cacheKeyFn: ({ digest }) => digest },
  );

  return { repositories, tags, manifests, configs, calls };
}

export type RegistryLoaders = ReturnType<typeof createRegistryLoaders>;

/** DataLoader's contract: one result per key, in key order; a failed key is an Error value, not a rejected batch. */
async function settle<T>(work: Promise<T>[]): Promise<(T | Error)[]> {
  const results = await Promise.allSettled(work);
  return results.map((result) => (result.status === 'fulfilled' ? result.value : asError(result.reason)));
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** A Map kept in recency order: a hit moves the entry to the end, an insert past the bound drops the oldest. */
class Lru<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly maxEntries: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
