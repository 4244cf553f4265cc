import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { findApiToken, hashApiToken, issueApiToken } from './api-tokens.js';
import type { ServerKey } from './server-key.js';

const ADMIN_NAME = 'admin';

/**
 * Makes sure an admin can log in on a new installation. With BERTH_ADMIN_TOKEN set, that token
 * belongs to the admin user; otherwise the first start generates one and prints it once.
 * Returns the generated token (null when nothing new was generated).
 */
export async function ensureBootstrapAdmin(db: Db, key: ServerKey, configuredToken: string | null, log: Logger): Promise<string | null> {
  const admin = await db.user.upsert({ where: { name: ADMIN_NAME }, update: {}, create: { name: ADMIN_NAME, isAdmin: true } });
  if (configuredToken) {
    // Looking it up first also rehashes a row stored before the server key existed.
    if (!(await findApiToken(db, key, configuredToken))) {
      await db.apiToken.upsert({
        where: { tokenHash: hashApiToken(key, configuredToken) },
        update: {},
        create: { userId: admin.id, name: 'BERTH_ADMIN_TOKEN', tokenHash: hashApiToken(key, configuredToken) },
      });
    }
    return null;
  }
  if ((await db.apiToken.count({ where: { userId: admin.id } })) > 0) return null;
  const { secret } = await issueApiToken(db, key, { userId: admin.id, name: 'bootstrap' });
  log.warn({ user: ADMIN_NAME }, 'generated the bootstrap admin API token; it is printed once on stdout and never again');
  return secret;
}
