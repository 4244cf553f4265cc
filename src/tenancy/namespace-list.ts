import type { Viewer } from '../auth/viewer.js';
import { type Db, directReads } from '../db/client.js';
import type { SqlParam } from '../db/direct-reads.js';
import type { Namespace } from '../generated/prisma/client.js';

/**
 * The namespace list every dashboard polls, as direct reads (see DirectReads): its first page and
 * its count are one prepared statement each. Tenancy is in the SQL, as visibleNamespaces() puts it
 * in Prisma queries: members see the namespaces they belong to, admins every one, anonymous
 * viewers none.
 */

export type NamespaceSortColumn = 'slug' | 'name' | 'createdAt';

export interface NamespaceSort {
  column: NamespaceSortColumn;
  direction: 'ASC' | 'DESC';
}

/** Quoted identifiers, from a fixed set: nothing from the request reaches the SQL text. */
const SORT_COLUMNS: Record<NamespaceSortColumn, string> = { slug: 'n."slug"', name: 'n."name"', createdAt: 'n."createdAt"' };

/** The rows Prisma would return for the same order and size (ties broken by id, like the Prisma query). */
export async function firstNamespaces(db: Db, viewer: Viewer | null, sort: NamespaceSort, take: number): Promise<Namespace[]> {
  const visible = visibleTo(viewer);
  if (!visible) return [];
  const order = `${SORT_COLUMNS[sort.column]} ${sort.direction}, n."id" ${sort.direction}`;
  const rows = await directReads(db).rows(
    `SELECT n."id", n."slug", n."name", n."createdAt", n."updatedAt" FROM "Namespace" n ${visible.where} ORDER BY ${order} LIMIT ?`,
    [...visible.params, take],
  );
  return rows.map((row) => ({
    id: String(row['id']),
    slug: String(row['slug']),
    name: String(row['name']),
    createdAt: new Date(row['createdAt'] as string),
    updatedAt: new Date(row['updatedAt'] as string),
  }));
}

export async function countVisibleNamespaces(db: Db, viewer: Viewer | null): Promise<number> {
  const visible = visibleTo(viewer);
  if (!visible) return 0;
  const [row] = await directReads(db).rows(`SELECT count(*) AS "total" FROM "Namespace" n ${visible.where}`, visible.params);
  // A 64-bit count: a string from PostgreSQL, a string or number from SQLite's adapter.
  return Number(row?.['total'] ?? 0);
}

/** The WHERE clause on `n` (a "Namespace") for what the viewer may see; null: nothing. */
function visibleTo(viewer: Viewer | null): { where: string; params: SqlParam[] } | null {
  if (!viewer) return null;
  if (viewer.isAdmin) return { where: '', params: [] };
  // The shape Prisma gives `memberships: { some: { userId } }`: the user's memberships come from
  // their index, however many namespaces there are.
  return { where: 'WHERE n."id" IN (SELECT m."namespaceId" FROM "Membership" m WHERE m."userId" = ?)', params: [viewer.id] };
}
