import { encodeGlobalID } from '@pothos/plugin-relay';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { issueApiToken } from '../../src/auth/api-tokens.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningBerth, type StartOptions, startBerth } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Services } from '../../src/context.js';
import type { Db } from '../../src/db/client.js';
import type { ContentIndexReconciler } from '../../src/registry/content-index/reconcile.js';
import type { HostedBackend } from '../../src/registry/hosted/hosted-backend.js';
import type { BerthServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './registry-process.js';

// Test code reads GraphQL responses field by field; each assertion checks the shape it needs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Data = any;

export interface GraphQLResponse {
  status: number;
  data?: Data;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface Client {
  readonly token: string | null;
  /** The user's global ID. */
  readonly userId: string;
  execute(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse>;
}

export interface TestApp {
  readonly db: Db;
  /** berth's long-lived services (GC queue, maintenance state, …). */
  readonly services: Services;
  readonly server: BerthServer;
  readonly registry: HostedBackend;
  /** The content index reconciler berth started; `runNow()` reconciles at once. */
  readonly reconciler: ContentIndexReconciler;
  /** http://127.0.0.1:<port>, where berth listens. */
  readonly url: string;
  readonly dataDir: string;
  /** Every line berth logged at debug and up (only with `captureLogs`). */
  readonly logs: string[];
  readonly admin: Client;
  readonly anonymous: Client;
  /** A new non-admin user with its own API token. */
  user(name?: string): Promise<Client>;
  /**
   * Stops berth (registry included) and starts it again on the same database, data dir and ports,
   * after `whileStopped` has run: what happens to the registry meanwhile reaches berth only by
   * reconciling.
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
}

let userCounter = 0;

/**
 * berth for one test file, as it runs in production: a fresh database, its own data directory and
 * embedded registry, listening on a free port. GraphQL requests go through yoga.fetch in-process.
 */
export function useTestApp(overrides: Record<string, string> = {}, options: StartOptions = {}, testOptions: { captureLogs?: boolean } = {}): TestApp {
  let database: TestDatabase;
  let berth: RunningBerth;
  let dataDir: string;
  const app = {} as { -readonly [K in keyof TestApp]: TestApp[K] };

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'berth-test-'));
    const port = await freePort();
    const config = loadConfig({
      DATABASE_URL: database.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_PORT: String(port),
      BERTH_REGISTRY_PORT: String(await freePort()),
      // Tests run GCs back to back; the interval has tests of its own.
      BERTH_GC_MIN_INTERVAL: '0',
      ...overrides,
    });
    app.logs = [];
    const log = testOptions.captureLogs
      ? pino({ level: 'debug' }, { write: (line: string) => void app.logs.push(line) })
      : pino({ level: process.env['BERTH_TEST_LOG_LEVEL'] ?? 'silent' });
    berth = await startBerth(config, database.db, log, options);
    const { server } = berth;
    const adminUser = await database.db.user.create({ data: { name: 'admin', isAdmin: true } });
    app.db = database.db;
    app.services = berth.services;
    app.server = server;
    app.registry = berth.services.registry;
    app.reconciler = berth.services.reconciler;
    app.url = `http://127.0.0.1:${port}`;
    app.dataDir = dataDir;
    const token = async (userId: string) => (await issueApiToken(database.db, berth.services.serverKey, { userId, name: 'test' })).secret;
    app.admin = client(() => app.server, adminUser.id, await token(adminUser.id));
    app.anonymous = client(() => app.server, '', null);
    app.user = async (name = `user${++userCounter}`) => {
      const user = await database.db.user.create({ data: { name } });
      return client(() => app.server, user.id, await token(user.id));
    };
    app.restart = async (whileStopped) => {
      await berth.close();
      await whileStopped?.();
      berth = await startBerth(config, database.db, log, options);
      app.services = berth.services;
      app.server = berth.server;
      app.registry = berth.services.registry;
      app.reconciler = berth.services.reconciler;
    };
  });

  afterAll(async () => {
    await berth?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  return app;
}

/** A caller of the running berth (the current one, after a restart). */
function client(server: () => BerthServer, userId: string, token: string | null): Client {
  return {
    token,
    userId: userId && encodeGlobalID('User', userId),
    execute: async (query: string, variables?: Record<string, unknown>) => {
      const response = await server().yoga.fetch('http://berth.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as Omit<GraphQLResponse, 'status'>) };
    },
  };
}
