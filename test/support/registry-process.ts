import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { signedTokens } from '../../src/registry/hosted/hosted-backend.js';
import { bearerTokens } from '../../src/registry/v2/auth.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/v2/client.js';
import { EmbeddedRegistry, type EmbeddedRegistryOptions } from '../../src/registry/hosted/embedded.js';
import { parseScopes } from '../../src/registry/v2/scope.js';
import { RegistryTokenSigner } from '../../src/registry/hosted/token-signer.js';

/** A real docker-registry child process in a temp dir, with berth's token signer in front of it. */
export interface TestRegistry {
  readonly registry: EmbeddedRegistry;
  readonly signer: RegistryTokenSigner;
  /** A client with full access (it signs its own tokens as subject `berth`). */
  readonly client: RegistryClient;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>`, for `docker://` references. */
  readonly host: string;
  readonly dataDir: string;
  /** Everything the registry logged through pino (info and up), parsed. */
  readonly logs: Record<string, unknown>[];
  /** A token for `scopes` (`repository:team/app:pull,push`, ...). */
  token(scopes: readonly string[], subject?: string): Promise<string>;
  /** Another client for the same registry, e.g. with a short timeout or a counting hook. */
  newClient(options?: Partial<Omit<RegistryClientOptions, 'baseUrl' | 'auth'>>): RegistryClient;
  /** Stops the registry and removes its temp dir. */
  dispose(): Promise<void>;
}

export interface TestRegistryOptions {
  /** Passed on to EmbeddedRegistry, e.g. a taken `port`, a missing `binary` or a short `restartDelayMs`. */
  registry?: Partial<Pick<EmbeddedRegistryOptions, 'port' | 'binary' | 'restartDelayMs' | 'stopGraceMs' | 'startTimeoutMs' | 'drainTimeoutMs'>>;
}

const ISSUER = 'berth-test';
const SERVICE = 'berth-test-registry';

/** A port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Builds the test registry without starting it (for tests of start failures). */
export async function createTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const signer = await RegistryTokenSigner.open({ dir: join(dataDir, 'keys'), issuer: ISSUER, service: SERVICE });
  const port = await freePort();
  // Nothing listens on the hook port: failed notification deliveries must not disturb the registry.
  const deadPort = await freePort();
  const registry = new EmbeddedRegistry({
    port,
    dataDir,
    tokenRealm: `http://127.0.0.1:${deadPort}/auth/token`,
    hookUrl: `http://127.0.0.1:${deadPort}/hooks/registry`,
    hookSecret: 'test-hook-secret-0123456789',
    signer,
    logger,
    stopGraceMs: 5_000,
    ...options.registry,
  });
  const url = registry.url;
  return {
    registry,
    signer,
    client: new RegistryClient({ baseUrl: url, auth: bearerTokens(signedTokens(signer, 'berth')) }),
    url,
    host: new URL(url).host,
    dataDir,
    logs,
    token: async (scopes, subject = 'test') => (await signer.sign(subject, parseScopes(scopes))).token,
    newClient: (clientOptions = {}) => new RegistryClient({ ...clientOptions, baseUrl: url, auth: bearerTokens(signedTokens(signer, 'berth')) }),
    dispose: async () => {
      await registry.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const testRegistry = await createTestRegistry(options);
  try {
    await testRegistry.registry.start();
  } catch (error) {
    await testRegistry.dispose();
    throw error;
  }
  return testRegistry;
}

/** One registry for the whole test file: started in beforeAll, stopped in afterAll. */
export function useTestRegistry(options: TestRegistryOptions = {}): TestRegistry {
  let current: TestRegistry | undefined;
  beforeAll(async () => {
    current = await startTestRegistry(options);
  });
  afterAll(async () => {
    await current?.dispose();
  });
  const started = (): TestRegistry => {
    if (!current) throw new Error('the test registry is used outside its test file’s tests');
    return current;
  };
  return {
    get registry() {
      return started().registry;
    },
    get signer() {
      return started().signer;
    },
    get client() {
      return started().client;
    },
    get url() {
      return started().url;
    },
    get host() {
      return started().host;
    },
    get dataDir() {
      return started().dataDir;
    },
    get logs() {
      return started().logs;
    },
    token: (scopes, subject) => started().token(scopes, subject),
    newClient: (clientOptions) => started().newClient(clientOptions),
    dispose: () => started().dispose(),
  };
}
