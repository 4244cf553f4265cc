import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Everything runs on SQLite; the files that exercise the database run again on PostgreSQL.
const databaseTests = [
  'test/schema/**/*.test.ts',
  'test/db/**/*.test.ts',
  'test/auth/**/*.test.ts',
  'test/http/metrics.test.ts',
  'test/gc/**/*.test.ts',
  'test/cleanup/**/*.test.ts',
  'test/registry/hosted/{token-service,robot-access,quota}.test.ts',
  'test/registry/content-index/**/*.test.ts',
  'test/registry/outage.test.ts',
];

export default defineConfig({
  // Pothos and yoga load graphql through Node's resolver; pin ours to the same copy (one realm).
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'], env: { BERTH_TEST_DATABASE: 'sqlite' } },
      },
      {
        extends: true,
        test: { name: 'postgres', include: databaseTests, env: { BERTH_TEST_DATABASE: 'postgres' } },
      },
    ],
  },
});
