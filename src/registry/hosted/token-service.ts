import type { Services } from '../../context.js';
import { viewerForApiToken } from '../../auth/viewer.js';
import { FailureLimiter } from '../../auth/failure-limiter.js';
import { refuseUnknownAccount, verifySecret } from '../../auth/secret-hash.js';
import { grantedAccess, type RegistrySubject, registriesForScopes } from './access-policy.js';
import { quotaRefusals } from './quota.js';
import { isRobotUsername } from './robot-accounts.js';
import { parseScopes } from '../v2/scope.js';
import { slugOf } from './slug.js';

/** A GC window lasts seconds; clients may retry a refused push after this long. */
const MAINTENANCE_RETRY_AFTER_S = 10;

/** `lastUsedAt` of robot accounts is for people auditing them; writing it once a minute is enough. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** No account has a longer name or secret; longer ones are refused before any lookup and not remembered. */
const MAX_USERNAME_BYTES = 256;
const MAX_PASSWORD_BYTES = 1024;

/**
 * `GET /auth/token`: the Docker token authentication endpoint. Docker clients and skopeo come here
 * after the registry's 401 challenge, with Basic credentials or none: a user name with an API
 * token, or a registry's robot account (`robot$<slug>`) with its password.
 */
export function tokenRoute(
  { db, serverKey, registry, maintenance }: Pick<Services, 'db' | 'serverKey' | 'registry' | 'maintenance'>,
  limiter = new FailureLimiter(),
) {
  return async (request: Request, clientAddress: string): Promise<Response> => {
    if (request.method !== 'GET') return errorResponse(405, 'UNSUPPORTED', 'use GET');
    const url = new URL(request.url);
    const service = url.searchParams.get('service');
    if (service !== null && service !== registry.signer.service) {
      return errorResponse(400, 'UNSUPPORTED', `this endpoint issues tokens for the service "${registry.signer.service}"`);
    }
    const credentials = basicCredentials(request.headers.get('authorization'));
    const subject = credentials === undefined ? { kind: 'anonymous' as const } : await logIn(credentials, clientAddress);
    if (subject instanceof Response) return subject;
    const requested = parseScopes(url.searchParams.getAll('scope'));
    const registries = await registriesForScopes(db, requested);
    const access = grantedAccess(subject, requested, registries);
    // Writes are refused outright rather than left out of the grant: the registry would turn a
    // smaller grant into a bare insufficient_scope. 401 because docker and skopeo show the error
    // body of a 401 from the token endpoint and only the status code of anything else.
    const writes = access.filter((grant) => grant.actions.some((action) => action === 'push' || action === 'delete'));
    const refusal = writes.length > 0 ? await maintenance.refusal() : null;
    if (refusal !== null) return errorResponse(401, 'DENIED', refusal, { 'retry-after': String(MAINTENANCE_RETRY_AFTER_S) });
    const pushed = new Set(writes.filter((grant) => grant.actions.includes('push')).map((grant) => slugOf(grant.name)));
    const [overQuota] = (await quotaRefusals(db, new Map([...pushed].map((slug) => [slug, registries.get(slug)?.quotaBytes ?? null])))).values();
    if (overQuota !== undefined) return errorResponse(401, 'DENIED', overQuota);
    const signed = await registry.signer.sign(subject.kind === 'anonymous' ? '' : subject.name, access);
    return Response.json({
      token: signed.token,
      access_token: signed.token,
      expires_in: signed.expiresIn,
      issued_at: signed.issuedAt.toISOString(),
    });
  };

  /**
   * Checks the credentials first, so the right ones always pass; only then does a failure count,
   * per account and client address, answered 429 past the allowance. Malformed or oversized
   * credentials guess nothing: they are refused without being counted or remembered.
   */
  async function logIn(credentials: BasicCredentials | null, clientAddress: string): Promise<RegistrySubject | Response> {
    if (
      credentials === null ||
      Buffer.byteLength(credentials.username) > MAX_USERNAME_BYTES ||
      Buffer.byteLength(credentials.password) > MAX_PASSWORD_BYTES
    ) {
      return invalidCredentials();
    }
    const subject = await authenticate(db, serverKey, credentials);
    const limitKey = `${credentials.username}|${clientAddress}`;
    if (subject !== null) {
      limiter.recordSuccess(limitKey);
      return subject;
    }
    const retryAfterMs = limiter.recordFailure(limitKey);
    if (retryAfterMs === 0) return invalidCredentials();
    return errorResponse(429, 'TOOMANYREQUESTS', 'too many failed logins for this account from this address; try again later', {
      'retry-after': String(Math.ceil(retryAfterMs / 1000)),
    });
  }
}

function invalidCredentials(): Response {
  return errorResponse(401, 'UNAUTHORIZED', 'invalid username/password', { 'www-authenticate': 'Basic realm="berth"' });
}

interface BasicCredentials {
  username: string;
  password: string;
}

/** undefined: no credentials (anonymous). null: a header that is not valid Basic credentials. */
function basicCredentials(authorization: string | null): BasicCredentials | null | undefined {
  if (!authorization) return undefined;
  const match = /^Basic\s+(\S+)$/i.exec(authorization.trim());
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : null;
}

/**
 * The subject behind valid credentials, or null: the spec answers wrong credentials with 401. An
 * unknown robot costs the same scrypt work as a wrong password, so timing tells no slugs apart;
 * a user's token is looked up by its hash whatever the name, so it tells no names apart either.
 */
async function authenticate(db: Services['db'], key: Services['serverKey'], { username, password }: BasicCredentials): Promise<RegistrySubject | null> {
  if (isRobotUsername(username)) {
    const robot = await db.robotAccount.findUnique({ where: { username } });
    if (!robot) return refuseUnknownAccount(password).then(() => null);
    if (!(await verifySecret(password, robot.secretHash))) return null;
    if (!robot.lastUsedAt || Date.now() - robot.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await db.robotAccount.update({ where: { id: robot.id }, data: { lastUsedAt: new Date() } });
    }
    return { kind: 'robot', name: username, registryId: robot.registryId };
  }
  const viewer = await viewerForApiToken(db, key, password);
  return viewer && viewer.name === username ? { kind: 'user', ...viewer } : null;
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ errors: [{ code, message }] }, { status, headers });
}
