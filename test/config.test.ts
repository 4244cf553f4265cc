import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('serves a single machine with no environment at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      publicUrl: 'http://127.0.0.1:4000',
      dataDir: path.resolve('data'),
      databaseUrl: `file:${path.resolve('data', 'berth.db')}`,
      redisUrl: null,
      registry: { url: null, port: 5000, publicHost: '127.0.0.1:5000' },
      adminToken: null,
      logLevel: 'info',
      graphiql: true,
      gc: { minIntervalMs: 10 * 60_000 },
    });
  });

  it('reads BERTH_GC_MIN_INTERVAL as a duration with a unit, or 0', () => {
    expect(loadConfig({ BERTH_GC_MIN_INTERVAL: '30s' }).gc.minIntervalMs).toBe(30_000);
    expect(loadConfig({ BERTH_GC_MIN_INTERVAL: '2h' }).gc.minIntervalMs).toBe(7_200_000);
    expect(loadConfig({ BERTH_GC_MIN_INTERVAL: '0' }).gc.minIntervalMs).toBe(0);
    expect(() => loadConfig({ BERTH_GC_MIN_INTERVAL: '10 minutes' })).toThrow(/BERTH_GC_MIN_INTERVAL: must be 0 or a number with a unit/);
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      BERTH_HOST: '0.0.0.0',
      BERTH_PORT: '8080',
      BERTH_DATA_DIR: '/var/lib/berth',
      DATABASE_URL: 'postgres://berth@db:5432/berth',
      REDIS_URL: 'redis://cache:6379',
      BERTH_REGISTRY_URL: 'http://registry.internal:5000/',
      BERTH_PUBLIC_REGISTRY_HOST: 'registry.example.com',
      BERTH_ADMIN_TOKEN: 'x'.repeat(40),
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      dataDir: '/var/lib/berth',
      databaseUrl: 'postgres://berth@db:5432/berth',
      redisUrl: 'redis://cache:6379',
      registry: { url: 'http://registry.internal:5000', publicHost: 'registry.example.com' },
      adminToken: 'x'.repeat(40),
    });
  });

  it('takes the public registry host from BERTH_REGISTRY_URL when not given', () => {
    expect(loadConfig({ BERTH_REGISTRY_URL: 'http://10.0.0.5:5000' }).registry.publicHost).toBe('10.0.0.5:5000');
  });

  it('lists every bad variable in one clear error', () => {
    let error: unknown;
    try {
      loadConfig({ BERTH_PORT: 'eighty', DATABASE_URL: 'mysql://x', BERTH_ADMIN_TOKEN: 'short', BERTH_PUBLIC_REGISTRY_HOST: 'https://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const name of ['BERTH_PORT', 'DATABASE_URL', 'BERTH_ADMIN_TOKEN', 'BERTH_PUBLIC_REGISTRY_HOST']) expect(issues).toContain(name);
  });
});
