import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/client.js';
import { deployMigrations } from '../../src/db/migrations.js';

/** Where benchmarks create scratch PostgreSQL databases; the role must be allowed to CREATE DATABASE. */
const ADMIN_POSTGRES_URL = process.env['BERTH_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Provider = 'SQLite' | 'PostgreSQL';

export interface ScratchDatabase {
  readonly provider: Provider;
  readonly url: string;
  /** The scratch directory, removed by drop(): dataDir and room for whatever else a benchmark writes. */
  readonly root: string;
  /** A data dir of its own (SQLite file, registry storage, keys). */
  readonly dataDir: string;
  readonly db: Db;
  drop(): Promise<void>;
}

/** A migrated, empty database and data dir for one benchmark run, dropped afterwards. */
export async function scratchDatabase(provider: Provider, name: string): Promise<ScratchDatabase> {
  const root = await mkdtemp(join(tmpdir(), `berth-bench-${name}-`));
  const dataDir = join(root, 'berth');
  await mkdir(dataDir, { recursive: true });
  let url = `file:${join(dataDir, 'berth.db')}`;
  let dropDatabase = async () => {};
  if (provider === 'PostgreSQL') {
    const database = `berth_bench_${name}_${process.pid}`;
    await withAdmin((admin) => admin.query(`CREATE DATABASE "${database}"`));
    const parsed = new URL(ADMIN_POSTGRES_URL);
    parsed.pathname = `/${database}`;
    url = parsed.toString();
    dropDatabase = () => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
  }
  await deployMigrations(url);
  const db = createDb(url);
  return {
    provider,
    url,
    root,
    dataDir,
    db,
    drop: async () => {
      await db.$disconnect();
      await dropDatabase();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function withAdmin(run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}
