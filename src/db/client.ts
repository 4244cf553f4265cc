import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { PrismaClient as PgPrismaClient } from '../generated/prisma-pg/client.js';
import { type DirectReads, PostgresDirectReads, SqliteDirectReads } from './direct-reads.js';
import { useWriteAheadLog, withSqliteConnection } from './sqlite-connection.js';
import { databaseProvider, pgPoolConfig, sqliteFilePath } from './url.js';

/**
 * Code is typed against the SQLite client. The PostgreSQL client is generated from the same models
 * (prisma/postgresql/schema.prisma) and behaves the same for the portable queries berth makes; a
 * client generated for one provider refuses the other's adapter, hence two.
 */
export type Db = PrismaClient;

const directReadsByDb = new WeakMap<Db, DirectReads>();

export function createDb(url: string): Db {
  if (databaseProvider(url) === 'postgresql') {
    // One pool for Prisma and the direct reads; Prisma's $disconnect ends it.
    const pool = new pg.Pool(pgPoolConfig(url));
    const db = new PgPrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) }) as unknown as Db;
    directReadsByDb.set(db, new PostgresDirectReads(pool));
    return db;
  }
  let db: Db;
  const reads = new SqliteDirectReads(() => db.$connect());
  const adapter = withSqliteConnection(new PrismaBetterSqlite3({ url: `file:${sqliteFilePath(url)}` }), (connection) => {
    useWriteAheadLog(connection);
    reads.attach(connection);
  });
  db = new PrismaClient({ adapter });
  directReadsByDb.set(db, reads);
  return db;
}

/** The statements of `db`'s own connection that bypass Prisma's query pipeline (see DirectReads). */
export function directReads(db: Db): DirectReads {
  const reads = directReadsByDb.get(db);
  if (!reads) throw new Error('directReads: this client was not made by createDb');
  return reads;
}
