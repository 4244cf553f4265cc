import { encodeGlobalID } from '@pothos/plugin-relay';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { issueApiToken } from '../../src/auth/api-tokens.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/client.js';
import { createBerthServer, type BerthServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';

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
  readonly server: BerthServer;
  readonly admin: Client;
  readonly anonymous: Client;
  /** A new non-admin user with its own API token. */
  user(name?: string): Promise<Client>;
}

let userCounter = 0;

/** berth in-process on a fresh database for one test file: requests go through yoga.fetch. */
export function useTestApp(overrides: Record<string, string> = {}): TestApp {
  let database: TestDatabase;
  let server: BerthServer;
  const app = {} as { -readonly [K in keyof TestApp]: TestApp[K] };

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: database.url, BERTH_PUBLIC_REGISTRY_HOST: 'registry.test:5000', ...overrides });
    server = createBerthServer({ config, db: database.db, log: pino({ level: process.env['BERTH_TEST_LOG_LEVEL'] ?? 'silent' }) });
    const adminUser = await database.db.user.create({ data: { name: 'admin', isAdmin: true } });
    app.db = database.db;
    app.server = server;
    app.admin = client(server, adminUser.id, await issueApiToken(database.db, adminUser.id, 'test'));
    app.anonymous = client(server, '', null);
    app.user = async (name = `user${++userCounter}`) => {
      const user = await database.db.user.create({ data: { name } });
      return client(server, user.id, await issueApiToken(database.db, user.id, 'test'));
    };
  });

  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  return app;
}

function client(server: BerthServer, userId: string, token: string | null): Client {
  return {
    token,
    userId: userId && encodeGlobalID('User', userId),
    execute: async (query, variables) => {
      const response = await server.yoga.fetch('http://berth.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as Omit<GraphQLResponse, 'status'>) };
    },
  };
}
