import { requireRole, visibleNamespaces, visibleRegistries } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import type { Db } from '../db/client.js';
import { NotFoundError } from '../errors.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { decodeIdOf } from './global-id.js';

interface LookupContext {
  readonly db: Db;
  readonly viewer: Viewer | null;
}

/**
 * The objects a mutation acts on, loaded by global ID within what the viewer may see, then checked
 * against the role the action needs: NotFoundError when hidden or missing, ForbiddenError when the
 * role is too low.
 */
export async function findNamespaceForAction(ctx: LookupContext, globalId: string, field: string, role: NamespaceRole) {
  const notFound = `${field}: no namespace ${globalId}`;
  const namespace = await ctx.db.namespace.findFirst({ where: { id: decodeIdOf('Namespace', globalId, field), ...visibleNamespaces(ctx.viewer) } });
  if (!namespace) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, namespace.id, role, notFound);
  return namespace;
}

export async function findRegistryForAction(ctx: LookupContext, globalId: string, field: string, role: NamespaceRole) {
  const notFound = `${field}: no registry ${globalId}`;
  const registry = await ctx.db.registry.findFirst({ where: { id: decodeIdOf('Registry', globalId, field), ...visibleRegistries(ctx.viewer) } });
  if (!registry) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, registry.namespaceId, role, notFound);
  return registry;
}
