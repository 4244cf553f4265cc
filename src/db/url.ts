import path from 'node:path';
import { parse } from 'pg-connection-string';
import type { PoolConfig } from 'pg';

export type DatabaseProvider = 'sqlite' | 'postgresql';

export function databaseProvider(url: string): DatabaseProvider {
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgresql';
  if (url.startsWith('file:')) return 'sqlite';
  throw new Error(`DATABASE_URL must be file:<path> or postgres://…, got "${url}"`);
}

/** `file:./data/berth.db` → an absolute path, resolved against the working directory like better-sqlite3 does. */
export function sqliteFilePath(url: string): string {
  return path.resolve(url.replace(/^file:/, '').replace(/\?.*$/, ''));
}

/**
 * PostgreSQL connection settings as discrete fields. PrismaPg derives its shadow-database pool as
 * `{ ...config, database: shadow }`, and node-postgres lets a `connectionString` override
 * `database`, so passing the URL through would point the "shadow" database at the real one.
 */
export function pgPoolConfig(url: string): PoolConfig {
  const { host, port, user, password, database } = parse(url);
  return {
    ...(host ? { host } : {}),
    ...(port ? { port: Number(port) } : {}),
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
    ...(database ? { database } : {}),
  };
}
