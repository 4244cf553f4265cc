import { ForbiddenError, NotFoundError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { hasRole, roleIn, type Viewer } from './viewer.js';

/**
 * Tenancy lives in the database query: a viewer's lists and lookups only ever load namespaces it
 * belongs to, so pages are never short and nothing hints that hidden objects exist.
 */
export function visibleNamespaces(viewer: Viewer | null): Prisma.NamespaceWhereInput {
  if (!viewer) return { id: { in: [] } };
  return viewer.isAdmin ? {} : { memberships: { some: { userId: viewer.id } } };
}

export function visibleRegistries(viewer: Viewer | null): Prisma.RegistryWhereInput {
  return { namespace: visibleNamespaces(viewer) };
}

export function visibleUsers(viewer: Viewer | null): Prisma.UserWhereInput {
  if (!viewer) return { id: { in: [] } };
  if (viewer.isAdmin) return {};
  return { OR: [{ id: viewer.id }, { memberships: { some: { namespaceId: { in: [...viewer.roles.keys()] } } } }] };
}

/** A user's API tokens are theirs to list and revoke, and any admin's. */
export function visibleApiTokens(viewer: Viewer | null): Prisma.ApiTokenWhereInput {
  if (!viewer) return { id: { in: [] } };
  return viewer.isAdmin ? {} : { userId: viewer.id };
}

/**
 * For an action on something in a namespace: NotFoundError when the viewer cannot see the
 * namespace at all (its existence stays hidden), ForbiddenError when it can but its role is too low.
 */
export function requireRole(viewer: Viewer | null, namespaceId: string, needed: NamespaceRole, notFound: string): void {
  if (roleIn(viewer, namespaceId) === null) throw new NotFoundError(notFound);
  if (!hasRole(viewer, namespaceId, needed)) throw new ForbiddenError(`this needs the ${needed} role in the namespace`);
}
