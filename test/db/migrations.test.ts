import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deployMigrations, migrationDrift, migrationPaths } from '../../src/db/migrations.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const provider = process.env['BERTH_TEST_DATABASE'] === 'postgres' ? 'postgresql' : 'sqlite';
const databases: TestDatabase[] = [];
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-migrations-'));

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await rm(scratch, { recursive: true, force: true });
});

async function freshDatabase() {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

describe(`migrations (${provider})`, () => {
  it('are in sync with prisma/schema.prisma (the drift check CI relies on)', async () => {
    const { url } = await freshDatabase();
    expect(await migrationDrift(url)).toBeNull();
  });

  it('report the SQL a schema change lacks', async () => {
    const { url } = await freshDatabase();
    const committed = migrationPaths(provider);
    const schema = path.join(scratch, 'schema.prisma');
    const source = await readFile(committed.schema, 'utf8');
    await writeFile(schema, source.replace('  isAdmin     Boolean      @default(false)', '  isAdmin     Boolean      @default(false)\n  email       String?'));
    const drift = await migrationDrift(url, { schema, migrations: committed.migrations });
    expect(drift).toMatch(/ALTER TABLE "User" ADD COLUMN\s+"email"/);
  });

  it('deploy is idempotent on an up-to-date database', async () => {
    const { url } = await freshDatabase();
    expect(await deployMigrations(url)).toEqual([]);
  });
});

if (provider === 'sqlite') {
  describe('deploy on an empty SQLite file', () => {
    it('applies every committed migration, then nothing', async () => {
      const file = path.join(scratch, 'empty.db');
      await copyFile('/dev/null', file);
      const url = `file:${file}`;
      const applied = await deployMigrations(url);
      expect(applied.length).toBeGreaterThan(0);
      expect(applied[0]).toMatch(/_init$/);
      expect(await deployMigrations(url)).toEqual([]);
    });
  });
}
