import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { withDatabase } from './support/database.js';

const run = promisify(execFile);

/** Where test databases live; PostgreSQL must allow this role to CREATE DATABASE. */
export const ADMIN_POSTGRES_URL = process.env['BERTH_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

declare module 'vitest' {
  export interface ProvidedContext {
    sqliteTemplate: string;
    postgresTemplate: string;
    postgresAdminUrl: string;
    testDataDir: string;
  }
}

/**
 * Migrates one template database per provider, once per run; each test file then copies the
 * template (a file copy, or CREATE DATABASE … TEMPLATE), which takes milliseconds.
 */
export default async function setup(project: TestProject) {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const testDataDir = path.resolve('.test-data', runId);
  await mkdir(testDataDir, { recursive: true });

  const sqliteTemplate = path.join(testDataDir, 'template.db');
  await deploy(`file:${sqliteTemplate}`);

  const postgresTemplate = `berth_test_${runId}`;
  const admin = new pg.Client({ connectionString: ADMIN_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${postgresTemplate}"`);
  await deploy(withDatabase(ADMIN_POSTGRES_URL, postgresTemplate));

  project.provide('sqliteTemplate', sqliteTemplate);
  project.provide('postgresTemplate', postgresTemplate);
  project.provide('postgresAdminUrl', ADMIN_POSTGRES_URL);
  project.provide('testDataDir', testDataDir);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${postgresTemplate}%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
    await rm(testDataDir, { recursive: true, force: true });
  };
}

/** In a child process: the schema engine leaves timers behind that would hold vitest open. */
async function deploy(url: string) {
  await run('npx', ['tsx', 'scripts/migrate.ts', 'deploy'], { env: { ...process.env, DATABASE_URL: url } });
}
