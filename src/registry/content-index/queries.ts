import type { Db } from '../../db/client.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { RegistryUsageFacts } from '../content.js';

/**
 * The content index's aggregate queries, in SQL that SQLite and PostgreSQL both run. Storage
 * figures follow garbage collection's marking exactly: a manifest linked into a repository marks
 * its own blob and everything it references (an image's config and layers, an index's children).
 */

/** A revision that is not a platform of another manifest of its repository: an image of the repository. */
const IS_TOP_LEVEL = Prisma.sql`NOT EXISTS (
  SELECT 1 FROM "ContentRevision" parent JOIN "ContentReference" child ON child."manifestDigest" = parent."digest"
  WHERE parent."repositoryId" = r."repositoryId" AND child."digest" = r."digest")`;

/** Bytes stored by the repositories of each slug, every blob counted once per slug. One statement. */
export async function storedBytesBySlug(db: Db, slugs: readonly string[]): Promise<Map<string, number>> {
  if (slugs.length === 0) return new Map();
  const rows = await db.$queryRaw<{ slug: string; bytes: bigint | number | null }[]>`
    SELECT "slug", SUM("size") AS "bytes" FROM (
      SELECT p."slug", r."digest", m."size" FROM "ContentRevision" r
        JOIN "ContentRepository" p ON p."id" = r."repositoryId" JOIN "ContentManifest" m ON m."digest" = r."digest"
        WHERE p."slug" IN (${Prisma.join(slugs)})
      UNION
      SELECT p."slug", f."digest", f."size" FROM "ContentRevision" r
        JOIN "ContentRepository" p ON p."id" = r."repositoryId" JOIN "ContentReference" f ON f."manifestDigest" = r."digest"
        WHERE p."slug" IN (${Prisma.join(slugs)})
    ) AS "marked" GROUP BY "slug"`;
  return new Map(rows.map((row) => [row.slug, Number(row.bytes ?? 0)]));
}

/** Storage, repository and image counts of each slug. */
export async function usageBySlug(db: Db, slugs: readonly string[]): Promise<Map<string, RegistryUsageFacts>> {
  const [bytes, repositories, images] = await Promise.all([
    storedBytesBySlug(db, slugs),
    db.contentRepository.groupBy({ by: ['slug'], where: { slug: { in: [...slugs] } }, _count: { _all: true } }),
    db.$queryRaw<{ slug: string; images: bigint | number }[]>`
      SELECT p."slug", COUNT(*) AS "images" FROM "ContentRevision" r JOIN "ContentRepository" p ON p."id" = r."repositoryId"
      WHERE p."slug" IN (${Prisma.join(slugs)}) AND ${IS_TOP_LEVEL} GROUP BY p."slug"`,
  ]);
  const repositoryCounts = new Map(repositories.map((row) => [row.slug, row._count._all]));
  const imageCounts = new Map(images.map((row) => [row.slug, Number(row.images)]));
  return new Map(
    slugs.map((slug) => [slug, { bytes: bytes.get(slug) ?? 0, repositories: repositoryCounts.get(slug) ?? 0, images: imageCounts.get(slug) ?? 0 }]),
  );
}

/** Bytes stored by each repository (by id), every blob counted once. */
export async function storedBytesByRepository(db: Db, repositoryIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ repositoryId: string; bytes: bigint | number | null }[]>`
    SELECT "repositoryId", SUM("size") AS "bytes" FROM (
      SELECT r."repositoryId", r."digest", m."size" FROM "ContentRevision" r JOIN "ContentManifest" m ON m."digest" = r."digest"
        WHERE r."repositoryId" IN (${Prisma.join(repositoryIds)})
      UNION
      SELECT r."repositoryId", f."digest", f."size" FROM "ContentRevision" r JOIN "ContentReference" f ON f."manifestDigest" = r."digest"
        WHERE r."repositoryId" IN (${Prisma.join(repositoryIds)})
    ) AS "marked" GROUP BY "repositoryId"`;
  return new Map(rows.map((row) => [row.repositoryId, Number(row.bytes ?? 0)]));
}

/** Images (top-level manifests) of each repository, by id. */
export async function imageCountByRepository(db: Db, repositoryIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ repositoryId: string; images: bigint | number }[]>`
    SELECT r."repositoryId", COUNT(*) AS "images" FROM "ContentRevision" r
    WHERE r."repositoryId" IN (${Prisma.join(repositoryIds)}) AND ${IS_TOP_LEVEL} GROUP BY r."repositoryId"`;
  return new Map(rows.map((row) => [row.repositoryId, Number(row.images)]));
}

export interface ImageRow {
  id: string;
  digest: string;
  pushedAt: Date;
}

/** One keyset page of a repository's images, ordered by digest or first push, then id. */
export function imagePage(
  db: Db,
  repositoryId: string,
  order: 'digest' | 'pushedAt',
  after: { value: string | Date; id: string } | null,
  ascending: boolean,
  take: number,
): Promise<ImageRow[]> {
  const column = Prisma.raw(`r."${order}"`);
  const direction = Prisma.raw(ascending ? 'ASC' : 'DESC');
  const beyond = Prisma.raw(ascending ? '>' : '<');
  const cursor = after ? Prisma.sql`AND (${column} ${beyond} ${after.value} OR (${column} = ${after.value} AND r."id" ${beyond} ${after.id}))` : Prisma.empty;
  return db.$queryRaw<ImageRow[]>`
    SELECT r."id", r."digest", r."pushedAt" FROM "ContentRevision" r
    WHERE r."repositoryId" = ${repositoryId} AND ${IS_TOP_LEVEL} ${cursor}
    ORDER BY ${column} ${direction}, r."id" ${direction} LIMIT ${take}`;
}

/**
 * Bytes a garbage collection would free now of the blobs linked into the slug's repositories: those
 * no manifest anywhere on the backend marks any more. Blobs of another slug are never counted.
 */
export async function reclaimableBytes(db: Db, slug: string): Promise<number> {
  const [row] = await db.$queryRaw<{ bytes: bigint | number | null }[]>`
    SELECT SUM(b."size") AS "bytes" FROM "ContentBlob" b
    WHERE EXISTS (SELECT 1 FROM "ContentBlobLink" l WHERE l."digest" = b."digest" AND l."slug" = ${slug})
      AND NOT EXISTS (SELECT 1 FROM "ContentRevision" r WHERE r."digest" = b."digest")
      AND NOT EXISTS (SELECT 1 FROM "ContentReference" f JOIN "ContentRevision" r ON r."digest" = f."manifestDigest" WHERE f."digest" = b."digest")`;
  return Number(row?.bytes ?? 0);
}

/** The first page of several parents' lists at once: ids of the first `take` rows of each, in order. */
export interface FirstPages {
  parentIds: readonly string[];
  order: string;
  ascending: boolean;
  take: number;
}

/**
 * The ids of each repository's first `take` tags in one statement (a window function numbers each
 * repository's rows), where a page per repository would cost a statement each.
 */
export async function firstTagPages(db: Db, { parentIds, order, ascending, take }: FirstPages): Promise<string[]> {
  const column = Prisma.raw(`t."${order}"`);
  const direction = Prisma.raw(ascending ? 'ASC' : 'DESC');
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT "id" FROM (
      SELECT t."id", ROW_NUMBER() OVER (PARTITION BY t."repositoryId" ORDER BY ${column} ${direction}, t."id" ${direction}) AS "rank"
      FROM "ContentTag" t WHERE t."repositoryId" IN (${Prisma.join(parentIds)})
    ) AS "ranked" WHERE "rank" <= ${take}`;
  return rows.map((row) => row.id);
}

/** Each repository's first `take` images (as imagePage orders them) in one statement. */
export async function firstImagePages(db: Db, { parentIds, order, ascending, take }: FirstPages): Promise<(ImageRow & { repositoryId: string })[]> {
  const column = Prisma.raw(`r."${order}"`);
  const direction = Prisma.raw(ascending ? 'ASC' : 'DESC');
  return db.$queryRaw<(ImageRow & { repositoryId: string })[]>`
    SELECT "id", "repositoryId", "digest", "pushedAt" FROM (
      SELECT r."id", r."repositoryId", r."digest", r."pushedAt",
        ROW_NUMBER() OVER (PARTITION BY r."repositoryId" ORDER BY ${column} ${direction}, r."id" ${direction}) AS "rank"
      FROM "ContentRevision" r WHERE r."repositoryId" IN (${Prisma.join(parentIds)}) AND ${IS_TOP_LEVEL}
    ) AS "ranked" WHERE "rank" <= ${take}`;
}

/** The size of every blob the index knows to be stored, by digest: a blob's size never changes under its digest. */
export async function indexedBlobSizes(db: Db): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ digest: string; size: bigint | number }[]>`SELECT "digest", "size" FROM "ContentBlob"`;
  return new Map(rows.map((row) => [row.digest, Number(row.size)]));
}
