import DataLoader from 'dataloader';
import type { RegistryClient } from '../v2/client.js';
import { RegistryError } from '../v2/errors.js';
import { type ImageConfig, type Manifest, parseImageConfig } from '../v2/manifest.js';
import { isDigest } from '../v2/reference.js';
import { CatalogRefusedError } from './errors.js';

/** A manifest by tag or digest in one repository of the registry. */
export interface ManifestKey {
  repository: string;
  reference: string;
}

/** A blob by digest in one repository of the registry. */
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

/**
 * The backend calls of one request, so batching can be observed (`x-berth-debug: calls`) and
 * asserted; `onCall` hears each one too (metrics).
 */
export class BackendCallLog {
  private readonly counts = new Map<string, number>();
  private readonly byKind: Record<BackendCallKind, number> = { catalog: 0, tags: 0, manifest: 0, config: 0 };

  constructor(private readonly onCall?: (kind: BackendCallKind) => void) {}

  record(kind: BackendCallKind, key: string): void {
    this.onCall?.(kind);
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
 * Manifests and image configs of outside registries fetched by digest, shared by every request:
 * content under a digest never changes. Every entry belongs to one registry (`scope`): what one
 * remote sent never answers for another. Manifests are kept per repository, because a digest can
 * be deleted from one repository and stay in another; berth forgets the manifests it deletes.
 */
export class RegistryContentCache {
  private readonly manifests: Lru<LoadedManifest>;
  private readonly configs: Lru<ImageConfig>;

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.manifests = new Lru(maxEntries);
    this.configs = new Lru(maxEntries);
  }

  manifest(scope: string, repository: string, digest: string): LoadedManifest | undefined {
    return this.manifests.get(`${scope} ${repository}@${digest}`);
  }

  rememberManifest(scope: string, repository: string, loaded: LoadedManifest): void {
    this.manifests.set(`${scope} ${repository}@${loaded.digest}`, loaded);
  }

  forgetManifest(scope: string, repository: string, digest: string): void {
    this.manifests.delete(`${scope} ${repository}@${digest}`);
  }

  config(scope: string, digest: string): ImageConfig | undefined {
    return this.configs.get(`${scope} ${digest}`);
  }

  rememberConfig(scope: string, digest: string, config: ImageConfig): void {
    this.configs.set(`${scope} ${digest}`, config);
  }

  /** Drops everything (the benchmark measures cold requests with it). */
  clear(): void {
    this.manifests.clear();
    this.configs.clear();
  }
}

/**
 * Loaders for ONE registry in ONE request (or one subscription operation): never module-level,
 * since each request sees the registry as it is now. The V2 API has no multi-get, so batching here
 * means each key is fetched once per request and whatever was fetched by digest once per process.
 * `scope` names the registry in the shared cache; `calls` is the request's log.
 */
export function createRegistryLoaders(client: RegistryClient, cache: RegistryContentCache, scope: string, calls: BackendCallLog) {
  let walked: Promise<string[]> | undefined;
  /** Every repository name, from one catalog walk per request. */
  const catalog = (): Promise<string[]> => {
    walked ??= (async () => {
      calls.record('catalog', scope);
      const paths: string[] = [];
      try {
        for await (const path of client.catalog()) paths.push(path);
      } catch (error) {
        // Hubs never list their catalog, and berth lists it to admins only; repositories by name still work.
        if (error instanceof RegistryError && [401, 403, 404].includes(error.status ?? 0)) {
          throw new CatalogRefusedError(`${client.baseUrl.origin} does not list its repositories to these credentials (${error.message})`, { cause: error });
        }
        throw error;
      }
      return paths;
    })();
    return walked;
  };

  /** A repository's tags, sorted by name ([] for an unknown repository or one without tags). */
  const tags = new DataLoader<string, readonly string[]>((paths) =>
    settle(
      paths.map(async (path) => {
        calls.record('tags', `${scope} ${path}`);
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
          const cached = byDigest ? cache.manifest(scope, repository, reference) : undefined;
          if (cached) return cached;
          calls.record('manifest', `${scope} ${manifestKey({ repository, reference })}`);
          const { digest, mediaType, size, manifest } = await client.getManifest(repository, reference);
          const loaded: LoadedManifest = { digest, mediaType, size, manifest };
          cache.rememberManifest(scope, repository, loaded);
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
          const cached = cache.config(scope, digest);
          if (cached) return cached;
          calls.record('config', `${scope} ${digest}`);
          const config = parseImageConfig(await client.getBlobJson(repository, digest));
          cache.rememberConfig(scope, digest, config);
          return config;
        }),
      ),
    { cacheKeyFn: ({ digest }) => digest },
  );

  return { catalog, tags, manifests, configs };
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
