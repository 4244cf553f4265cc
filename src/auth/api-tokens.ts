import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { ApiToken, Prisma } from '../generated/prisma/client.js';
import type { ServerKey } from './server-key.js';

const PREFIX = 'berth_';

/** A new API token: 256 random bits, prefixed so that secret scanners and people recognise it. */
export function generateApiToken(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Tokens are random, so a fast hash keeps lookups O(1) without being brute-forceable; keying it
 * with the server key means a copy of the database alone cannot even confirm a leaked token.
 */
export function hashApiToken(key: ServerKey, token: string): string {
  return createHmac('sha256', key.derive('api-token-hash')).update(token).digest('hex');
}

/** How tokens were stored before the server key existed; such rows are rehashed when next used. */
function legacyHashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewApiToken {
  userId: string;
  name: string;
  expiresAt?: Date | null;
}

/** Creates a token and returns its row with the secret, which is stored only as its hash. */
export async function issueApiToken(db: Pick<Db, 'apiToken'>, key: ServerKey, token: NewApiToken): Promise<{ apiToken: ApiToken; secret: string }> {
  const secret = generateApiToken();
  const apiToken = await db.apiToken.create({
    data: { userId: token.userId, name: token.name, expiresAt: token.expiresAt ?? null, tokenHash: hashApiToken(key, secret) },
  });
  return { apiToken, secret };
}

const WITH_USER = { user: { include: { memberships: { select: { namespaceId: true, role: true } } } } } as const;

export type ApiTokenWithUser = Prisma.ApiTokenGetPayload<{ include: typeof WITH_USER }>;

/**
 * The stored row for a token, with its user and memberships; expired or not. A row still under
 * the legacy hash is found by it and rehashed on the spot, so upgrading berth loses no tokens.
 */
export async function findApiToken(db: Pick<Db, 'apiToken'>, key: ServerKey, token: string): Promise<ApiTokenWithUser | null> {
  const tokenHash = hashApiToken(key, token);
  const current = await db.apiToken.findUnique({ where: { tokenHash }, include: WITH_USER });
  if (current) return current;
  const legacy = await db.apiToken.findUnique({ where: { tokenHash: legacyHashApiToken(token) }, include: WITH_USER });
  if (legacy) await upgradeLegacyHash(db, legacy, tokenHash);
  return legacy;
}

async function upgradeLegacyHash(db: Pick<Db, 'apiToken'>, legacy: ApiToken, tokenHash: string): Promise<void> {
  try {
    // Conditional: a concurrent request may have upgraded the row already.
    await db.apiToken.updateMany({ where: { id: legacy.id, tokenHash: legacy.tokenHash }, data: { tokenHash } });
  } catch (error) {
    // Another instance stored the same token under the keyed hash meanwhile (BERTH_ADMIN_TOKEN at
    // start-up): that row stands for the token, this one is a duplicate.
    if (!isUniqueViolation(error)) throw error;
    await db.apiToken.deleteMany({ where: { id: legacy.id } });
  }
}
