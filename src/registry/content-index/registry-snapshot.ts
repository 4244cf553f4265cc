import type { Db } from '../../db/client.js';

/** One repository of a hosted registry as the content index holds it. */
export interface RepositorySnapshot {
  id: string;
  /** In the backend: `<slug>/<name>`. */
  path: string;
  /** Inside the registry. */
  name: string;
  tags: { name: string; digest: string; pushedAt: Date; pulledAt: Date | null }[];
  /** Every manifest linked into the repository, tagged or not. */
  revisions: ReadonlySet<string>;
  /** The children of each index (those of the whole registry: a digest's children are the same everywhere), in document order. */
  children: ReadonlyMap<string, readonly string[]>;
  /** Digests that a manifest linked into the repository names as its subject. */
  referred: ReadonlySet<string>;
}

/**
 * Every repository of the hosted registry `slug` with its tags, manifests, index children and
 * referrers, in five statements whatever its size: what cleanup rules are judged on.
 */
export async function registrySnapshot(db: Db, slug: string): Promise<RepositorySnapshot[]> {
  const inSlug = { repository: { slug } };
  const [repositories, tags, revisions, children, subjects] = await Promise.all([
    db.contentRepository.findMany({ where: { slug }, select: { id: true, path: true, name: true } }),
    db.contentTag.findMany({ where: inSlug, select: { repositoryId: true, name: true, digest: true, pushedAt: true, pulledAt: true } }),
    db.contentRevision.findMany({ where: inSlug, select: { repositoryId: true, digest: true } }),
    db.$queryRaw<{ manifestDigest: string; digest: string }[]>`
      SELECT DISTINCT f."manifestDigest", f."digest", f."position" FROM "ContentRevision" r JOIN "ContentRepository" p ON p."id" = r."repositoryId"
        JOIN "ContentManifest" m ON m."digest" = r."digest" JOIN "ContentReference" f ON f."manifestDigest" = r."digest"
      WHERE p."slug" = ${slug} AND m."isIndex" = ${true}
      ORDER BY f."manifestDigest", f."position"`,
    db.$queryRaw<{ repositoryId: string; subject: string }[]>`
      SELECT DISTINCT r."repositoryId", m."subject" FROM "ContentRevision" r
        JOIN "ContentRepository" p ON p."id" = r."repositoryId" JOIN "ContentManifest" m ON m."digest" = r."digest"
      WHERE p."slug" = ${slug} AND m."subject" IS NOT NULL`,
  ]);
  const childrenOf = new Map<string, string[]>();
  for (const { manifestDigest, digest } of children) childrenOf.set(manifestDigest, [...(childrenOf.get(manifestDigest) ?? []), digest]);
  const snapshots = new Map<string, RepositorySnapshot & { revisions: Set<string>; referred: Set<string> }>(
    repositories.map((row) => [row.id, { ...row, tags: [], revisions: new Set(), children: childrenOf, referred: new Set() }]),
  );
  for (const { repositoryId, ...tag } of tags) snapshots.get(repositoryId)?.tags.push(tag);
  for (const { repositoryId, digest } of revisions) snapshots.get(repositoryId)?.revisions.add(digest);
  for (const { repositoryId, subject } of subjects) snapshots.get(repositoryId)?.referred.add(subject);
  return [...snapshots.values()];
}

