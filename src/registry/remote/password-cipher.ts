import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * External registries' passwords at rest: AES-256-GCM with a fresh 96-bit nonce per password, so
 * the database (or a copy of it) reveals nothing without berth's secret, and a tampered value fails
 * to decrypt instead of yielding a wrong password. Format: `v1.<nonce>.<tag>.<ciphertext>`
 * (base64url), so a later scheme can sit next to this one.
 */
const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
/** Binds ciphertexts to this use: a value made with the same key for something else does not decrypt. */
const ASSOCIATED_DATA = Buffer.from('berth external registry password');

export function encryptPassword(key: Buffer, password: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, key, nonce).setAAD(ASSOCIATED_DATA);
  const ciphertext = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
  return [VERSION, nonce, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** Throws when the value was not made with this key (another BERTH_SECRET_KEY) or was altered. */
export function decryptPassword(key: Buffer, sealed: string): string {
  const [version, nonce, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || !nonce || !tag || ciphertext === undefined) throw new Error('not a stored password berth can read');
  const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(nonce, 'base64url')).setAAD(ASSOCIATED_DATA);
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
