import type { ServerKey } from '../auth/server-key.js';
import type { Viewer } from '../auth/viewer.js';
import type { Db } from '../db/client.js';
import { ForbiddenError } from '../errors.js';

/** What the tenancy rules act with: the database, berth's key (token hashes) and who asks. */
export interface TenancyContext {
  readonly db: Db;
  readonly serverKey: ServerKey;
  readonly viewer: Viewer | null;
}

export function requireViewer(ctx: TenancyContext): Viewer {
  if (!ctx.viewer) throw new ForbiddenError('this needs an API token');
  return ctx.viewer;
}

export function requireAdmin(ctx: TenancyContext): Viewer {
  const viewer = requireViewer(ctx);
  if (!viewer.isAdmin) throw new ForbiddenError('this is for admins');
  return viewer;
}
