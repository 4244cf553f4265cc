import { randomBytes } from 'node:crypto';
import { hashSecret } from '../../auth/secret-hash.js';

/** The docker credentials of a hosted registry, as handed out once. */
export interface IssuedCredentials {
  username: string;
  password: string;
  /** The registry host, as `docker login` and docker config `auths` keys want it. */
  endpoint: string;
  /** A docker config.json document that works as-is (`docker --config`, `skopeo --authfile`). */
  dockerConfig: string;
}

const PREFIX = 'robot$';

export function robotUsername(slug: string): string {
  return PREFIX + slug;
}

export function isRobotUsername(username: string): boolean {
  return username.startsWith(PREFIX);
}

/**
 * New credentials for a registry's robot account. The caller stores `secretHash` (creating the
 * account with the registry, or replacing the hash on rotation: every token request checks the
 * stored hash, so an old secret stops working for new registry tokens at once).
 */
export async function generateRobotCredentials(slug: string, registryHost: string): Promise<{ issued: IssuedCredentials; secretHash: string }> {
  const username = robotUsername(slug);
  const password = randomBytes(32).toString('base64url');
  return {
    issued: { username, password, endpoint: registryHost, dockerConfig: dockerConfig(registryHost, username, password) },
    secretHash: await hashSecret(password),
  };
}

function dockerConfig(host: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return JSON.stringify({ auths: { [host]: { auth } } });
}
