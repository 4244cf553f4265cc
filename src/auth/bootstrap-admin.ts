import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { generateApiToken, hashApiToken } from './api-tokens.js';

const ADMIN_NAME = 'admin';

/**
 * Makes sure an admin can log in on a new installation. With BERTH_ADMIN_TOKEN set, that token
 * belongs to the admin user; otherwise the first start generates one and prints it once.
 * Returns the generated token (null when nothing new was generated).
 */
export async function ensureBootstrapAdmin(db: Db, configuredToken: string | null, log: Logger): Promise<string | null> {
  const admin = await db.user.upsert({ where: { name: ADMIN_NAME }, update: {}, create: { name: ADMIN_NAME, isAdmin: true } });
  if (configuredToken) {
    const tokenHash = hashApiToken(configuredToken);
    await db.apiToken.upsert({ where: { tokenHash }, update: {}, create: { userId: admin.id, name: 'BERTH_ADMIN_TOKEN', tokenHash } });
    return null;
  }
  if ((await db.apiToken.count({ where: { userId: admin.id } })) > 0) return null;
  const token = generateApiToken();
  await db.apiToken.create({ data: { userId: admin.id, name: 'bootstrap', tokenHash: hashApiToken(token) } });
  log.warn({ user: ADMIN_NAME }, 'generated the bootstrap admin API token; it is printed once on stdout and never again');
  return token;
}
