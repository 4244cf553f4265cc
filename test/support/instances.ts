import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type RunningBerth, startBerth } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { TestApp } from './app.js';
import { freePort } from './registry-process.js';

export interface SecondInstance {
  readonly berth: RunningBerth;
  readonly port: number;
  readonly dataDir: string;
}

/**
 * A second berth for the test file, on `a`'s database, registry and Redis: it reaches the registry
 * through BERTH_REGISTRY_URL (so it cannot run garbage collection itself) and shares berth's token
 * key and secret (API-token hashes), as a deployment's instances do.
 */
export function useSecondInstance(a: TestApp, redisUrl: string, log: Logger = pino({ level: 'silent' })): SecondInstance {
  const b = {} as { -readonly [K in keyof SecondInstance]: SecondInstance[K] };
  beforeAll(async () => {
    b.port = await freePort();
    b.dataDir = await mkdtemp(join(tmpdir(), 'berth-instance-b-'));
    await cp(join(a.dataDir, 'keys'), join(b.dataDir, 'keys'), { recursive: true });
    await cp(join(a.dataDir, 'secret.key'), join(b.dataDir, 'secret.key'));
    const config = loadConfig({
      REDIS_URL: redisUrl,
      DATABASE_URL: 'file:unused',
      BERTH_PORT: String(b.port),
      BERTH_DATA_DIR: b.dataDir,
      BERTH_REGISTRY_URL: a.registry.embedded!.url,
      BERTH_GC_MIN_INTERVAL: '0',
    });
    b.berth = await startBerth(config, a.db, log);
  });
  afterAll(async () => {
    await b.berth?.close();
    if (b.dataDir) await rm(b.dataDir, { recursive: true, force: true });
  });
  return b;
}
