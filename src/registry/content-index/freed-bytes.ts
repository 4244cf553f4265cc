import type { Db } from '../../db/client.js';
import { Prisma } from '../../generated/prisma/client.js';
import { BATCH } from './writer.js';

/** A manifest linked into a repository: what garbage collection marks from. */
export interface Revision {
  repositoryId: string;
  digest: string;
}

/**
 * The bytes that deleting each set of revisions, then a garbage collection, would free: the stored
 * blobs that a revision of the set marks and that no revision outside the set marks, anywhere on
 * the backend (so a blob shared with another tenant never counts). A revision marks its own blob
 * and what it references, as distribution's garbage-collect marks them.
 *
 * All sets are computed together: one pass over the union of the blobs they mark, whatever the
 * number of sets. Blobs shared only inside a set count for it.
 */
export async function freedBytes(db: Db, sets: readonly (readonly Revision[])[]): Promise<number[]> {
  return (await freedBlobs(db, sets)).map((blobs) => [...blobs.values()].reduce((total, size) => total + size, 0));
}

/** The blobs behind freedBytes, digest → stored size, for whoever must later check which went. */
export async function freedBlobs(db: Db, sets: readonly (readonly Revision[])[]): Promise<Map<string, number>[]> {
  const digests = [...new Set(sets.flat().map((revision) => revision.digest))];
  const referencesOf = await references(db, digests);
  const candidates = [...new Set(digests.flatMap((digest) => [digest, ...(referencesOf.get(digest) ?? [])]))];
  const [markers, sizes] = await Promise.all([markingRevisions(db, candidates), storedSizes(db, candidates)]);
  return sets.map((set) => freedBy(set, { referencesOf, markers, sizes }));
}

/**
 * freedBlobs for sets that hold revisions of one hosted registry only (`<slug>/…`), as a cleanup
 * plans them: the facts come from three statements over the registry's content instead of lookups
 * by digest, which is what keeps a preview of 10,000 tags well under a second.
 */
export async function freedBlobsInRegistry(db: Db, slug: string, sets: readonly (readonly Revision[])[]): Promise<Map<string, number>[]> {
  const inSlug = Prisma.sql`SELECT r."digest" FROM "ContentRevision" r JOIN "ContentRepository" p ON p."id" = r."repositoryId" WHERE p."slug" = ${slug}`;
  const [references, blobs] = await Promise.all([
    db.$queryRaw<{ manifestDigest: string; digest: string }[]>`
      SELECT DISTINCT f."manifestDigest", f."digest" FROM "ContentReference" f WHERE f."manifestDigest" IN (${inSlug})`,
    // A revision never references its own manifest, so its two ways of marking a blob never overlap.
    db.$queryRaw<{ digest: string; size: bigint | number; own: bigint | number; referencing: bigint | number }[]>`
      SELECT b."digest", b."size",
        (SELECT COUNT(*) FROM "ContentRevision" r WHERE r."digest" = b."digest") AS "own",
        (SELECT COUNT(DISTINCT r."id") FROM "ContentReference" f JOIN "ContentRevision" r ON r."digest" = f."manifestDigest" WHERE f."digest" = b."digest") AS "referencing"
      FROM "ContentBlob" b
      WHERE b."digest" IN (${inSlug}) OR b."digest" IN (SELECT f."digest" FROM "ContentReference" f WHERE f."manifestDigest" IN (${inSlug}))`,
  ]);
  const referencesOf = new Map<string, string[]>();
  for (const { manifestDigest, digest } of references) referencesOf.set(manifestDigest, [...(referencesOf.get(manifestDigest) ?? []), digest]);
  const markers = new Map(blobs.map((blob) => [blob.digest, Number(blob.own) + Number(blob.referencing)]));
  const sizes = new Map(blobs.map((blob) => [blob.digest, Number(blob.size)]));
  return sets.map((set) => freedBy(set, { referencesOf, markers, sizes }));
}

interface MarkFacts {
  /** What each manifest of the sets references. */
  referencesOf: ReadonlyMap<string, readonly string[]>;
  /** How many revisions on the whole backend mark each blob the sets mark. */
  markers: ReadonlyMap<string, number>;
  /** Stored sizes; a blob the backend does not store frees nothing. */
  sizes: ReadonlyMap<string, number>;
}

/** The blobs that every revision marking them is in the set. */
function freedBy(set: readonly Revision[], { referencesOf, markers, sizes }: MarkFacts): Map<string, number> {
  const unique = new Map(set.map((revision) => [`${revision.repositoryId}@${revision.digest}`, revision]));
  const inSet = new Map<string, number>();
  for (const { digest } of unique.values()) {
    for (const blob of new Set([digest, ...(referencesOf.get(digest) ?? [])])) inSet.set(blob, (inSet.get(blob) ?? 0) + 1);
  }
  const freed = new Map<string, number>();
  for (const [blob, count] of inSet) {
    const size = sizes.get(blob);
    if (size !== undefined && count === (markers.get(blob) ?? 0)) freed.set(blob, size);
  }
  return freed;
}

/** What each manifest references (config, layers, children), by digest. */
async function references(db: Db, digests: readonly string[]): Promise<Map<string, string[]>> {
  const byManifest = new Map<string, string[]>();
  for (let i = 0; i < digests.length; i += BATCH) {
    const rows = await db.contentReference.findMany({ where: { manifestDigest: { in: digests.slice(i, i + BATCH) } }, select: { manifestDigest: true, digest: true } });
    for (const { manifestDigest, digest } of rows) {
      const list = byManifest.get(manifestDigest) ?? [];
      list.push(digest);
      byManifest.set(manifestDigest, list);
    }
  }
  return byManifest;
}

/** How many revisions on the whole backend mark each blob. */
async function markingRevisions(db: Db, blobs: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < blobs.length; i += BATCH) {
    const batch = Prisma.join(blobs.slice(i, i + BATCH));
    const rows = await db.$queryRaw<{ digest: string; revisions: bigint | number }[]>`
      SELECT "digest", COUNT(DISTINCT "revision") AS "revisions" FROM (
        SELECT f."digest" AS "digest", r."id" AS "revision" FROM "ContentReference" f JOIN "ContentRevision" r ON r."digest" = f."manifestDigest"
          WHERE f."digest" IN (${batch})
        UNION ALL
        SELECT r."digest", r."id" FROM "ContentRevision" r WHERE r."digest" IN (${batch})
      ) AS "marks" GROUP BY "digest"`;
    for (const row of rows) counts.set(row.digest, Number(row.revisions));
  }
  return counts;
}

/** Sizes of the blobs the backend stores; a blob it does not store frees nothing. */
async function storedSizes(db: Db, blobs: readonly string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (let i = 0; i < blobs.length; i += BATCH) {
    const rows = await db.contentBlob.findMany({ where: { digest: { in: blobs.slice(i, i + BATCH) } } });
    for (const row of rows) sizes.set(row.digest, Number(row.size));
  }
  return sizes;
}
