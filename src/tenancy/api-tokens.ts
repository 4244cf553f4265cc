import { visibleApiTokens } from '../auth/access.js';
import { issueApiToken } from '../auth/api-tokens.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { ApiToken } from '../generated/prisma/client.js';
import { requireDisplayName } from '../validation.js';
import { requireViewer, type TenancyContext } from './actor.js';

export interface ApiTokenRequest {
  name: string;
  /** Admins only: for this user instead of the viewer. */
  userId?: string | null;
  /** Null or absent: the token never expires. */
  expiresAt?: Date | null;
}

/** A token for the viewer, or, for admins, for anyone; the secret is returned once. */
export async function createApiToken(ctx: TenancyContext, request: ApiTokenRequest): Promise<{ apiToken: ApiToken; secret: string }> {
  const viewer = requireViewer(ctx);
  const name = requireDisplayName(request.name, 'name');
  const expiresAt = request.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > Date.now())) throw new ValidationError('must be in the future', 'expiresAt');
  const userId = request.userId ?? viewer.id;
  if (userId !== viewer.id) {
    if (!viewer.isAdmin) throw new ForbiddenError('only admins create tokens for other users');
    if (!(await ctx.db.user.findUnique({ where: { id: userId }, select: { id: true } }))) throw new NotFoundError('userId: no such user');
  }
  return issueApiToken(ctx.db, ctx.serverKey, { userId, name, expiresAt });
}

/** Deletes one of the viewer's tokens (admins: anyone's); it stops working at the next request. */
export async function revokeApiToken(ctx: TenancyContext, id: string): Promise<void> {
  const viewer = requireViewer(ctx);
  const { count } = await ctx.db.apiToken.deleteMany({ where: { id, AND: [visibleApiTokens(viewer)] } });
  if (count === 0) throw new NotFoundError('id: no such API token');
  ctx.accessChanges.publish({ kind: 'tokenRevoked', tokenId: id });
}
