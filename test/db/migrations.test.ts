import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

async function freshDatabase(options: { empty?: boolean } = {}) {
  const database = await createTestDatabase(options);
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

describe(`the content index migration (${provider})`, () => {
  it('carries the activity history over: repositories, tags with push and pull times, and images', async () => {
    const database = await freshDatabase({ empty: true });
    const committed = migrationPaths(provider);
    const before = path.join(scratch, 'before-content-index');
    await mkdir(before, { recursive: true });
    await copyFile(path.join(committed.migrations, 'migration_lock.toml'), path.join(before, 'migration_lock.toml'));
    for (const name of (await readdir(committed.migrations)).filter((name) => /_(init|activity_gc_robots)$/.test(name))) {
      await cp(path.join(committed.migrations, name), path.join(before, name), { recursive: true });
    }
    await deployMigrations(database.url, { schema: committed.schema, migrations: before });

    const at = (iso: string) => (provider === 'sqlite' ? new Date(iso).toISOString().replace('Z', '+00:00') : iso);
    const { db } = database;
    await db.$executeRawUnsafe(`INSERT INTO "Namespace" ("id", "slug", "name", "updatedAt") VALUES ('n1', 'ns', 'NS', '${at('2026-01-01T00:00:00.000Z')}')`);
    await db.$executeRawUnsafe(`INSERT INTO "Registry" ("id", "namespaceId", "kind", "name", "slug", "updatedAt") VALUES ('r1', 'n1', 'HOSTED', 'csaw', 'csaw', '${at('2026-01-01T00:00:00.000Z')}')`);
    await db.$executeRawUnsafe(`INSERT INTO "RepositoryActivity" ("id", "registryId", "repository", "lastPushedAt") VALUES ('ra', 'r1', 'csaw/team/app', '${at('2026-03-02T00:00:00.000Z')}')`);
    await db.$executeRawUnsafe(
      `INSERT INTO "TagActivity" ("id", "registryId", "repository", "tag", "digest", "pushedAt", "pulledAt") VALUES ('t1', 'r1', 'csaw/team/app', 'v1', 'sha256:${'1'.repeat(64)}', '${at('2026-03-01T10:00:00.123Z')}', '${at('2026-03-05T00:00:00.000Z')}')`,
    );
    await db.$executeRawUnsafe(
      `INSERT INTO "ImageActivity" ("id", "registryId", "repository", "digest", "pushedAt") VALUES ('i1', 'r1', 'csaw/team/app', 'sha256:${'1'.repeat(64)}', '${at('2026-03-01T10:00:00.123Z')}')`,
    );

    expect(await deployMigrations(database.url)).toContainEqual(expect.stringMatching(/_content_index_external_imports$/));
    const repository = await db.contentRepository.findUniqueOrThrow({ where: { path: 'csaw/team/app' }, include: { tags: true, revisions: true } });
    expect(repository).toMatchObject({ slug: 'csaw', name: 'team/app', lastPushedAt: new Date('2026-03-02T00:00:00.000Z') });
    expect(repository.tags).toEqual([
      expect.objectContaining({ name: 'v1', digest: `sha256:${'1'.repeat(64)}`, pushedAt: new Date('2026-03-01T10:00:00.123Z'), pulledAt: new Date('2026-03-05T00:00:00.000Z') }),
    ]);
    expect(repository.revisions).toEqual([expect.objectContaining({ digest: `sha256:${'1'.repeat(64)}`, pushedAt: new Date('2026-03-01T10:00:00.123Z'), pulledAt: null })]);
    expect(await migrationDrift(database.url)).toBeNull();
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
