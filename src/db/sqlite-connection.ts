import type { SqlDriverAdapter, SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import Database from 'better-sqlite3';

/**
 * Wraps the adapter factory handed to PrismaClient so that `use` gets each better-sqlite3
 * connection the adapter opens, before any query runs on it. That connection is not part of the
 * adapter's API, so a release that moves it fails at Prisma's first connect, not in a query.
 */
export function withSqliteConnection(factory: SqlDriverAdapterFactory, use: (connection: Database.Database) => void): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const adapter: SqlDriverAdapter = await factory.connect();
      const connection = (adapter as unknown as { client?: unknown }).client;
      if (!(connection instanceof Database)) throw new Error('the better-sqlite3 adapter no longer keeps its connection in `client`');
      use(connection);
      return adapter;
    },
  };
}

/**
 * Write-ahead log with synchronous=NORMAL, as servers on SQLite run it. With the default rollback
 * journal every commit syncs the disk twice while better-sqlite3 holds the event loop: ~1 ms per
 * commit on an idle disk here, far more while a GC sweep deletes thousands of files, against ~15 µs.
 * A commit still survives a crash of berth; a power loss may undo the last commits but never leaves
 * the file corrupt. Readers on other connections no longer wait for a writer either.
 */
export function useWriteAheadLog(connection: Database.Database): void {
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
}
