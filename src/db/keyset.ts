import { BerthError } from '../errors.js';

/**
 * Keyset pagination: a cursor holds the row's sort value and its id, and the next page starts
 * strictly after that pair. Unlike offsets, a page never repeats or skips rows when others are
 * added or deleted meanwhile, and unlike Prisma's id cursors it still works once the cursor's own
 * row is gone. Costs one indexed range scan per page, whatever the page number.
 */

export type SortValue = string | Date;

export interface KeysetArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface KeysetSpec<Row> {
  direction: 'ASC' | 'DESC';
  /** Rows when the arguments name no size; the caller checked the connection arguments. */
  defaultSize: number;
  valueOf: (row: Row) => SortValue;
  idOf: (row: Row) => string;
  /**
   * Runs the query: rows strictly beyond `after` (sort value, then id) in the given order, at most
   * `take`. prismaKeyset() builds the where and orderBy of a Prisma query from these.
   */
  fetch: (after: KeysetPosition | null, ascending: boolean, take: number) => Promise<Row[]>;
}

export interface KeysetPosition {
  value: SortValue;
  id: string;
}

export interface KeysetPage<Row> {
  edges: { cursor: string; node: Row }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** A cursor that berth did not hand out. */
export class InvalidCursorError extends BerthError {}

export async function keysetPage<Row>(args: KeysetArgs, spec: KeysetSpec<Row>): Promise<KeysetPage<Row>> {
  const backward = args.last != null && args.first == null;
  const size = (backward ? args.last : args.first) ?? spec.defaultSize;
  const cursor = backward ? args.before : args.after;
  // Walking backward is walking forward in the opposite order, then reversing the page.
  const ascending = (spec.direction === 'ASC') !== backward;
  const rows = size === 0 ? [] : await spec.fetch(cursor ? decodeCursor(cursor) : null, ascending, size + 1);
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();
  const edges = page.map((node) => ({ cursor: encodeCursor(spec.valueOf(node), spec.idOf(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: backward ? args.before != null : more,
      hasPreviousPage: backward ? more : args.after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** The where condition and order of a Prisma query for one keyset page on `field`. */
export function prismaKeyset(field: string, after: KeysetPosition | null, ascending: boolean) {
  const beyond = ascending ? 'gt' : 'lt';
  const order = ascending ? ('asc' as const) : ('desc' as const);
  return {
    where: after ? { OR: [{ [field]: { [beyond]: after.value } }, { [field]: after.value, id: { [beyond]: after.id } }] } : {},
    orderBy: [{ [field]: order }, { id: order }],
  };
}

export function encodeCursor(value: SortValue, id: string): string {
  const encoded = value instanceof Date ? { d: value.toISOString() } : { s: value };
  return Buffer.from(JSON.stringify([encoded, id])).toString('base64url');
}

function decodeCursor(cursor: string): KeysetPosition {
  try {
    const [encoded, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [{ d?: unknown; s?: unknown }, unknown];
    if (typeof id === 'string') {
      if (typeof encoded.s === 'string') return { value: encoded.s, id };
      if (typeof encoded.d === 'string' && !Number.isNaN(Date.parse(encoded.d))) return { value: new Date(encoded.d), id };
    }
  } catch {
    // Reported below like any other cursor berth did not make.
  }
  throw new InvalidCursorError(`"${cursor.slice(0, 60)}" is not a cursor of this list`);
}
