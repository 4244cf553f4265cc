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
  const visible = visibleTo(viewer, 'n');
  if (!visible) return { rows: [], total: withTotal ? 0 : null };
  const order = `n."${sort.column}" ${sort.direction}, n."id" ${sort.direction}`;
  // Uncorrelated: both databases count once per statement, not once per row.
  const counted = withTotal ? visibleTo(viewer, 'c') : null;
  const total = counted ? `, (SELECT count(*) FROM "Namespace" c ${counted.where}) AS "total"` : '';
  // SQLite (3.53) plans a bare `LIMIT ?` for the value bound, so it compiles the statement again at
  // every run, which costs more than the run; a cast keeps the one prepared plan.
  const rows = await directReads(db).rows(
    `SELECT n."id", n."slug", n."name", n."createdAt", n."updatedAt"${total} FROM "Namespace" n ${visible.where} ORDER BY ${order} LIMIT CAST(? AS INTEGER)`,
    [...(counted?.params ?? []), ...visible.params, take],
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
  const visible = visibleTo(viewer, 'n');
  if (!visible) return 0;
  const [row] = await directReads(db).rows(`SELECT count(*) AS "total" FROM "Namespace" n ${visible.where}`, visible.params);
  return countOf(row?.['total']);
}

/** A 64-bit count: a string from PostgreSQL, a bigint from SQLite; none when no row came back. */
function countOf(value: unknown): number {
  return value === undefined ? 0 : Number(value);
}

/** The WHERE clause on `alias` (a "Namespace") for what the viewer may see; null: nothing. */
function visibleTo(viewer: Viewer | null, alias: 'n' | 'c'): { where: string; params: SqlParam[] } | null {
  if (!viewer) return null;
  if (viewer.isAdmin) return { where: '', params: [] };
  // The shape Prisma gives `memberships: { some: { userId } }`: the user's memberships come from
  // their index, however many namespaces there are.
  return { where: `WHERE ${alias}."id" IN (SELECT m."namespaceId" FROM "Membership" m WHERE m."userId" = ?)`, params: [viewer.id] };
}
