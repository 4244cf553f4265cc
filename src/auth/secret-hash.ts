import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Robot passwords are long random secrets, but they are typed into CI systems and docker configs
 * where they can leak next to their hash; a slow salted hash (scrypt, ~50 ms) makes any stolen
 * hash useless to brute-force. Format: `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url).
 */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, params: typeof PARAMS): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 };
  return new Promise((resolve, reject) => scrypt(secret, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let throwaway: Promise<string> | undefined;

/**
 * Refuses a secret for an account that does not exist, after the same scrypt work as a wrong
 * secret for one that does: otherwise the answer's timing would tell which accounts exist.
 */
export async function refuseUnknownAccount(secret: string): Promise<false> {
  throwaway ??= hashSecret(randomBytes(32).toString('base64url'));
  await verifySecret(secret, await throwaway);
  return false;
}
