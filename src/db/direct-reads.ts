import type { SqlDriverAdapter, SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import Database, { type Statement } from 'better-sqlite3';

/** A value bound to a `?` placeholder. */
export type SqlParam = string | number;

type Rows = Record<string, unknown>[];
type RunStatement = (sql: string, params: readonly SqlParam[]) => Promise<Rows>;

/**
 * Read statements sent straight to the driver Prisma itself connected, past Prisma's query
 * pipeline. On a 2-core machine a small `findMany` costs ~300 µs of CPU in Prisma and a
 * `$queryRaw` ~230 µs; a prepared statement on the same connection costs ~30 µs. For the hottest
 * reads only, each a fixed SQL text: they run on Prisma's own connection (SQLite) or pool
 * (PostgreSQL), so they see exactly what Prisma's queries see, and each is prepared once per
 * connection. Write SQL with `?` placeholders, portable between SQLite and PostgreSQL; tenancy
 * stays in the statement like in any query.
 */
export class DirectReads {
  private run: RunStatement | null = null;

  constructor(
    private readonly provider: 'sqlite' | 'postgres',
    /** Connects Prisma when no query did yet: the driver is there from then on. */
    private readonly connect: () => Promise<void>,
  ) {}

  /** Wraps the adapter factory handed to PrismaClient, to run on the driver it connects. */
  capture(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
    return {
      provider: factory.provider,
      adapterName: factory.adapterName,
      connect: async () => {
        const adapter = await factory.connect();
        this.run = this.provider === 'sqlite' ? onSqliteConnection(adapter) : onPostgresPool(adapter);
        return adapter;
      },
    };
  }

  /** The rows of one read statement, as objects keyed by column name, values as the driver gives them. */
  async rows(sql: string, params: readonly SqlParam[]): Promise<Rows> {
    if (!this.run) await this.connect();
    return this.run!(sql, params);
  }
}

/**
 * better-sqlite3 statements, prepared once: the adapter prepares every statement it runs, which
 * with its row mapping costs twice the statement itself. Its connection is not part of its API, so
 * a release that moves it fails here, at Prisma's first connect, not in a query.
 */
function onSqliteConnection(adapter: SqlDriverAdapter): RunStatement {
  const connection = (adapter as unknown as { client?: unknown }).client;
  if (!(connection instanceof Database)) throw new Error('DirectReads: the better-sqlite3 adapter no longer keeps its connection in `client`');
  const statements = new Map<string, Statement<SqlParam[], Record<string, unknown>>>();
  return async (sql, params) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = connection.prepare<SqlParam[], Record<string, unknown>>(sql)));
    return statement.all(...params);
  };
}

/** Through the adapter, whose pool prepares each direct statement once per connection (directStatementName). */
function onPostgresPool(adapter: SqlDriverAdapter): RunStatement {
  return async (sql, params) => {
    const result = await adapter.queryRaw({
      sql: numberedPlaceholders(sql),
      args: [...params],
      argTypes: params.map((param) => ({ scalarType: typeof param === 'number' ? 'int' : 'string', arity: 'scalar' })),
    });
    const { columnNames } = result;
    return result.rows.map((values) => Object.fromEntries(columnNames.map((name, i) => [name, values[i]])));
  };
}

/** PostgreSQL text of each direct statement, and the name it is prepared under on each connection. */
const postgresStatements = new Map<string, { text: string; name: string }>();
const postgresNames = new Map<string, string>();

/** PostgreSQL numbers its placeholders: `?` → `$1`, `$2`, … (the statements hold no other `?`). */
function numberedPlaceholders(sql: string): string {
  let statement = postgresStatements.get(sql);
  if (!statement) {
    let n = 0;
    statement = { text: sql.replace(/\?/g, () => `$${++n}`), name: `berth_direct_${postgresStatements.size + 1}` };
    postgresStatements.set(sql, statement);
    postgresNames.set(statement.text, statement.name);
  }
  return statement.text;
}

/**
 * For PrismaPg's `statementNameGenerator`: direct reads are prepared once per pooled connection
 * and reused, as their set is small and fixed; Prisma's own queries stay unnamed ('' names none),
 * as their texts vary (`IN` lists) and named statements are never freed.
 */
export function directStatementName(sql: string): string {
  return postgresNames.get(sql) ?? '';
}
