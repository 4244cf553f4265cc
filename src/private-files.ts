import { chmod, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.js';
import { databaseProvider, sqliteFilePath } from './db/url.js';

/**
 * berth's files are for berth's user alone: the data dir holds keys and registry content, the
 * database holds token hashes. Applied at every start, so an installation from before this rule
 * is tightened too.
 */
export async function makeDataPrivate(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<void> {
  await makePrivateDir(config.dataDir);
  if (databaseProvider(config.databaseUrl) !== 'sqlite') return;
  const file = sqliteFilePath(config.databaseUrl);
  // Created here before SQLite does, so it is never readable by others; SQLite gives its
  // -wal, -shm and -journal files the database file's mode.
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await (await open(file, 'a', 0o600)).close();
  for (const each of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) await chmod(each, 0o600).catch(ignoreMissing);
}

/** Creates `dir` (and its parents) if missing, and makes it 0700 either way. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

function ignoreMissing(error: unknown): void {
  if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
}
