import { requireRole, visibleRegistries } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import type { Db } from '../db/client.js';
import { NotFoundError } from '../errors.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import type { Context } from '../context.js';
import { namespaceForAction } from '../tenancy/namespaces.js';
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
export function findNamespaceForAction(ctx: LookupContext, globalId: string, field: string, role: NamespaceRole) {
  return namespaceForAction(ctx, decodeIdOf('Namespace', globalId, field), field, role);
}

export async function findRegistryForAction(ctx: LookupContext, globalId: string, field: string, role: NamespaceRole) {
  const notFound = `${field}: no registry ${globalId}`;
  const registry = await ctx.db.registry.findFirst({ where: { id: decodeIdOf('Registry', globalId, field), ...visibleRegistries(ctx.viewer) } });
  if (!registry) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, registry.namespaceId, role, notFound);
  return registry;
}

/**
 * A repository by its global ID (`Repository:<registryId>/<name>`), for an action that needs
 * `role`: its registry, its name and its path in the registry's backend. Whether the backend still
 * has it is for the action to find out.
 */
export async function findRepositoryForAction(ctx: LookupContext & Pick<Context, 'backends'>, globalId: string, field: string, role: NamespaceRole) {
  const notFound = `${field}: no repository ${globalId}`;
  const key = decodeIdOf('Repository', globalId, field);
  const slash = key.indexOf('/');
  const registry = slash > 0 ? await ctx.db.registry.findFirst({ where: { id: key.slice(0, slash), ...visibleRegistries(ctx.viewer) } }) : null;
  const name = key.slice(slash + 1);
  const path = registry && ctx.backends.open(registry).pathOf(name);
  if (!registry || !path) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, registry.namespaceId, role, notFound);
  return { registry, name, path };
}

/**
 * A job of a registry (a GC or cleanup job) by global ID, for an action that needs `role`; `find`
 * looks it up by id among the registries the viewer may see.
 */
export async function findRegistryJobForAction<Job extends { registry: { namespaceId: string } }>(
  ctx: LookupContext,
  job: { typename: string; label: string; find(id: string, registries: ReturnType<typeof visibleRegistries>): Promise<Job | null> },
  globalId: string,
  field: string,
  role: NamespaceRole,
): Promise<Job> {
  const notFound = `${field}: no ${job.label} ${globalId}`;
  const found = await job.find(decodeIdOf(job.typename, globalId, field), visibleRegistries(ctx.viewer));
  if (!found) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, found.registry.namespaceId, role, notFound);
  return found;
}
