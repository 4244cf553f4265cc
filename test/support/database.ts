import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/db/client.js';

export interface TestDatabase {
  readonly url: string;
  readonly db: Db;
  drop(): Promise<void>;
}

let counter = 0;

/**
 * A fresh, migrated database for one test file, on the provider of the running vitest project;
 * `empty` leaves out every migration (for tests of the migrations themselves).
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `${process.pid}_${++counter}`;
  if (process.env['BERTH_TEST_DATABASE'] === 'postgres') return createPostgresDatabase(name, options.empty ?? false);
  const file = path.join(inject('testDataDir'), `${name}.db`);
  await copyFile(options.empty ? '/dev/null' : inject('sqliteTemplate'), file);
  const url = `file:${file}`;
  const db = createDb(url);
  return {
    url,
    db,
    drop: async () => {
      await db.$disconnect();
      await rm(file, { force: true });
    },
  };
}

async function createPostgresDatabase(suffix: string, empty: boolean): Promise<TestDatabase> {
  const template = inject('postgresTemplate');
  const database = `${template}_${suffix}`;
  const adminUrl = inject('postgresAdminUrl');
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${database}"${empty ? '' : ` TEMPLATE "${template}"`}`));
  const url = withDatabase(adminUrl, database);
  const db = createDb(url);
  return {
    url,
    db,
    drop: async () => {
      await db.$disconnect();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
