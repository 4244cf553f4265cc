import type { Services } from '../context.js';
import { hashApiToken } from '../auth/api-tokens.js';
import { grantedAccess, type RegistrySubject } from './access-policy.js';
import { parseScopes } from './scope.js';

/**
 * `GET /auth/token`: the Docker token authentication endpoint. Docker clients and skopeo come here
 * after the registry's 401 challenge, with Basic credentials (user name and API token) or none.
 */
export function tokenRoute({ db, registry }: Pick<Services, 'db' | 'registry'>) {
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'GET') return errorResponse(405, 'UNSUPPORTED', 'use GET');
    const url = new URL(request.url);
    const service = url.searchParams.get('service');
    if (service !== null && service !== registry.signer.service) {
      return errorResponse(400, 'UNSUPPORTED', `this endpoint issues tokens for the service "${registry.signer.service}"`);
    }
    const subject = await authenticate(db, request.headers.get('authorization'));
    if (subject === null) return errorResponse(401, 'UNAUTHORIZED', 'invalid username/password', { 'www-authenticate': 'Basic realm="berth"' });
    const access = await grantedAccess(db, subject, parseScopes(url.searchParams.getAll('scope')));
    const signed = await registry.signer.sign(subject.kind === 'anonymous' ? '' : subject.name, access);
    return Response.json({
      token: signed.token,
      access_token: signed.token,
      expires_in: signed.expiresIn,
      issued_at: signed.issuedAt.toISOString(),
    });
  };
}

/** No credentials: anonymous. Wrong credentials: null, which the spec answers with 401. */
async function authenticate(db: Services['db'], authorization: string | null): Promise<RegistrySubject | null> {
  if (!authorization) return { kind: 'anonymous' };
  const match = /^Basic\s+(\S+)$/i.exec(authorization.trim());
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  const name = decoded.slice(0, colon);
  const token = await db.apiToken.findUnique({
    where: { tokenHash: hashApiToken(decoded.slice(colon + 1)) },
    include: { user: { include: { memberships: { select: { namespaceId: true, role: true } } } } },
  });
  if (!token || token.user.name !== name) return null;
  const { user } = token;
  return { kind: 'user', name: user.name, isAdmin: user.isAdmin, roles: new Map(user.memberships.map((m) => [m.namespaceId, m.role])) };
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ errors: [{ code, message }] }, { status, headers });
}
