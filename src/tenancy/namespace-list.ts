import type { Viewer } from '../auth/viewer.js';
import { type Db, directReads } from '../db/client.js';
import type { SqlParam } from '../db/direct-reads.js';
import type { Namespace } from '../generated/prisma/client.js';

/**
 * The namespace list every dashboard polls, as direct reads (see DirectReads): its first page,
 * with its count when asked for, is one prepared statement. Tenancy is in the SQL, as
 * visibleNamespaces() puts it in Prisma queries: members see the namespaces they belong to,
 * admins every one, anonymous viewers none.
 */

/** Column names from a fixed set: nothing from the request reaches the SQL text. */
export type NamespaceSortColumn = 'slug' | 'name' | 'createdAt';

export interface NamespaceSort {
  column: NamespaceSortColumn;
  direction: 'ASC' | 'DESC';
}

export interface NamespacePage {
  rows: Namespace[];
  /** Every namespace the viewer sees; with `withTotal` only. */
  total: number | null;
}

/**
 * The rows Prisma would return for the same order and size (ties broken by id, like the Prisma
 * query), and with `withTotal` their count, from the same statement: one statement a request.
 */
export async function firstNamespaces(db: Db, viewer: Viewer | null, sort: NamespaceSort, take: number, withTotal: boolean): Promise<NamespacePage> {
  const visible = visibleTo(viewer);
  if (!visible) return { rows: [], total: withTotal ? 0 : null };
  const order = `n."${sort.column}" ${sort.direction}, n."id" ${sort.direction}`;
  // Uncorrelated: both databases count once per statement, not once per row.
  const total = withTotal ? `, (${visible.count}) AS "total"` : '';
  // SQLite (3.53) plans a bare `LIMIT ?` for the value bound, so it compiles the statement again at
  // every run, which costs more than the run; a cast keeps the one prepared plan.
  const rows = await directReads(db).rows(
    `SELECT n."id", n."slug", n."name", n."createdAt", n."updatedAt"${total} FROM ${visible.from} ORDER BY ${order} LIMIT CAST(? AS INTEGER)`,
    [...(withTotal ? visible.params : []), ...visible.params, take],
  );
  return {
    rows: rows.map((row) => ({
      id: String(row['id']),
      slug: String(row['slug']),
      name: String(row['name']),
      createdAt: new Date(row['createdAt'] as string),
      updatedAt: new Date(row['updatedAt'] as string),
    })),
    // A first page holds every row up to its size: when it is empty, there are none.
    total: withTotal ? countOf(rows[0]?.['total']) : null,
  };
}

export async function countVisibleNamespaces(db: Db, viewer: Viewer | null): Promise<number> {
  const visible = visibleTo(viewer);
  if (!visible) return 0;
  const [row] = await directReads(db).rows(visible.count, visible.params);
  return countOf(row?.['total']);
}

/** A 64-bit count: a string from PostgreSQL, a bigint from SQLite; none when no row came back. */
function countOf(value: unknown): number {
  return value === undefined ? 0 : Number(value);
}

/**
 * What the viewer may see: `from` names those namespaces `n`, `count` counts them (as "total"), both
 * with `params`; null: nothing. A member's namespaces are reached from their memberships, by the
 * userId index: cheaper than testing every namespace against the list of them, the shape Prisma gives
 * `memberships: { some: { userId } }`. A user has one membership a namespace at most and each
 * membership has its namespace (foreign key, deleted with it), so both give the same namespaces.
 */
function visibleTo(viewer: Viewer | null): { from: string; count: string; params: SqlParam[] } | null {
  if (!viewer) return null;
  if (viewer.isAdmin) return { from: '"Namespace" n', count: 'SELECT count(*) AS "total" FROM "Namespace" c', params: [] };
  return {
    from: '"Membership" m JOIN "Namespace" n ON n."id" = m."namespaceId" WHERE m."userId" = ?',
    count: 'SELECT count(*) AS "total" FROM "Membership" c WHERE c."userId" = ?',
    params: [viewer.id],
  };
}
