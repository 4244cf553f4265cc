import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import pino from 'pino';
import { type RunningBerth, startBerth } from '../../src/app.js';
import { issueApiToken } from '../../src/auth/api-tokens.js';
import { loadConfig } from '../../src/config.js';
import { challengeAuth } from '../../src/registry/v2/auth.js';
import { RegistryClient } from '../../src/registry/v2/client.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './registry-process.js';

const execFileAsync = promisify(execFile);

/** A registry of someone else's on loopback: distribution with htpasswd (bcrypt) Basic auth. */
export interface OutsideRegistry {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 127.0.0.1:<port>, for docker:// references. */
  readonly host: string;
  readonly username: string;
  readonly password: string;
  /** Its filesystem storage root (distribution's layout under docker/registry/v2). */
  readonly storageDir: string;
  /** A V2 client signed in as the user, through the registry's own challenge. */
  readonly client: RegistryClient;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export interface OutsideRegistryOptions {
  /** Whether the registry allows DELETE (distribution's `storage.delete.enabled`). @default true */
  deletes?: boolean;
}

export async function startHtpasswdRegistry(options: OutsideRegistryOptions = {}): Promise<OutsideRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-outside-'));
  const port = await freePort();
  const username = 'outsider';
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  await writeFile(path.join(dir, 'htpasswd'), `${username}:${bcrypt.hashSync(password, 10)}\n`);
  await mkdir(path.join(dir, 'storage'), { recursive: true });
  const config = [
    'version: 0.1',
    'log: { level: warn, formatter: text }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'storage'))} }, delete: { enabled: ${options.deletes ?? true} } }`,
    `http: { addr: "127.0.0.1:${port}", secret: outside-registry-secret }`,
    `auth: { htpasswd: { realm: outside, path: ${JSON.stringify(path.join(dir, 'htpasswd'))} } }`,
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'config.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
    await waitForAnswer(`${url}/v2/`);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    child = null;
  };
  await start();
  return {
    url,
    host: `127.0.0.1:${port}`,
    username,
    password,
    storageDir: path.join(dir, 'storage'),
    client: new RegistryClient({ baseUrl: url, auth: challengeAuth({ credentials: { username, password }, allowHttpRealm: true }) }),
    start,
    stop,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A web server that is not a registry: 200 and an HTML page for everything. */
export async function startWebServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome</body></html>');
  });
  return { url: await listen(server, 'http'), close: () => close(server) };
}

/** An https server with a self-signed certificate nobody trusts. */
export async function startSelfSignedServer(): Promise<{ url: string; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await execFileAsync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1']);
  const server = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => res.writeHead(200).end('{}'));
  const url = await listen(server, 'https');
  return {
    url,
    close: async () => {
      await close(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A second berth, with its own database, data dir, registry and an admin: another team's berth, reached as a remote. */
export interface OtherBerth {
  readonly berth: RunningBerth;
  /** Where its API and token endpoint listen. */
  readonly url: string;
  /** Its registry, http://127.0.0.1:<port>. */
  readonly registryUrl: string;
  readonly registryHost: string;
  readonly database: TestDatabase;
  /** An API token of its admin, `admin`. */
  readonly adminToken: string;
  /** A user (not admin) with an API token. */
  user(name: string): Promise<{ name: string; token: string; id: string }>;
  close(): Promise<void>;
}

export async function startOtherBerth(): Promise<OtherBerth> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-other-'));
  const port = await freePort();
  const registryPort = await freePort();
  const config = loadConfig({
    DATABASE_URL: database.url,
    BERTH_DATA_DIR: dataDir,
    BERTH_PORT: String(port),
    BERTH_REGISTRY_PORT: String(registryPort),
  });
  const berth = await startBerth(config, database.db, pino({ level: 'silent' }));
  const admin = await database.db.user.create({ data: { name: 'admin', isAdmin: true } });
  return {
    berth,
    url: `http://127.0.0.1:${port}`,
    registryUrl: `http://127.0.0.1:${registryPort}`,
    registryHost: `127.0.0.1:${registryPort}`,
    database,
    adminToken: (await issueApiToken(database.db, berth.services.serverKey, { userId: admin.id, name: 'remote' })).secret,
    user: async (name) => {
      const user = await database.db.user.create({ data: { name } });
      return { name, id: user.id, token: (await issueApiToken(database.db, berth.services.serverKey, { userId: user.id, name: 'remote' })).secret };
    },
    close: async () => {
      await berth.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitForAnswer(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(1000) })).body?.cancel();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function listen(server: Server, scheme: 'http' | 'https'): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `${scheme}://127.0.0.1:${address.port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
