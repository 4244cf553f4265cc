import { roleIn } from '../auth/viewer.js';
import { isUniqueViolation } from '../db/errors.js';
import { serializable, type Tx } from '../db/transactions.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Membership } from '../generated/prisma/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import { requireViewer, type TenancyContext } from './actor.js';
import { namespaceForAction } from './namespaces.js';

export interface MemberRef {
  namespaceId: string;
  userId: string;
}

/** OWNERs give roles; the user must exist and not be a member yet. */
export async function addMember(ctx: TenancyContext, { namespaceId, userId, role }: MemberRef & { role: NamespaceRole }): Promise<Membership> {
  await namespaceForAction(ctx, namespaceId, 'namespaceId', 'OWNER');
  if (!(await ctx.db.user.findUnique({ where: { id: userId }, select: { id: true } }))) throw new NotFoundError('userId: no such user');
  let member: Membership;
  try {
    member = await ctx.db.membership.create({ data: { namespaceId, userId, role } });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('the user is already a member of the namespace');
    throw error;
  }
  ctx.accessChanges.publish({ kind: 'membershipChanged', userId, namespaceId, removed: false });
  return member;
}

/** OWNERs change roles, their own too, as long as another OWNER remains. */
export async function updateMember(ctx: TenancyContext, { namespaceId, userId, role }: MemberRef & { role: NamespaceRole }): Promise<Membership> {
  await namespaceForAction(ctx, namespaceId, 'namespaceId', 'OWNER');
  const member = await serializable(ctx.db, async (tx) => {
    const current = await findMember(tx, namespaceId, userId);
    if (current.role === 'OWNER' && role !== 'OWNER') await requireAnotherOwner(tx, namespaceId, 'demoted');
    return tx.membership.update({ where: { id: current.id }, data: { role } });
  });
  ctx.accessChanges.publish({ kind: 'membershipChanged', userId, namespaceId, removed: false });
  if (userId === ctx.viewer?.id) ctx.viewer.roles.set(namespaceId, role);
  return member;
}

/** OWNERs remove members; any member may leave. The last OWNER stays. */
export async function removeMember(ctx: TenancyContext, { namespaceId, userId }: MemberRef): Promise<void> {
  const viewer = requireViewer(ctx);
  const leaving = userId === viewer.id && roleIn(viewer, namespaceId) !== null;
  await namespaceForAction(ctx, namespaceId, 'namespaceId', leaving ? 'VIEWER' : 'OWNER');
  await serializable(ctx.db, async (tx) => {
    const current = await findMember(tx, namespaceId, userId);
    if (current.role === 'OWNER') await requireAnotherOwner(tx, namespaceId, 'removed');
    await tx.membership.delete({ where: { id: current.id } });
  });
  ctx.accessChanges.publish({ kind: 'membershipChanged', userId, namespaceId, removed: true });
  if (userId === viewer.id) viewer.roles.delete(namespaceId);
}

async function findMember(tx: Tx, namespaceId: string, userId: string): Promise<Membership> {
  const member = await tx.membership.findUnique({ where: { namespaceId_userId: { namespaceId, userId } } });
  if (!member) throw new NotFoundError('userId: the user is not a member of the namespace');
  return member;
}

/** A namespace always keeps an OWNER, so someone can manage its members without an admin. */
async function requireAnotherOwner(tx: Tx, namespaceId: string, action: 'demoted' | 'removed'): Promise<void> {
  const owners = await tx.membership.count({ where: { namespaceId, role: 'OWNER' } });
  if (owners <= 1) throw new ConflictError(`the last OWNER of a namespace cannot be ${action}; make another member OWNER first`);
}

