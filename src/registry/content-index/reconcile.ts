import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Inventory, StoredRepository } from './inventory.js';
import { slugOf } from '../hosted/slug.js';
import { BATCH, forgetBlobs, storeManifest } from './writer.js';

/** Repositories compared per step: memory and statement sizes stay the same whatever the catalog. */
const REPOSITORY_BATCH = 200;

export interface ReconcileResult {
  repositories: number;
  /** Tags, manifests and repositories recorded because the backend has them and the index did not. */
  added: number;
  /** Tags, manifests, repositories and blobs dropped because the backend no longer has them. */
  removed: number;
  /** Tags found pointing at another digest than the index said. */
  moved: number;
  manifestsRead: number;
}

/**
 * Brings the content index in line with the backend: the registry's notifications are lost when it
 * restarts, and nothing notifies berth of what happened while it was down. Walks the backend in
 * batches, recording what the index lacks (dated when first seen: the real time was in the lost
 * notification), repairing moved tags, and dropping what the backend no longer holds. A row
 * written by a notification while the pass runs is never dropped by it: only rows older than the
 * moment their batch was read can go.
 */
export async function reconcileContentIndex(db: Db, inventory: Inventory): Promise<ReconcileResult> {
  const passStart = new Date();
  const result: ReconcileResult = { repositories: 0, added: 0, removed: 0, moved: 0, manifestsRead: 0 };
  let batch: string[] = [];
  for await (const path of inventory.paths()) {
    batch.push(path);
    if (batch.length < REPOSITORY_BATCH) continue;
    await reconcileBatch(db, inventory, batch, passStart, result);
    batch = [];
  }
  if (batch.length > 0) await reconcileBatch(db, inventory, batch, passStart, result);
  const gone = await db.contentRepository.deleteMany({ where: { seenAt: { lt: passStart }, lastPushedAt: { lt: passStart } } });
  result.removed += gone.count;
  if (inventory.blobs) await reconcileBlobs(db, inventory.blobs(), result);
  return result;
}

async function reconcileBatch(db: Db, inventory: Inventory, paths: readonly string[], passStart: Date, result: ReconcileResult): Promise<void> {
  const readAt = new Date();
  const stored = await inventory.describe(paths);
  result.repositories += stored.length;
  const rows = new Map(
    (await db.contentRepository.findMany({ where: { path: { in: [...paths] } }, include: { tags: true, revisions: true } })).map((row) => [row.path, row]),
  );
  result.manifestsRead += await learnManifests(db, inventory, stored);
  const changes: RepositoryChanges[] = [];
  for (const repository of stored) {
    const indexed = rows.get(repository.path) ?? null;
    const revisions = repository.revisions ?? (await listedRevisions(db, inventory, repository, indexed?.revisions ?? []));
    const change = diffRepository(repository, revisions, indexed, readAt);
    if (change) changes.push(change);
  }
  await applyChanges(db, changes, passStart, result);
  for (const repository of stored) if (repository.links.length > 0) await linkStored(db, repository.path, repository.links);
  await db.contentRepository.updateMany({ where: { path: { in: [...paths] } }, data: { seenAt: passStart } });
}

/** Reads the manifests the index has never seen: each digest once, ever. */
async function learnManifests(db: Db, inventory: Inventory, stored: readonly StoredRepository[]): Promise<number> {
  const wanted = new Map<string, string>();
  for (const repository of stored) {
    for (const digest of [...(repository.revisions ?? []), ...repository.tags.values()]) if (!wanted.has(digest)) wanted.set(digest, repository.path);
  }
  let read = 0;
  let pending = await unknownDigests(db, [...wanted.keys()]);
  while (pending.length > 0) {
    const next: string[] = [];
    for (const digest of pending) {
      const rows = await inventory.manifests.read(wanted.get(digest)!, digest);
      read += 1;
      if (!rows) continue;
      await storeManifest(db, rows);
      // An index's platforms are manifests too; the V2 API reaches them only through it.
      for (const child of rows.manifest.isIndex ? rows.references : []) {
        if (!wanted.has(child.digest)) {
          wanted.set(child.digest, wanted.get(digest)!);
          next.push(child.digest);
        }
      }
    }
    pending = await unknownDigests(db, next);
  }
  return read;
}

async function unknownDigests(db: Db, digests: readonly string[]): Promise<string[]> {
  const known = new Set<string>();
  for (let i = 0; i < digests.length; i += BATCH) {
    const rows = await db.contentManifest.findMany({ where: { digest: { in: digests.slice(i, i + BATCH) } }, select: { digest: true } });
    for (const { digest } of rows) known.add(digest);
  }
  return digests.filter((digest) => !known.has(digest));
}

/**
 * Where the backend lists only tagged manifests: the tagged ones, the platforms of tagged indexes,
 * and the untagged ones the index knew that the backend still has.
 */
async function listedRevisions(db: Db, inventory: Inventory, repository: StoredRepository, known: readonly { digest: string }[]): Promise<string[]> {
  const tagged = new Set(repository.tags.values());
  const children = await db.contentReference.findMany({ where: { manifestDigest: { in: [...tagged] } }, select: { digest: true } });
  const reachable = new Set([...tagged, ...children.map((child) => child.digest)]);
  const untagged = known.map(({ digest }) => digest).filter((digest) => !reachable.has(digest));
  const present = await Promise.all(untagged.map((digest) => inventory.hasManifest(repository.path, digest)));
  return [...reachable, ...untagged.filter((_, i) => present[i])];
}

type IndexedRepository = Prisma.ContentRepositoryGetPayload<{ include: { tags: true; revisions: true } }>;

/** What one repository needs for the index to match the backend. */
interface RepositoryChanges {
  path: string;
  /** Null when the index has no row for the repository yet. */
  id: string | null;
  newRevisions: string[];
  lostRevisions: string[];
  newTags: [string, string][];
  movedTags: { id: string; digest: string }[];
  lostTags: string[];
}

/**
 * Compares a repository with its index rows. A row pushed after `readAt` (by a notification while
 * this batch ran) is newer than what was read and stays as it is.
 */
function diffRepository(repository: StoredRepository, revisions: readonly string[], row: IndexedRepository | null, readAt: Date): RepositoryChanges | null {
  const stale = (pushedAt: Date) => pushedAt < readAt;
  const storedRevisions = new Set(revisions);
  const indexedRevisions = new Set((row?.revisions ?? []).map((revision) => revision.digest));
  const indexedTags = new Map((row?.tags ?? []).map((tag) => [tag.name, tag]));
  const change: RepositoryChanges = {
    path: repository.path,
    id: row?.id ?? null,
    newRevisions: revisions.filter((digest) => !indexedRevisions.has(digest)),
    lostRevisions: (row?.revisions ?? []).filter((revision) => !storedRevisions.has(revision.digest) && stale(revision.pushedAt)).map((revision) => revision.id),
    newTags: [...repository.tags].filter(([name]) => !indexedTags.has(name)),
    movedTags: [...repository.tags].flatMap(([name, digest]) => {
      const tag = indexedTags.get(name);
      return tag && tag.digest !== digest && stale(tag.pushedAt) ? [{ id: tag.id, digest }] : [];
    }),
    lostTags: [...indexedTags.values()].filter((tag) => !repository.tags.has(tag.name) && stale(tag.pushedAt)).map((tag) => tag.id),
  };
  if (!row && revisions.length === 0) return null;
  const changed = change.newRevisions.length + change.lostRevisions.length + change.newTags.length + change.movedTags.length + change.lostTags.length;
  return changed > 0 || !row ? change : null;
}

/** One transaction for a whole batch: what the backend gained is dated now, what it lost goes. */
async function applyChanges(db: Db, changes: readonly RepositoryChanges[], passStart: Date, result: ReconcileResult): Promise<void> {
  if (changes.length === 0) return;
  const seen = new Date();
  await db.$transaction(async (tx) => {
    const created = changes.filter((change) => change.id === null);
    if (created.length > 0) {
      await tx.contentRepository.createMany({
        data: created.map(({ path }) => {
          const slug = slugOf(path);
          return { path, slug, name: slug ? path.slice(slug.length + 1) : path, lastPushedAt: seen, seenAt: passStart };
        }),
      });
      const ids = await tx.contentRepository.findMany({ where: { path: { in: created.map((change) => change.path) } }, select: { id: true, path: true } });
      const idOf = new Map(ids.map((row) => [row.path, row.id]));
      for (const change of created) change.id = idOf.get(change.path)!;
    }
    const revisions = changes.flatMap((change) => change.newRevisions.map((digest) => ({ repositoryId: change.id!, digest, pushedAt: seen })));
    const tags = changes.flatMap((change) => change.newTags.map(([name, digest]) => ({ repositoryId: change.id!, name, digest, pushedAt: seen })));
    for (let i = 0; i < revisions.length; i += BATCH) await tx.contentRevision.createMany({ data: revisions.slice(i, i + BATCH) });
    for (let i = 0; i < tags.length; i += BATCH) await tx.contentTag.createMany({ data: tags.slice(i, i + BATCH) });
    for (const { id, digest } of changes.flatMap((change) => change.movedTags)) await tx.contentTag.update({ where: { id }, data: { digest, pushedAt: seen } });
    const lostRevisions = changes.flatMap((change) => change.lostRevisions);
    const lostTags = changes.flatMap((change) => change.lostTags);
    for (let i = 0; i < lostRevisions.length; i += BATCH) await tx.contentRevision.deleteMany({ where: { id: { in: lostRevisions.slice(i, i + BATCH) } } });
    for (let i = 0; i < lostTags.length; i += BATCH) await tx.contentTag.deleteMany({ where: { id: { in: lostTags.slice(i, i + BATCH) } } });
    const grown = changes.filter((change) => change.newRevisions.length + change.newTags.length + change.movedTags.length > 0);
    if (grown.length > 0) {
      await tx.contentRepository.updateMany({ where: { id: { in: grown.map((change) => change.id!) } }, data: { lastPushedAt: seen } });
      const slugs = [...new Set(grown.map((change) => slugOf(change.path)))];
      await tx.registry.updateMany({ where: { kind: 'HOSTED', slug: { in: slugs }, OR: [{ lastPushedAt: null }, { lastPushedAt: { lt: seen } }] }, data: { lastPushedAt: seen } });
    }
    const emptied = await tx.contentRepository.deleteMany({ where: { id: { in: changes.map((change) => change.id!) }, revisions: { none: {} } } });
    result.removed += emptied.count;
  });
  for (const change of changes) {
    result.added += change.newRevisions.length + change.newTags.length;
    result.removed += change.lostRevisions.length + change.lostTags.length;
    result.moved += change.movedTags.length;
  }
}

async function linkStored(db: Db, path: string, digests: readonly string[]): Promise<void> {
  const slug = slugOf(path);
  for (let i = 0; i < digests.length; i += BATCH) {
    const rows = digests.slice(i, i + BATCH).map((digest) => Prisma.sql`(${path}, ${slug}, ${digest})`);
    await db.$executeRaw`INSERT INTO "ContentBlobLink" ("repositoryPath", "slug", "digest") VALUES ${Prisma.join(rows)} ON CONFLICT DO NOTHING`;
  }
}

/** The stored blobs, one digest prefix at a time: what is on disk is recorded with its size, what is not is dropped. */
async function reconcileBlobs(db: Db, walk: AsyncIterable<{ prefix: string; blobs: { digest: string; size: number }[] }>, result: ReconcileResult): Promise<void> {
  for await (const { prefix, blobs } of walk) {
    // Every hex digit sorts before 'g': this is exactly the digests starting with the prefix.
    const range = { gte: prefix, lt: `${prefix}g` };
    const indexed = new Map((await db.contentBlob.findMany({ where: { digest: range } })).map((row) => [row.digest, row.size]));
    const stored = new Set(blobs.map((blob) => blob.digest));
    const missing = blobs.filter((blob) => indexed.get(blob.digest) !== BigInt(blob.size));
    const gone = [...indexed.keys()].filter((digest) => !stored.has(digest));
    for (let i = 0; i < missing.length; i += BATCH) {
      const rows = missing.slice(i, i + BATCH).map((blob) => Prisma.sql`(${blob.digest}, ${BigInt(blob.size)})`);
      await db.$executeRaw`INSERT INTO "ContentBlob" ("digest", "size") VALUES ${Prisma.join(rows)} ON CONFLICT ("digest") DO UPDATE SET "size" = excluded."size"`;
    }
    if (gone.length > 0) await forgetBlobs(db, gone);
    result.removed += gone.length;
  }
}

/**
 * Runs reconciles one at a time: on start, whenever the registry begins serving again (its queued
 * notifications were lost), and every `intervalMs`.
 */
export class ContentIndexReconciler {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly db: Db,
    private readonly inventory: Inventory,
    log: Logger,
  ) {
    this.log = log.child({ component: 'reconcile' });
  }

  /** Reconciles after the pass in progress, if any, and resolves with its result. */
  runNow(): Promise<ReconcileResult> {
    const run = this.queue.then(() => reconcileContentIndex(this.db, this.inventory));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A pass in the background; a failure is logged and the next one tries again. */
  schedule(reason: string): void {
    const started = performance.now();
    void this.runNow().then(
      (result) => this.log.info({ ...result, reason, ms: Math.round(performance.now() - started) }, 'content index reconciled'),
      (error: unknown) => this.log.warn({ err: error, reason }, 'could not reconcile the content index; trying again later'),
    );
  }

  start(intervalMs: number): void {
    this.schedule('start');
    this.timer = setInterval(() => this.schedule('interval'), intervalMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.queue;
  }
}
