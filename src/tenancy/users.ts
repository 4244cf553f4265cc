import { issueApiToken } from '../auth/api-tokens.js';
import { isUniqueViolation } from '../db/errors.js';
import { serializable } from '../db/transactions.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { User } from '../generated/prisma/client.js';
import { requireAdmin, type TenancyContext } from './actor.js';

const USER_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

/** Admins create users; each gets a first API token, shown once. */
export async function createUser(ctx: TenancyContext, input: { name: string; isAdmin: boolean }): Promise<{ user: User; token: string }> {
  requireAdmin(ctx);
  const { name } = input;
  if (!USER_NAME.test(name)) {
    throw new ValidationError('a user name is 1 to 64 lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit', 'name');
  }
  try {
    return await ctx.db.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { name, isAdmin: input.isAdmin } });
      const { secret } = await issueApiToken(tx, ctx.serverKey, { userId: user.id, name: 'initial' });
      return { user, token: secret };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`a user named "${name}" already exists`);
    throw error;
  }
}

/**
 * Admins delete users, with their tokens and memberships; from the next request on, nothing the
 * user held works. Never oneself (another admin does it, so berth keeps an admin), and never the
 * last OWNER of a namespace: someone must be able to manage its members afterwards.
 */
export async function deleteUser(ctx: TenancyContext, id: string): Promise<void> {
  const viewer = requireAdmin(ctx);
  if (id === viewer.id) throw new ConflictError('you cannot delete yourself; another admin can');
  await serializable(ctx.db, async (tx) => {
    const user = await tx.user.findUnique({ where: { id }, select: { isAdmin: true } });
    if (!user) throw new NotFoundError('id: no such user');
    if (user.isAdmin && (await tx.user.count({ where: { isAdmin: true, id: { not: id } } })) === 0) {
      throw new ConflictError('berth keeps at least one admin');
    }
    const owned = await tx.namespace.findMany({
      where: { memberships: { some: { userId: id, role: 'OWNER' }, none: { userId: { not: id }, role: 'OWNER' } } },
      select: { slug: true },
      orderBy: { slug: 'asc' },
      take: 4,
    });
    if (owned.length > 0) {
      const slugs = owned.slice(0, 3).map((namespace) => namespace.slug).join(', ');
      throw new ConflictError(`the user is the last OWNER of ${owned.length > 3 ? `${slugs} and more` : slugs}; make someone else OWNER first`);
    }
    await tx.user.delete({ where: { id } });
  });
  ctx.accessChanges.publish({ kind: 'userDeleted', userId: id });
}
