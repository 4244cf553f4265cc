import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';

const PREFIX = 'berth_';

/** A new API token: 256 random bits, prefixed so that secret scanners and people recognise it. */
export function generateApiToken(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** Tokens are random, not chosen by people, so a fast hash cannot be brute-forced; it keeps lookups O(1). */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token for the user and returns the secret, which is stored only as its hash. */
export async function issueApiToken(db: Pick<Db, 'apiToken'>, userId: string, name: string): Promise<string> {
  const token = generateApiToken();
  await db.apiToken.create({ data: { userId, name, tokenHash: hashApiToken(token) } });
  return token;
}
