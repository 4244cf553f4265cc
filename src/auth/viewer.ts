import { GraphQLError } from 'graphql';
import type { Db } from '../db/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { hashApiToken } from './api-tokens.js';
import { roleSatisfies } from './roles.js';

/**
 * The authenticated caller of one request, with its roles loaded once so checks stay synchronous.
 * A mutation that makes the viewer a member records the role here too (see createNamespace).
 */
export interface Viewer {
  readonly id: string;
  readonly name: string;
  readonly isAdmin: boolean;
  readonly roles: Map<string, NamespaceRole>;
}

/** Admins act as OWNER of every namespace. */
export function roleIn(viewer: Viewer | null, namespaceId: string): NamespaceRole | null {
  if (!viewer) return null;
  return viewer.isAdmin ? 'OWNER' : (viewer.roles.get(namespaceId) ?? null);
}

export function hasRole(viewer: Viewer | null, namespaceId: string, needed: NamespaceRole): boolean {
  return roleSatisfies(roleIn(viewer, namespaceId), needed);
}

/** `lastUsedAt` is a hint for people auditing tokens; writing it at most once a minute keeps requests read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Resolves `Authorization: Bearer <token>`. No header means an anonymous viewer (null); a header
 * with an unknown token is an error, so a typo is reported instead of showing an empty graph.
 */
export async function viewerFromAuthorization(db: Db, authorization: string | null | undefined): Promise<Viewer | null> {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw unauthenticated('the Authorization header must be "Bearer <api token>"');
  const viewer = await viewerForApiToken(db, match[1]!);
  if (!viewer) throw unauthenticated('the API token is not valid');
  return viewer;
}

/** The user an API token belongs to, with its roles; null for an unknown token. */
export async function viewerForApiToken(db: Db, apiToken: string): Promise<Viewer | null> {
  const token = await db.apiToken.findUnique({
    where: { tokenHash: hashApiToken(apiToken) },
    include: { user: { include: { memberships: { select: { namespaceId: true, role: true } } } } },
  });
  if (!token) return null;
  const now = Date.now();
  if (!token.lastUsedAt || now - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date(now) } });
  }
  const { user } = token;
  return {
    id: user.id,
    name: user.name,
    isAdmin: user.isAdmin,
    roles: new Map(user.memberships.map((m) => [m.namespaceId, m.role])),
  };
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}
