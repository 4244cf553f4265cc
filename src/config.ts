import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { weakSecretProblem } from './auth/secret-strength.js';

/**
 * berth's whole configuration, parsed once from the environment at start-up. Nothing else reads
 * process.env: main.ts passes it here and hands the result down.
 */
export interface Config {
  host: string;
  port: number;
  /** Where docker clients reach berth's token endpoint. */
  publicUrl: string;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | null;
  registry: {
    /** Set when berth uses an existing registry; null when it spawns the embedded one. */
    url: string | null;
    port: number;
    /** The host shown in endpoints: `<publicHost>/<slug>`. */
    publicHost: string;
    /** Shared with the registry, which sends it with every notification; generated per start when unset. */
    hookSecret: string | null;
  };
  gc: {
    /** The least time between the end of one read-only GC window and the start of the next. */
    minIntervalMs: number;
    /** How long a window waits for pushes and deletes under way before the run fails; also how long a stopping registry drains. */
    drainTimeoutMs: number;
  };
  adminToken: string | null;
  secretKey: string | null;
  /**
   * Proxies whose `X-Forwarded-For` is believed, as CIDR blocks (`10.0.0.0/8`, `::1/128`). Empty:
   * the connection's peer is the client, whatever the header says.
   */
  trustedProxies: string[];
  /** Origins (`https://app.example.com`) whose pages may call the API from a browser. Empty: none. */
  corsOrigins: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  graphiql: boolean;
  /** Serve Prometheus metrics at /metrics, next to the API. */
  metrics: boolean;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(1).max(65535);
const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** `0`, or a whole number with a unit: `500ms`, `30s`, `10m`, `1h`. */
const duration = z
  .string()
  .regex(/^(0|\d+(ms|s|m|h))$/, 'must be 0 or a number with a unit: 500ms, 30s, 10m, 1h')
  .transform((text) => {
    const [, amount = '0', unit = 'ms'] = /^(\d+)(ms|s|m|h)?$/.exec(text) ?? [];
    return Number(amount) * DURATION_UNITS_MS[unit as keyof typeof DURATION_UNITS_MS];
  });
const httpUrl = z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, ''));

/** `10.1.2.3` or `10.0.0.0/8` (IPv4 or IPv6), normalised to `address/prefix`; null when invalid. */
function cidrBlock(entry: string): string | null {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return null;
  const bits = family === 4 ? 32 : 128;
  if (prefix === undefined) return `${address}/${bits}`;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return null;
  return `${address}/${Number(prefix)}`;
}

/** `https://host[:port]`, as browsers send it in `Origin`; null when it is not a bare origin. */
function origin(entry: string): string | null {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return null;
  }
  if (!/^https?:$/.test(url.protocol) || url.origin !== entry.replace(/\/$/, '')) return null;
  return url.origin;
}

function commaList(parse: (entry: string) => string | null, message: string) {
  return z
    .string()
    .default('')
    .transform((value, ctx) => {
      const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
      const parsed = entries.map(parse);
      const bad = entries.filter((_, i) => parsed[i] === null);
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `${message}; not valid: ${bad.join(', ')}` });
      return parsed.filter((entry) => entry !== null);
    });
}

const environment = z.object({
  BERTH_HOST: z.string().min(1).default('127.0.0.1'),
  BERTH_PORT: port.default(4000),
  BERTH_PUBLIC_URL: httpUrl.optional(),
  BERTH_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^(file:|postgres(ql)?:\/\/)/, 'must be file:<path> or postgres://user@host:port/database')
    .optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be redis://host:port').optional(),
  BERTH_REGISTRY_URL: httpUrl.optional(),
  BERTH_REGISTRY_PORT: port.default(5000),
  BERTH_PUBLIC_REGISTRY_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be host or host:port, without a scheme')
    .optional(),
  BERTH_REGISTRY_HOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  BERTH_GC_MIN_INTERVAL: duration.default(10 * 60_000),
  BERTH_GC_DRAIN_TIMEOUT: duration.default(30_000),
  BERTH_ADMIN_TOKEN: z
    .string()
    .superRefine((token, ctx) => {
      const problem = weakSecretProblem(token);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          message: `must be at least 32 characters of high entropy (for example \`openssl rand -base64 32\`); this one ${problem}`,
        });
      }
    })
    .optional(),
  BERTH_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  BERTH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BERTH_GRAPHIQL: z.enum(['true', 'false']).default('true'),
  BERTH_METRICS: z.enum(['true', 'false']).default('true'),
  BERTH_TRUSTED_PROXIES: commaList(cidrBlock, 'must be IP addresses or CIDR blocks, comma-separated (10.0.0.0/8, ::1)'),
  BERTH_CORS_ORIGINS: commaList(origin, 'must be origins, comma-separated (https://app.example.com)'),
});

export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environment.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.BERTH_DATA_DIR);
  const registryUrl = e.BERTH_REGISTRY_URL ?? null;
  return {
    host: e.BERTH_HOST,
    port: e.BERTH_PORT,
    publicUrl: e.BERTH_PUBLIC_URL ?? `http://${e.BERTH_HOST}:${e.BERTH_PORT}`,
    dataDir,
    databaseUrl: e.DATABASE_URL ?? `file:${path.join(dataDir, 'berth.db')}`,
    redisUrl: e.REDIS_URL ?? null,
    registry: {
      url: registryUrl,
      port: e.BERTH_REGISTRY_PORT,
      publicHost: e.BERTH_PUBLIC_REGISTRY_HOST ?? (registryUrl ? new URL(registryUrl).host : `127.0.0.1:${e.BERTH_REGISTRY_PORT}`),
      hookSecret: e.BERTH_REGISTRY_HOOK_SECRET ?? null,
    },
    gc: { minIntervalMs: e.BERTH_GC_MIN_INTERVAL, drainTimeoutMs: e.BERTH_GC_DRAIN_TIMEOUT },
    adminToken: e.BERTH_ADMIN_TOKEN ?? null,
    secretKey: e.BERTH_SECRET_KEY ?? null,
    trustedProxies: e.BERTH_TRUSTED_PROXIES,
    corsOrigins: e.BERTH_CORS_ORIGINS,
    logLevel: e.BERTH_LOG_LEVEL,
    graphiql: e.BERTH_GRAPHIQL === 'true',
    metrics: e.BERTH_METRICS === 'true',
  };
}
