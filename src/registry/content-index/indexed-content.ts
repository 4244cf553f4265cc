import DataLoader from 'dataloader';
import type { Db } from '../../db/client.js';
import { keysetPage, prismaKeyset } from '../../db/keyset.js';
import type { ContentManifest, ContentReference, ContentRepository, ContentRevision, ContentTag } from '../../generated/prisma/client.js';
import type { ContentReader, ManifestFacts, Page, RegistryUsageFacts, TagFacts } from '../content.js';
import { signatureTag } from '../content.js';
import { planDeletion, type RepositoryGraph, tagsPointingAt } from '../deletion-plan.js';
import { isDigest } from '../v2/reference.js';
import { freedBytes, type Revision } from './freed-bytes.js';
import {
  type FirstPages,
  firstImagePages,
  firstTagPages,
  type ImageRow,
  imageCountByRepository,
  imagePage,
  reclaimableBytes,
  storedBytesByRepository,
  usageBySlug,
} from './queries.js';

const DEFAULT_PAGE_SIZE = 20;

type Pair = readonly [string, string];
const pairKey = ([a, b]: Pair): string => `${a}\u0000${b}`;

/** A repository's shape for planning deletions: tags, index children, and every manifest it links. */
interface IndexedGraph extends RepositoryGraph {
  repositoryId: string;
  revisions: ReadonlySet<string>;
}

/**
 * The content index's readers for ONE request, shared by every hosted registry the request touches:
 * each kind of lookup is one SQL statement per tick of the event loop, however many fields ask.
 */
export function createIndexLoaders(db: Db) {
  const byPair = <T>(load: (pairs: readonly Pair[]) => Promise<Map<string, T>>, missing: T) =>
    new DataLoader<Pair, T, string>(async (pairs) => {
      const found = await load(pairs);
      return pairs.map((pair) => found.get(pairKey(pair)) ?? missing);
    }, { cacheKeyFn: pairKey });
  const firsts = (pairs: readonly Pair[]) => [...new Set(pairs.map(([first]) => first))];
  const seconds = (pairs: readonly Pair[]) => [...new Set(pairs.map(([, second]) => second))];

  const manifest = new DataLoader<string, ContentManifest | null>(async (digests) => {
    const rows = new Map((await db.contentManifest.findMany({ where: { digest: { in: [...digests] } } })).map((row) => [row.digest, row]));
    return digests.map((digest) => rows.get(digest) ?? null);
  });
  const references = new DataLoader<string, ContentReference[]>(async (digests) => {
    const rows = await db.contentReference.findMany({ where: { manifestDigest: { in: [...digests] } }, orderBy: [{ manifestDigest: 'asc' }, { position: 'asc' }] });
    const byManifest = new Map<string, ContentReference[]>();
    for (const row of rows) byManifest.set(row.manifestDigest, [...(byManifest.get(row.manifestDigest) ?? []), row]);
    return digests.map((digest) => byManifest.get(digest) ?? []);
  });

  return {
    manifest,
    references,
    /** A manifest's facts, built once per request however many fields read them. */
    facts: new DataLoader<string, ManifestFacts | null>((digests) =>
      Promise.all(digests.map(async (digest) => manifestFactsOf(digest, await manifest.load(digest), await references.load(digest)))),
    ),
    repository: new DataLoader<string, ContentRepository | null>(async (paths) => {
      const rows = new Map((await db.contentRepository.findMany({ where: { path: { in: [...paths] } } })).map((row) => [row.path, row]));
      return paths.map((path) => rows.get(path) ?? null);
    }),
    usage: new DataLoader<string, RegistryUsageFacts>(async (slugs) => {
      const usage = await usageBySlug(db, slugs);
      return slugs.map((slug) => usage.get(slug)!);
    }),
    tagCount: new DataLoader<string, number>(async (ids) => {
      const rows = await db.contentTag.groupBy({ by: ['repositoryId'], where: { repositoryId: { in: [...ids] } }, _count: { _all: true } });
      const counts = new Map(rows.map((row) => [row.repositoryId, row._count._all]));
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    imageCount: new DataLoader<string, number>(async (ids) => {
      const counts = await imageCountByRepository(db, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    repositoryBytes: new DataLoader<string, number>(async (ids) => {
      const bytes = await storedBytesByRepository(db, ids);
      return ids.map((id) => bytes.get(id) ?? 0);
    }),
    /** (repository id, tag name) → tag. */
    tag: byPair<ContentTag | null>(async (pairs) => {
      const rows = await db.contentTag.findMany({ where: { repositoryId: { in: firsts(pairs) }, name: { in: seconds(pairs) } } });
      return new Map(rows.map((row) => [pairKey([row.repositoryId, row.name]), row]));
    }, null),
    /** (repository id, digest) → the names of the tags on it, sorted. */
    tagsOn: byPair<string[]>(async (pairs) => {
      const rows = await db.contentTag.findMany({
        where: { repositoryId: { in: firsts(pairs) }, digest: { in: seconds(pairs) } },
        select: { repositoryId: true, digest: true, name: true },
        orderBy: { name: 'asc' },
      });
      const names = new Map<string, string[]>();
      for (const row of rows) {
        const key = pairKey([row.repositoryId, row.digest]);
        names.set(key, [...(names.get(key) ?? []), row.name]);
      }
      return names;
    }, []),
    /** (repository id, digest) → the manifest's link into the repository. */
    revision: byPair<ContentRevision | null>(async (pairs) => {
      const rows = await db.contentRevision.findMany({ where: { repositoryId: { in: firsts(pairs) }, digest: { in: seconds(pairs) } } });
      return new Map(rows.map((row) => [pairKey([row.repositoryId, row.digest]), row]));
    }, null),
    /** (repository id, digest) → whether a manifest of the repository names it as its subject (OCI 1.1 referrers). */
    referred: byPair<boolean>(async (pairs) => {
      const subjects = await db.contentManifest.findMany({ where: { subject: { in: seconds(pairs) } }, select: { digest: true, subject: true } });
      if (subjects.length === 0) return new Map();
      const linked = await db.contentRevision.findMany({
        where: { repositoryId: { in: firsts(pairs) }, digest: { in: subjects.map((row) => row.digest) } },
        select: { repositoryId: true, digest: true },
      });
      const subjectOf = new Map(subjects.map((row) => [row.digest, row.subject!]));
      return new Map(linked.map((row) => [pairKey([row.repositoryId, subjectOf.get(row.digest)!]), true]));
    }, false),
    graph: new DataLoader<string, IndexedGraph>(async (ids) => {
      const [tags, revisions] = await Promise.all([
        db.contentTag.findMany({ where: { repositoryId: { in: [...ids] } }, select: { repositoryId: true, name: true, digest: true }, orderBy: { name: 'asc' } }),
        db.contentRevision.findMany({ where: { repositoryId: { in: [...ids] } }, select: { repositoryId: true, digest: true } }),
      ]);
      const indexes = await db.contentManifest.findMany({ where: { digest: { in: [...new Set(revisions.map((r) => r.digest))] }, isIndex: true }, select: { digest: true } });
      const children = await db.contentReference.findMany({ where: { manifestDigest: { in: indexes.map((row) => row.digest) } }, orderBy: { position: 'asc' } });
      const childrenOf = new Map<string, string[]>();
      for (const child of children) childrenOf.set(child.manifestDigest, [...(childrenOf.get(child.manifestDigest) ?? []), child.digest]);
      return ids.map((repositoryId) => ({
        repositoryId,
        tags: new Map(tags.filter((tag) => tag.repositoryId === repositoryId).map((tag) => [tag.name, tag.digest])),
        children: childrenOf,
        revisions: new Set(revisions.filter((revision) => revision.repositoryId === repositoryId).map((revision) => revision.digest)),
      }));
    }),
    /** (repository id, first page) → its tags; every repository asking the same page in one statement. */
    firstTags: byFirstPage<ContentTag>(async (page) => {
      const ids = await firstTagPages(db, page);
      return db.contentTag.findMany({ where: { id: { in: ids } } });
    }),
    firstImages: byFirstPage<ImageRow & { repositoryId: string }>((page) => firstImagePages(db, page)),
    reclaimable: new DataLoader<string, number>((slugs) => Promise.all(slugs.map((slug) => reclaimableBytes(db, slug)))),
    /** Deletion sets (as produced by a planner) → bytes they would free; all sets of a tick in one pass. */
    freed: new DataLoader<readonly Revision[], number>((sets) => freedBytes(db, sets), { cache: false }),
  };
}

export type IndexLoaders = ReturnType<typeof createIndexLoaders>;

interface FirstPageKey {
  repositoryId: string;
  order: string;
  ascending: boolean;
  take: number;
}

/**
 * A loader of first pages (no cursor): the repositories that ask for the same page in one tick are
 * answered by one statement, each repository's rows then sorted back into page order.
 */
function byFirstPage<Row extends { id: string; repositoryId: string }>(load: (page: FirstPages) => Promise<Row[]>) {
  const keyOf = ({ repositoryId, order, ascending, take }: FirstPageKey) => `${repositoryId}\u0000${order}\u0000${ascending}\u0000${take}`;
  return new DataLoader<FirstPageKey, Row[], string>(
    async (keys) => {
      const pages = new Map<string, FirstPageKey[]>();
      for (const key of keys) {
        const page = `${key.order}\u0000${key.ascending}\u0000${key.take}`;
        pages.set(page, [...(pages.get(page) ?? []), key]);
      }
      const rows = new Map<string, Row[]>();
      for (const group of pages.values()) {
        const { order, ascending, take } = group[0]!;
        for (const row of await load({ parentIds: group.map((key) => key.repositoryId), order, ascending, take })) {
          rows.set(row.repositoryId, [...(rows.get(row.repositoryId) ?? []), row]);
        }
      }
      return keys.map((key) => sortedRows(rows.get(key.repositoryId) ?? [], key.order as keyof Row, key.ascending));
    },
    { cacheKeyFn: keyOf },
  );
}

function sortedRows<Row extends { id: string }>(rows: Row[], order: keyof Row, ascending: boolean): Row[] {
  const sign = ascending ? 1 : -1;
  const compare = (a: unknown, b: unknown) => (a instanceof Date && b instanceof Date ? a.getTime() - b.getTime() : a! < b! ? -1 : a! > b! ? 1 : 0);
  return [...rows].sort((a, b) => sign * (compare(a[order], b[order]) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
}

/** The content of the hosted registry that owns `slug`, read from the content index. */
export function indexedContent(db: Db, loaders: IndexLoaders, slug: string): ContentReader {
  const repository = (path: string) => loaders.repository.load(path);
  /** Runs `read` on the repository's row, or answers `missing` for a repository the index does not hold. */
  const withRepository = async <T>(path: string, missing: T, read: (row: ContentRepository) => Promise<T> | T): Promise<T> => {
    const row = await repository(path);
    return row ? read(row) : missing;
  };
  const manifestFacts = (digest: string): Promise<ManifestFacts | null> => loaders.facts.load(digest);
  const imageBytes = async (digest: string): Promise<number | null> => {
    const row = await loaders.manifest.load(digest);
    if (!row) return null;
    if (!row.isIndex) return Number(row.imageBytes ?? 0);
    const platforms = (await manifestFacts(digest))?.platforms ?? [];
    const children = await loaders.manifest.loadMany(platforms.map((platform) => platform.digest));
    // A platform the backend no longer has adds nothing.
    return children.reduce<number>((total, child) => total + (child && !(child instanceof Error) ? Number(child.imageBytes ?? 0) : 0), 0);
  };
  /** What a planned deletion in one repository would free: only the manifests it really links count. */
  const freedByPlan = async (graph: IndexedGraph, deleting: ReadonlySet<string>, targets: readonly string[], refuseRestore: boolean) => {
    const plan = planDeletion(graph, deleting, targets);
    if (refuseRestore && plan.restore.length > 0) return 0;
    const revisions = plan.remove.filter((digest) => graph.revisions.has(digest)).map((digest) => ({ repositoryId: graph.repositoryId, digest }));
    return revisions.length === 0 ? 0 : loaders.freed.load(revisions);
  };

  return {
    usage: () => loaders.usage.load(slug),
    reclaimableBytes: () => loaders.reclaimable.load(slug),
    repositories: async ({ query, orderBy, ...args }) => {
      const where = { slug, ...(query ? { name: { contains: query.toLowerCase() } } : {}) };
      const field = orderBy.field === 'NAME' ? 'name' : 'lastPushedAt';
      const page = await keysetPage<ContentRepository>(args, {
        direction: orderBy.direction,
        defaultSize: DEFAULT_PAGE_SIZE,
        valueOf: (row) => row[field],
        idOf: (row) => row.id,
        fetch: (after, ascending, take) => {
          const keyset = prismaKeyset(field, after, ascending);
          return db.contentRepository.findMany({ where: { ...where, ...keyset.where }, orderBy: keyset.orderBy, take });
        },
      });
      for (const { node } of page.edges) loaders.repository.prime(node.path, node);
      return { ...mapPage(page, (row) => row.path), totalCount: () => db.contentRepository.count({ where }) };
    },
    hasRepository: async (path) => (await repository(path)) !== null,
    tagCount: (path) => withRepository(path, 0, (row) => loaders.tagCount.load(row.id)),
    imageCount: (path) => withRepository(path, 0, (row) => loaders.imageCount.load(row.id)),
    repositoryBytes: (path) => withRepository(path, 0, (row) => loaders.repositoryBytes.load(row.id)),
    lastPushedAt: (path) => withRepository(path, null, (row) => row.lastPushedAt),
    tags: (path, { orderBy, ...args }) =>
      withRepository(path, emptyPage<TagFacts>(), async (row) => {
        const field = orderBy.field === 'NAME' ? 'name' : 'pushedAt';
        const page = await keysetPage<ContentTag>(args, {
          direction: orderBy.direction,
          defaultSize: DEFAULT_PAGE_SIZE,
          valueOf: (tag) => tag[field],
          idOf: (tag) => tag.id,
          fetch: (after, ascending, take) => {
            if (after === null) return loaders.firstTags.load({ repositoryId: row.id, order: field, ascending, take });
            const keyset = prismaKeyset(field, after, ascending);
            return db.contentTag.findMany({ where: { repositoryId: row.id, ...keyset.where }, orderBy: keyset.orderBy, take });
          },
        });
        for (const { node } of page.edges) loaders.tag.prime([row.id, node.name], node);
        return { ...mapPage(page, tagFacts), totalCount: () => loaders.tagCount.load(row.id) };
      }),
    tag: (path, name) => withRepository(path, null, async (row) => {
      const tag = await loaders.tag.load([row.id, name]);
      return tag && tagFacts(tag);
    }),
    images: (path, { orderBy, ...args }) =>
      withRepository(path, emptyPage<string>(), async (row) => {
        const order = orderBy.field === 'DIGEST' ? 'digest' : 'pushedAt';
        const page = await keysetPage<ImageRow>(args, {
          direction: orderBy.direction,
          defaultSize: DEFAULT_PAGE_SIZE,
          valueOf: (image) => image[order],
          idOf: (image) => image.id,
          fetch: (after, ascending, take) =>
            after === null ? loaders.firstImages.load({ repositoryId: row.id, order, ascending, take }) : imagePage(db, row.id, order, after, ascending, take),
        });
        return { ...mapPage(page, (image) => image.digest), totalCount: () => loaders.imageCount.load(row.id) };
      }),
    resolve: (path, reference) =>
      withRepository(path, null, async (row) => {
        if (!isDigest(reference)) return (await loaders.tag.load([row.id, reference]))?.digest ?? null;
        return (await loaders.revision.load([row.id, reference])) ? reference : null;
      }),
    manifest: (_path, digest) => manifestFacts(digest),
    config: async (_path, digest) => {
      const row = await loaders.manifest.load(digest);
      return row && { created: row.created, os: row.os, architecture: row.architecture };
    },
    imageBytes: (_path, digest) => imageBytes(digest),
    imageTags: (path, digest) => withRepository(path, [], (row) => loaders.tagsOn.load([row.id, digest])),
    signed: (path, digest) =>
      withRepository(path, false, async (row) => {
        const [cosign, referred] = await Promise.all([loaders.tag.load([row.id, signatureTag(digest)]), loaders.referred.load([row.id, digest])]);
        return cosign !== null || referred;
      }),
    imageActivity: (path, digest) =>
      withRepository(path, { pushedAt: null, pulledAt: null }, async (row) => {
        const revision = await loaders.revision.load([row.id, digest]);
        return { pushedAt: revision?.pushedAt ?? null, pulledAt: revision?.pulledAt ?? null };
      }),
    repositoryExclusiveBytes: (path) =>
      withRepository(path, 0, async (row) => {
        const graph = await loaders.graph.load(row.id);
        return freedByPlan(graph, new Set(graph.tags.keys()), [...graph.revisions], false);
      }),
    imageExclusiveBytes: (path, digest) =>
      withRepository(path, 0, async (row) => {
        const graph = await loaders.graph.load(row.id);
        return freedByPlan(graph, new Set(tagsPointingAt(graph.tags, digest)), [digest], true);
      }),
    tagExclusiveBytes: (path, tag) =>
      withRepository(path, 0, async (row) => freedByPlan(await loaders.graph.load(row.id), new Set([tag]), [], false)),
  };
}

function manifestFactsOf(digest: string, row: ContentManifest | null, references: readonly ContentReference[]): ManifestFacts | null {
  if (!row) return null;
  return {
    digest,
    mediaType: row.mediaType,
    size: Number(row.size),
    isIndex: row.isIndex,
    configDigest: row.configDigest,
    layers: row.isIndex ? [] : references.slice(1).map(({ digest: layer, mediaType, size }) => ({ digest: layer, mediaType, size: Number(size) })),
    platforms: row.isIndex
      ? references.flatMap(({ digest: child, mediaType, os, architecture, variant }) =>
          os !== null && architecture !== null ? [{ digest: child, mediaType, os, architecture, variant }] : [],
        )
      : [],
  };
}

function tagFacts(tag: ContentTag): TagFacts {
  return { name: tag.name, digest: tag.digest, pushedAt: tag.pushedAt, pulledAt: tag.pulledAt };
}

function mapPage<Row, T>(page: { edges: { cursor: string; node: Row }[]; pageInfo: Page<T>['pageInfo'] }, map: (row: Row) => T): Omit<Page<T>, 'totalCount'> {
  return { edges: page.edges.map(({ cursor, node }) => ({ cursor, node: map(node) })), pageInfo: page.pageInfo };
}

function emptyPage<T>(): Page<T> {
  return {
    edges: [],
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    totalCount: async () => 0,
  };
}

