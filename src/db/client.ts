import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { PrismaClient as PgPrismaClient } from '../generated/prisma-pg/client.js';
import { DirectReads, directStatementName } from './direct-reads.js';
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
    let db: Db;
    const reads = new DirectReads('postgres', () => db.$connect());
    const adapter = new PrismaPg(pgPoolConfig(url), { statementNameGenerator: (query) => directStatementName(query.sql) });
    db = new PgPrismaClient({ adapter: reads.capture(adapter) }) as unknown as Db;
    directReadsByDb.set(db, reads);
    return db;
  }
  let db: Db;
  const reads = new DirectReads('sqlite', () => db.$connect());
  db = new PrismaClient({ adapter: reads.capture(new PrismaBetterSqlite3({ url: `file:${sqliteFilePath(url)}` })) });
  directReadsByDb.set(db, reads);
  return db;
}

/** The statements of `db`'s own connection that bypass Prisma's query pipeline (see DirectReads). */
export function directReads(db: Db): DirectReads {
  const reads = directReadsByDb.get(db);
  if (!reads) throw new Error('directReads: this client was not made by createDb');
  return reads;
}
