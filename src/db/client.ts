import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { PrismaClient as PgPrismaClient } from '../generated/prisma-pg/client.js';
import { databaseProvider, pgPoolConfig, sqliteFilePath } from './url.js';

/**
 * Code is typed against the SQLite client. The PostgreSQL client is generated from the same models
 * (prisma/postgresql/schema.prisma) and behaves the same for the portable queries berth makes; a
 * client generated for one provider refuses the other's adapter, hence two.
 */
export type Db = PrismaClient;

export function createDb(url: string): Db {
  if (databaseProvider(url) === 'postgresql') {
    return new PgPrismaClient({ adapter: new PrismaPg(pgPoolConfig(url)) }) as unknown as Db;
  }
  return new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: `file:${sqliteFilePath(url)}` }) });
}
