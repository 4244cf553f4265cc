import path from 'node:path';
import { z } from 'zod';

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
  };
  adminToken: string | null;
  secretKey: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  graphiql: boolean;
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
  BERTH_ADMIN_TOKEN: z.string().min(20, 'must be at least 20 characters').optional(),
  BERTH_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  BERTH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BERTH_GRAPHIQL: z.enum(['true', 'false']).default('true'),
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
    gc: { minIntervalMs: e.BERTH_GC_MIN_INTERVAL },
    adminToken: e.BERTH_ADMIN_TOKEN ?? null,
    secretKey: e.BERTH_SECRET_KEY ?? null,
    logLevel: e.BERTH_LOG_LEVEL,
    graphiql: e.BERTH_GRAPHIQL === 'true',
  };
}
