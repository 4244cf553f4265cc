import type { Db } from '../db/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { type ApiTokenWithUser, findApiToken } from './api-tokens.js';
import { roleSatisfies } from './roles.js';
import type { ServerKey } from './server-key.js';

/**
 * The authenticated caller of one request, with its roles loaded once so checks stay synchronous.
 * A mutation that makes the viewer a member records the role here too (see createNamespace).
 */
export interface Viewer {
  readonly id: string;
  readonly name: string;
  readonly isAdmin: boolean;
  readonly roles: Map<string, NamespaceRole>;
  /** The API token that authenticated it; a revocation names it. */
  readonly tokenId: string;
  /** When that token stops working; null: never. */
  readonly tokenExpiresAt: Date | null;
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

/** The user an API token belongs to, with its roles; null for an unknown or expired token. */
export async function viewerForApiToken(db: Db, key: ServerKey, apiToken: string): Promise<Viewer | null> {
  const token = await findApiToken(db, key, apiToken);
  const now = Date.now();
  if (!token || isExpired(token, now)) return null;
  if (!token.lastUsedAt || now - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date(now) } });
  }
  return viewerOf(token);
}

function isExpired(token: { expiresAt: Date | null }, now: number): boolean {
  return token.expiresAt !== null && token.expiresAt.getTime() <= now;
}

function viewerOf(token: ApiTokenWithUser): Viewer {
  const { user } = token;
  return {
    id: user.id,
    name: user.name,
    isAdmin: user.isAdmin,
    roles: new Map(user.memberships.map((m) => [m.namespaceId, m.role])),
    tokenId: token.id,
    tokenExpiresAt: token.expiresAt,
  };
}
