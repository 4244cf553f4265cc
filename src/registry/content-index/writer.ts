import type { Db } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import { slugOf } from '../hosted/slug.js';
import type { ManifestRows, ManifestSource } from './manifest-rows.js';

type Tx = Prisma.TransactionClient;

/** Rows per statement: far below SQLite's parameter limit whatever the columns. */
export const BATCH = 400;

/**
 * Keeps the content index in step with what the backend stores, one change at a time: pushes,
 * pulls and deletes from the registry's notifications, berth's own deletions, and what garbage
 * collection removed. Every change is one transaction, so a reader never sees a tag without its
 * manifest's revision. Times follow these rules, so late or repeated reports cannot make them wrong:
 * - a tag's pushedAt is when it came to point at its digest (re-pushing the same digest keeps the
 *   earlier time, a push of another digest moves it forward, never back);
 * - a revision's pushedAt is its first push into the repository;
 * - pulledAt and lastPushedAt only move forward.
 */
export class ContentIndexWriter {
  constructor(
    private readonly db: Db,
    /** Where manifests the index does not know yet are read (by digest, once: they never change). */
    private readonly manifests: ManifestSource,
  ) {}

  async manifestPushed(repository: string, digest: string, tag: string | null, at: Date): Promise<void> {
    const rows = await this.learnManifest(repository, digest);
    await this.retryingRace(() =>
      this.db.$transaction(async (tx) => {
        const { id: repositoryId } = await upsertRepository(tx, repository, at);
        const revision = await tx.contentRevision.findUnique({ where: { repositoryId_digest: { repositoryId, digest } } });
        if (!revision) await tx.contentRevision.create({ data: { repositoryId, digest, pushedAt: at } });
        else if (at < revision.pushedAt) await tx.contentRevision.update({ where: { id: revision.id }, data: { pushedAt: at } });
        if (tag !== null) await tagPushed(tx, repositoryId, tag, digest, at);
        await tx.registry.updateMany({
          where: { kind: 'HOSTED', slug: slugOf(repository), OR: [{ lastPushedAt: null }, { lastPushedAt: { lt: at } }] },
          data: { lastPushedAt: at },
        });
        if (rows) await linkBlobs(tx, repository, [{ digest, size: rows.manifest.size }, ...rows.references]);
      }),
    );
  }

  async manifestPulled(repository: string, digest: string, tag: string | null, at: Date): Promise<void> {
    const stored = await this.db.contentRepository.findUnique({ where: { path: repository }, select: { id: true } });
    if (!stored) return;
    const earlier = { OR: [{ pulledAt: null }, { pulledAt: { lt: at } }] };
    await this.db.$transaction([
      this.db.contentRevision.updateMany({ where: { repositoryId: stored.id, digest, ...earlier }, data: { pulledAt: at } }),
      ...(tag === null ? [] : [this.db.contentTag.updateMany({ where: { repositoryId: stored.id, name: tag, digest, ...earlier }, data: { pulledAt: at } })]),
    ]);
  }

  /**
   * The registry reports a manifest deletion and a blob unlink alike (a digest, no media type): a
   * digest the repository holds as a manifest loses it with every tag on it; otherwise the blob is
   * no longer linked there. A repository left without manifests leaves the index.
   */
  async digestDeleted(repository: string, digest: string): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const stored = await tx.contentRepository.findUnique({ where: { path: repository }, select: { id: true } });
      const removed = stored ? await tx.contentRevision.deleteMany({ where: { repositoryId: stored.id, digest } }) : { count: 0 };
      if (removed.count === 0) {
        await tx.contentBlobLink.deleteMany({ where: { repositoryPath: repository, digest } });
        return;
      }
      await tx.contentTag.deleteMany({ where: { repositoryId: stored!.id, digest } });
      await dropIfEmpty(tx, stored!.id);
    });
  }

  async tagDeleted(repository: string, tag: string): Promise<void> {
    await this.db.contentTag.deleteMany({ where: { repository: { path: repository }, name: tag } });
  }

  /** berth's own deletions (its hook skips their events): the tags and manifests that are gone. */
  async deleted(repository: string, tags: readonly string[], digests: readonly string[]): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const stored = await tx.contentRepository.findUnique({ where: { path: repository }, select: { id: true } });
      if (!stored) return;
      await tx.contentTag.deleteMany({ where: { repositoryId: stored.id, OR: [{ name: { in: [...tags] } }, { digest: { in: [...digests] } }] } });
      await tx.contentRevision.deleteMany({ where: { repositoryId: stored.id, digest: { in: [...digests] } } });
      await dropIfEmpty(tx, stored.id);
    });
  }

  /** A blob uploaded to or mounted into a repository. */
  async blobLinked(repository: string, digest: string, size: number): Promise<void> {
    await linkBlobs(this.db, repository, [{ digest, size: BigInt(size) }]);
  }

  /** Garbage collection deleted these blobs from storage. */
  async blobsSwept(digests: readonly string[]): Promise<void> {
    await forgetBlobs(this.db, digests);
  }

  /** Garbage collection removed these repositories (left without manifests) from storage. */
  async repositoriesPruned(paths: readonly string[]): Promise<void> {
    for (let i = 0; i < paths.length; i += BATCH) {
      const batch = paths.slice(i, i + BATCH);
      await this.db.$transaction([
        this.db.contentBlobLink.deleteMany({ where: { repositoryPath: { in: batch } } }),
        this.db.contentRepository.deleteMany({ where: { path: { in: batch } } }),
      ]);
    }
  }

  /** A deleted registry's slug: nothing indexed under it is left for a later registry to inherit. */
  async slugCleared(slug: string): Promise<void> {
    const prefix = `${slug}/`;
    const [repositories, links] = await Promise.all([
      this.db.contentRepository.findMany({ where: { slug }, select: { path: true } }),
      this.db.contentBlobLink.findMany({ where: { repositoryPath: { startsWith: prefix } }, select: { repositoryPath: true }, distinct: ['repositoryPath'] }),
    ]);
    // startsWith may match `_` as a LIKE wildcard: the exact test decides.
    const paths = new Set([...repositories.map(({ path }) => path), ...links.map(({ repositoryPath }) => repositoryPath).filter((path) => path.startsWith(prefix))]);
    await this.repositoriesPruned([...paths]);
  }

  /**
   * The manifest's rows, read from the backend the first time the index meets its digest. Null when
   * the backend no longer has it (deleted right after the push); the revision is recorded anyway and
   * the next reconcile settles it.
   */
  async learnManifest(repository: string, digest: string): Promise<ManifestRows | null> {
    const known = await this.db.contentManifest.findUnique({ where: { digest } });
    if (known) {
      const references = await this.db.contentReference.findMany({ where: { manifestDigest: digest }, orderBy: { position: 'asc' } });
      return { manifest: known, references };
    }
    const rows = await this.manifests.read(repository, digest);
    if (rows) await storeManifest(this.db, rows);
    return rows;
  }

  /** Two writers creating the same repository or tag at once: the loser tries again and finds it. */
  private async retryingRace(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await write();
    }
  }
}

/** Stores a manifest's rows unless another writer already did (content under a digest never changes). */
export async function storeManifest(db: Db | Tx, rows: ManifestRows): Promise<void> {
  try {
    await db.contentManifest.create({ data: rows.manifest });
  } catch (error) {
    if (isUniqueViolation(error)) return;
    throw error;
  }
  if (rows.references.length > 0) await db.contentReference.createMany({ data: rows.references });
}

async function upsertRepository(tx: Tx, path: string, pushedAt: Date): Promise<{ id: string }> {
  const slug = slugOf(path);
  const name = slug === '' ? path : path.slice(slug.length + 1);
  const stored = await tx.contentRepository.upsert({
    where: { path },
    create: { path, slug, name, lastPushedAt: pushedAt, seenAt: pushedAt },
    update: {},
    select: { id: true, lastPushedAt: true },
  });
  if (stored.lastPushedAt < pushedAt) await tx.contentRepository.update({ where: { id: stored.id }, data: { lastPushedAt: pushedAt } });
  return stored;
}

async function tagPushed(tx: Tx, repositoryId: string, name: string, digest: string, at: Date): Promise<void> {
  const tag = await tx.contentTag.findUnique({ where: { repositoryId_name: { repositoryId, name } } });
  if (!tag) await tx.contentTag.create({ data: { repositoryId, name, digest, pushedAt: at } });
  else if (tag.digest === digest) {
    if (at < tag.pushedAt) await tx.contentTag.update({ where: { id: tag.id }, data: { pushedAt: at } });
  } else if (at >= tag.pushedAt) await tx.contentTag.update({ where: { id: tag.id }, data: { digest, pushedAt: at } });
}

async function dropIfEmpty(tx: Tx, repositoryId: string): Promise<void> {
  if ((await tx.contentRevision.count({ where: { repositoryId } })) === 0) await tx.contentRepository.delete({ where: { id: repositoryId } });
}

/** Records blobs as stored and linked from the repository; what is already known stays as it is. */
export async function linkBlobs(db: Db | Tx, repository: string, blobs: readonly { digest: string; size: bigint }[]): Promise<void> {
  const slug = slugOf(repository);
  for (let i = 0; i < blobs.length; i += BATCH) {
    const batch = blobs.slice(i, i + BATCH);
    await db.$executeRaw`INSERT INTO "ContentBlob" ("digest", "size") VALUES ${Prisma.join(batch.map((b) => Prisma.sql`(${b.digest}, ${b.size})`))} ON CONFLICT DO NOTHING`;
    await db.$executeRaw`INSERT INTO "ContentBlobLink" ("repositoryPath", "slug", "digest") VALUES ${Prisma.join(
      batch.map((b) => Prisma.sql`(${repository}, ${slug}, ${b.digest})`),
    )} ON CONFLICT DO NOTHING`;
  }
}

/**
 * Drops blobs gone from storage, with their links, in one transaction of plain DELETEs: after a GC
 * sweep the backend takes no writes until it is done, and for 1,800 blobs deleteMany took about
 * twice as long (25 against 12 ms here), far more on a fresh client.
 */
export async function forgetBlobs(db: Db, digests: readonly string[]): Promise<void> {
  const batches = Array.from({ length: Math.ceil(digests.length / BATCH) }, (_, i) => digests.slice(i * BATCH, (i + 1) * BATCH));
  await db.$transaction(
    batches.flatMap((batch) => [
      db.$executeRaw`DELETE FROM "ContentBlobLink" WHERE "digest" IN (${Prisma.join(batch)})`,
      db.$executeRaw`DELETE FROM "ContentBlob" WHERE "digest" IN (${Prisma.join(batch)})`,
    ]),
  );
}
