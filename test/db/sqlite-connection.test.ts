import { describe, expect, it } from 'vitest';
import { deployMigrations } from '../../src/db/migrations.js';
import { createTestDatabase } from '../support/database.js';

const sqlite = process.env['BERTH_TEST_DATABASE'] !== 'postgres';

describe.runIf(sqlite)('berth’s SQLite connection', () => {
  it('commits to a write-ahead log without a sync per commit', async () => {
    const { db, drop } = await createTestDatabase();
    try {
      expect(await db.$queryRawUnsafe('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await db.$queryRawUnsafe('PRAGMA synchronous')).toEqual([{ synchronous: 1n }]);
    } finally {
      await drop();
    }
  });

  it('lets migrations run while it is open', async () => {
    const { db, url, drop } = await createTestDatabase({ empty: true });
    try {
      await db.$connect();
      // A migration that waited for the lock would give up after 5 s with SQLITE_BUSY.
      expect((await deployMigrations(url)).length).toBeGreaterThan(0);
      expect(await db.user.count()).toBe(0);
    } finally {
      await drop();
    }
  });
});
