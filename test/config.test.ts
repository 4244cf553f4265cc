import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { weakSecretProblem } from '../src/auth/secret-strength.js';
import { ConfigError, loadConfig } from '../src/config.js';

const ADMIN_TOKEN = randomBytes(32).toString('base64url');

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
      metrics: true,
      trustedProxies: [],
      corsOrigins: [],
      gc: { minIntervalMs: 10 * 60_000, drainTimeoutMs: 30_000 },
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
      BERTH_ADMIN_TOKEN: ADMIN_TOKEN,
      BERTH_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7,::1',
      BERTH_CORS_ORIGINS: 'https://app.example.com,http://localhost:3000/',
      BERTH_METRICS: 'false',
      BERTH_GC_DRAIN_TIMEOUT: '2m',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      dataDir: '/var/lib/berth',
      databaseUrl: 'postgres://berth@db:5432/berth',
      redisUrl: 'redis://cache:6379',
      registry: { url: 'http://registry.internal:5000', publicHost: 'registry.example.com' },
      adminToken: ADMIN_TOKEN,
      trustedProxies: ['10.0.0.0/8', '192.168.1.7/32', '::1/128'],
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      metrics: false,
      gc: { drainTimeoutMs: 120_000 },
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

describe('BERTH_ADMIN_TOKEN', () => {
  it.each([
    ['40 times the same character', 'x'.repeat(40), 'uses too few distinct characters'],
    ['a keyboard run', 'abcdefghijklmnopqrstuvwxyz0123456789', 'is made of runs of repeated or consecutive characters'],
    ['a repeated word', 'Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3', 'repeats itself'],
    ['20 random characters', randomBytes(15).toString('base64url'), 'is 20 characters long'],
  ])('refuses %s with a clear message', (_label, token, reason) => {
    expect(() => loadConfig({ BERTH_ADMIN_TOKEN: token })).toThrow(
      new RegExp(`BERTH_ADMIN_TOKEN: must be at least 32 characters of high entropy .*; this one ${reason}`),
    );
  });

  // Tens of thousands each: a heuristic that refuses one random secret in a few hundred would make
  // berth refuse to start for somebody, now and then.
  it.each([
    ['openssl rand -base64 32', () => randomBytes(32).toString('base64')],
    ['openssl rand -hex 16', () => randomBytes(16).toString('hex')],
    ['openssl rand -hex 32', () => randomBytes(32).toString('hex')],
    ['a generated berth token', () => `berth_${randomBytes(32).toString('base64url')}`],
  ])('accepts every %s', (_label, generate) => {
    const refused = Array.from({ length: 20_000 }, generate).filter((token) => weakSecretProblem(token) !== null);
    expect(refused).toEqual([]);
    const token = generate();
    expect(loadConfig({ BERTH_ADMIN_TOKEN: token }).adminToken).toBe(token);
  });
});

describe('BERTH_TRUSTED_PROXIES and BERTH_CORS_ORIGINS', () => {
  it('name the entries that are not addresses or origins', () => {
    let error: unknown;
    try {
      loadConfig({ BERTH_TRUSTED_PROXIES: '10.0.0.0/8,proxy.internal,10.0.0.0/33', BERTH_CORS_ORIGINS: 'https://ok.example,*,https://x.example/path' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toContain('BERTH_TRUSTED_PROXIES: must be IP addresses or CIDR blocks, comma-separated (10.0.0.0/8, ::1); not valid: proxy.internal, 10.0.0.0/33');
    expect(issues).toContain('BERTH_CORS_ORIGINS: must be origins, comma-separated (https://app.example.com); not valid: *, https://x.example/path');
  });
});
