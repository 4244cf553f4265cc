import type { Services } from '../../context.js';
import { viewerForApiToken } from '../../auth/viewer.js';
import { FailureLimiter } from '../../auth/failure-limiter.js';
import { verifySecret } from '../../auth/secret-hash.js';
import { grantedAccess, type RegistrySubject, registriesForScopes } from './access-policy.js';
import { createRegistryLoaders } from '../loaders.js';
import { quotaExceeded } from './quota.js';
import { isRobotUsername } from './robot-accounts.js';
import { parseScopes } from '../v2/scope.js';
import { slugOf } from './slug.js';

/** A GC window lasts seconds; clients may retry a refused push after this long. */
const MAINTENANCE_RETRY_AFTER_S = 10;

/** `lastUsedAt` of robot accounts is for people auditing them; writing it once a minute is enough. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * `GET /auth/token`: the Docker token authentication endpoint. Docker clients and skopeo come here
 * after the registry's 401 challenge, with Basic credentials or none: a user name with an API
 * token, or a registry's robot account (`robot$<slug>`) with its password.
 */
export function tokenRoute({ db, registry, maintenance, contentCache }: Pick<Services, 'db' | 'registry' | 'maintenance' | 'contentCache'>, limiter = new FailureLimiter()) {
  return async (request: Request, remoteAddress: string): Promise<Response> => {
    if (request.method !== 'GET') return errorResponse(405, 'UNSUPPORTED', 'use GET');
    const url = new URL(request.url);
    const service = url.searchParams.get('service');
    if (service !== null && service !== registry.signer.service) {
      return errorResponse(400, 'UNSUPPORTED', `this endpoint issues tokens for the service "${registry.signer.service}"`);
    }
    const credentials = basicCredentials(request.headers.get('authorization'));
    const limitKey = `${credentials?.username ?? ''}|${remoteAddress}`;
    const retryAfterMs = limiter.retryAfterMs(limitKey);
    if (retryAfterMs > 0) {
      return errorResponse(429, 'TOOMANYREQUESTS', 'too many failed logins for this account from this address; try again later', {
        'retry-after': String(Math.ceil(retryAfterMs / 1000)),
      });
    }
    const subject = credentials === undefined ? { kind: 'anonymous' as const } : await authenticate(db, credentials);
    if (subject === null) {
      limiter.recordFailure(limitKey);
      return errorResponse(401, 'UNAUTHORIZED', 'invalid username/password', { 'www-authenticate': 'Basic realm="berth"' });
    }
    limiter.recordSuccess(limitKey);
    const requested = parseScopes(url.searchParams.getAll('scope'));
    const registries = await registriesForScopes(db, requested);
    const access = grantedAccess(subject, requested, registries);
    // Writes are refused outright rather than left out of the grant: the registry would turn a
    // smaller grant into a bare insufficient_scope. 401 because docker and skopeo show the error
    // body of a 401 from the token endpoint and only the status code of anything else.
    const writes = access.filter((grant) => grant.actions.some((action) => action === 'push' || action === 'delete'));
    const refusal = writes.length > 0 ? await maintenance.refusal() : null;
    if (refusal !== null) return errorResponse(401, 'DENIED', refusal, { 'retry-after': String(MAINTENANCE_RETRY_AFTER_S) });
    const loaders = createRegistryLoaders(registry.client, contentCache);
    for (const slug of new Set(writes.filter((grant) => grant.actions.includes('push')).map((grant) => slugOf(grant.name)))) {
      const overQuota = await quotaExceeded(loaders, slug, registries.get(slug)?.quotaBytes ?? null);
      if (overQuota !== null) return errorResponse(401, 'DENIED', overQuota);
    }
    const signed = await registry.signer.sign(subject.kind === 'anonymous' ? '' : subject.name, access);
    return Response.json({
      token: signed.token,
      access_token: signed.token,
      expires_in: signed.expiresIn,
      issued_at: signed.issuedAt.toISOString(),
    });
  };
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

/** The subject behind valid credentials, or null: the spec answers wrong credentials with 401. */
async function authenticate(db: Services['db'], credentials: BasicCredentials | null): Promise<RegistrySubject | null> {
  if (credentials === null) return null;
  const { username, password } = credentials;
  if (isRobotUsername(username)) {
    const robot = await db.robotAccount.findUnique({ where: { username } });
    if (!robot || !(await verifySecret(password, robot.secretHash))) return null;
    if (!robot.lastUsedAt || Date.now() - robot.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await db.robotAccount.update({ where: { id: robot.id }, data: { lastUsedAt: new Date() } });
    }
    return { kind: 'robot', name: username, registryId: robot.registryId };
  }
  const viewer = await viewerForApiToken(db, password);
  return viewer && viewer.name === username ? { kind: 'user', ...viewer } : null;
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ errors: [{ code, message }] }, { status, headers });
}
