import type {
  ContentReader,
  ImageOrder,
  ManifestFacts,
  Page,
  PageArgs,
  RegistryUsageFacts,
  RepositoryOrder,
  TagFacts,
  TagOrder,
} from '../content.js';
import { signatureTag } from '../content.js';
import { RegistryNotFoundError } from '../v2/errors.js';
import { imageBlobs, indexPlatforms } from '../v2/manifest.js';
import { isDigest, isTag } from '../v2/reference.js';
import type { LoadedManifest, ManifestKey, RegistryLoaders } from './live-loaders.js';

const DEFAULT_PAGE_SIZE = 20;

/**
 * The content of an outside registry, read live over its V2 API through the request's loaders:
 * every tag list and manifest is fetched once per request however many fields ask, and manifests
 * and configs fetched by digest once per process. The V2 API neither sorts nor pages, so lists are
 * sorted and paged here. What only notifications or storage could tell (push and pull times, what
 * a deletion would free) is null.
 */
export function liveContent(loaders: RegistryLoaders): ContentReader {
  const load = async (key: ManifestKey): Promise<LoadedManifest | null> => {
    try {
      return await loaders.manifests.load(key);
    } catch (error) {
      if (error instanceof RegistryNotFoundError) return null;
      throw error;
    }
  };
  /** Repositories that hold at least one tag (a registry keeps emptied ones in its catalog). */
  const repositories = async (): Promise<string[]> => {
    const paths = await loaders.catalog();
    const tags = await Promise.all(paths.map((path) => loaders.tags.load(path)));
    return paths.filter((_, i) => tags[i]!.length > 0);
  };
  /** The distinct manifests a repository's tags point at, by digest, with their tags. */
  const tagged = async (path: string): Promise<Map<string, { loaded: LoadedManifest; tags: string[] }>> => {
    const tags = await loaders.tags.load(path);
    const manifests = await Promise.all(tags.map((tag) => load({ repository: path, reference: tag })));
    const byDigest = new Map<string, { loaded: LoadedManifest; tags: string[] }>();
    tags.forEach((tag, i) => {
      const loaded = manifests[i];
      if (!loaded) return;
      const entry = byDigest.get(loaded.digest);
      if (entry) entry.tags.push(tag);
      else byDigest.set(loaded.digest, { loaded, tags: [tag] });
    });
    return byDigest;
  };
  const imageBytes = async (path: string, loaded: LoadedManifest): Promise<number> => {
    const { manifest } = loaded;
    if (manifest.kind === 'image') return sum(imageBlobs(manifest).map((blob) => blob.size));
    const children = await Promise.all(indexPlatforms(manifest).map((platform) => load({ repository: path, reference: platform.digest })));
    return sum(await Promise.all(children.map((child) => (child ? imageBytes(path, child) : 0))));
  };
  /** Adds a manifest, its blobs and (for an index) every child with theirs to `blobs`, digest → size. */
  const collectBlobs = async (path: string, loaded: LoadedManifest, blobs: Map<string, number>): Promise<void> => {
    if (blobs.has(loaded.digest)) return;
    blobs.set(loaded.digest, loaded.size);
    const { manifest } = loaded;
    if (manifest.kind === 'image') {
      for (const blob of imageBlobs(manifest)) blobs.set(blob.digest, blob.size);
      return;
    }
    await Promise.all(
      manifest.manifests.map(async (child) => {
        const childManifest = await load({ repository: path, reference: child.digest });
        if (childManifest) await collectBlobs(path, childManifest, blobs);
      }),
    );
  };
  const repositoryBytes = async (path: string, blobs = new Map<string, number>()): Promise<number> => {
    const manifests = await tagged(path);
    await Promise.all([...manifests.values()].map(({ loaded }) => collectBlobs(path, loaded, blobs)));
    return sum(blobs.values());
  };

  return {
    usage: async (): Promise<RegistryUsageFacts> => {
      const paths = await repositories();
      const blobs = new Map<string, number>();
      const images = await Promise.all(paths.map(async (path) => (await tagged(path)).size));
      await Promise.all(paths.map((path) => repositoryBytes(path, blobs)));
      return { bytes: sum(blobs.values()), repositories: paths.length, images: sum(images) };
    },
    reclaimableBytes: async () => null,
    repositories: async ({ query, orderBy, ...args }: PageArgs & { query: string | null; orderBy: RepositoryOrder }) => {
      const needle = query?.toLowerCase() ?? '';
      const paths = (await repositories()).filter((path) => path.toLowerCase().includes(needle));
      // No push times are known: LAST_PUSHED_AT falls back to the name.
      return arrayPage(sorted(paths, orderBy.direction, (path) => path), args);
    },
    hasRepository: async (path) => (await loaders.tags.load(path)).length > 0,
    tagCount: async (path) => (await loaders.tags.load(path)).length,
    imageCount: async (path) => (await tagged(path)).size,
    repositoryBytes: (path) => repositoryBytes(path),
    lastPushedAt: async () => null,
    tags: async (path, { orderBy, ...args }: PageArgs & { orderBy: TagOrder }) => {
      const names = sorted(await loaders.tags.load(path), orderBy.direction, (name) => name);
      const page = arrayPage(names, args);
      const tags = await Promise.all(page.edges.map(async ({ cursor, node }) => ({ cursor, tag: await tagFacts(path, node) })));
      return { ...page, edges: tags.flatMap(({ cursor, tag }) => (tag ? [{ cursor, node: tag }] : [])) };
    },
    tag: (path, name) => tagFacts(path, name),
    images: async (path, { orderBy, ...args }: PageArgs & { orderBy: ImageOrder }) =>
      arrayPage(sorted([...(await tagged(path)).keys()], orderBy.direction, (digest) => digest), args),
    resolve: async (path, reference) => {
      if (!isDigest(reference) && !isTag(reference)) return null;
      return (await load({ repository: path, reference }))?.digest ?? null;
    },
    manifest: async (path, digest) => {
      const loaded = await load({ repository: path, reference: digest });
      return loaded && manifestFacts(loaded);
    },
    config: async (path, digest) => {
      const loaded = await load({ repository: path, reference: digest });
      if (!loaded || loaded.manifest.kind !== 'image') return loaded && { created: null, os: null, architecture: null };
      const config = await loaders.configs.load({ repository: path, digest: loaded.manifest.config.digest });
      return { created: config.created, os: config.os, architecture: config.architecture };
    },
    imageBytes: async (path, digest) => {
      const loaded = await load({ repository: path, reference: digest });
      return loaded && imageBytes(path, loaded);
    },
    imageTags: async (path, digest) => (await tagged(path)).get(digest)?.tags ?? [],
    signed: async (path, digest) => (await loaders.tags.load(path)).includes(signatureTag(digest)),
    imageActivity: async () => ({ pushedAt: null, pulledAt: null }),
    repositoryExclusiveBytes: async () => null,
    imageExclusiveBytes: async () => null,
    tagExclusiveBytes: async () => null,
  };

  async function tagFacts(path: string, name: string): Promise<TagFacts | null> {
    if (!isTag(name)) return null;
    const loaded = await load({ repository: path, reference: name });
    return loaded && { name, digest: loaded.digest, pushedAt: null, pulledAt: null };
  }
}

function manifestFacts({ digest, mediaType, size, manifest }: LoadedManifest): ManifestFacts {
  if (manifest.kind === 'image') {
    return {
      digest,
      mediaType,
      size,
      isIndex: false,
      configDigest: manifest.config.digest,
      layers: manifest.layers.map(({ digest: layer, mediaType: type, size: bytes }) => ({ digest: layer, mediaType: type, size: bytes })),
      platforms: [],
    };
  }
  return {
    digest,
    mediaType,
    size,
    isIndex: true,
    configDigest: null,
    layers: [],
    platforms: indexPlatforms(manifest).map(({ digest: child, mediaType: type, os, architecture, variant }) => ({
      digest: child,
      mediaType: type,
      os,
      architecture,
      variant: variant ?? null,
    })),
  };
}

function sorted<T>(items: readonly T[], direction: 'ASC' | 'DESC', key: (item: T) => string): T[] {
  const sign = direction === 'ASC' ? 1 : -1;
  return [...items].sort((a, b) => (key(a) < key(b) ? -sign : key(a) > key(b) ? sign : 0));
}

/**
 * One page of a list sorted here, with offset cursors: the V2 API gives no stable order to page
 * through, so a list that changes between two pages may shift under them.
 */
export function arrayPage<T>(items: readonly T[], args: PageArgs): Page<T> {
  const offsetOf = (cursor: string | null | undefined, fallback: number): number => {
    if (!cursor) return fallback;
    const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    return match ? Number(match[1]) : fallback;
  };
  let start = args.after ? offsetOf(args.after, -1) + 1 : 0;
  let end = args.before ? offsetOf(args.before, items.length) : items.length;
  if (args.first != null) end = Math.min(end, start + args.first);
  else if (args.last != null) start = Math.max(start, end - args.last);
  else end = Math.min(end, start + DEFAULT_PAGE_SIZE);
  const edges = items.slice(start, end).map((node, i) => ({ cursor: Buffer.from(`offset:${start + i}`).toString('base64url'), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: async () => items.length,
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
