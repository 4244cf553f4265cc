import { requireRole, visibleNamespaces } from '../auth/access.js';
import { isUniqueViolation } from '../db/errors.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Namespace } from '../generated/prisma/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { slugProblem } from '../registry/hosted/slug.js';
import { requireDisplayName } from '../validation.js';
import { requireViewer, type TenancyContext } from './actor.js';

/**
 * A namespace the viewer may act on with `role`: NotFoundError when it is missing or hidden from
 * the viewer, ForbiddenError when the viewer sees it with too low a role.
 */
export async function namespaceForAction(ctx: Pick<TenancyContext, 'db' | 'viewer'>, id: string, field: string, role: NamespaceRole): Promise<Namespace> {
  const notFound = `${field}: no such namespace`;
  const namespace = await ctx.db.namespace.findFirst({ where: { id, ...visibleNamespaces(ctx.viewer) } });
  if (!namespace) throw new NotFoundError(notFound);
  requireRole(ctx.viewer, namespace.id, role, notFound);
  return namespace;
}

/** Any signed-in user may create a namespace, and becomes its OWNER. */
export async function createNamespace(ctx: TenancyContext, input: { slug: string; name: string }): Promise<Namespace> {
  const viewer = requireViewer(ctx);
  const problem = slugProblem(input.slug);
  if (problem) throw new ValidationError(problem.message, 'slug');
  const name = requireDisplayName(input.name, 'name');
  try {
    const namespace = await ctx.db.namespace.create({
      data: { slug: input.slug, name, memberships: { create: { userId: viewer.id, role: 'OWNER' } } },
    });
    ctx.accessChanges.publish({ kind: 'membershipChanged', userId: viewer.id, namespaceId: namespace.id, removed: false });
    viewer.roles.set(namespace.id, 'OWNER');
    return namespace;
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`the namespace slug "${input.slug}" is taken`);
    throw error;
  }
}

/** The slug never changes: it is part of every registry endpoint. */
export async function renameNamespace(ctx: TenancyContext, id: string, newName: string | null): Promise<Namespace> {
  await namespaceForAction(ctx, id, 'id', 'OWNER');
  const name = newName === null ? undefined : requireDisplayName(newName, 'name');
  return ctx.db.namespace.update({ where: { id }, data: { name } });
}

/** Only an empty namespace goes: its registries are deleted first, so nothing goes by accident. */
export async function deleteNamespace(ctx: TenancyContext, id: string): Promise<void> {
  await namespaceForAction(ctx, id, 'id', 'OWNER');
  await ctx.db.$transaction(async (tx) => {
    const registries = await tx.registry.count({ where: { namespaceId: id } });
    if (registries > 0) throw new ConflictError(`the namespace still holds ${registries} registr${registries === 1 ? 'y' : 'ies'}; delete them first`);
    await tx.namespace.delete({ where: { id } });
  });
  ctx.accessChanges.publish({ kind: 'namespaceDeleted', namespaceId: id });
}
