import type { AccessChanges } from '../auth/access-changes.js';
import type { ServerKey } from '../auth/server-key.js';
import type { Viewer } from '../auth/viewer.js';
import type { Db } from '../db/client.js';
import { ForbiddenError } from '../errors.js';

/**
 * What the tenancy rules act with: the database, berth's key (token hashes), who asks, and where
 * they announce the access changes they make.
 */
export interface TenancyContext {
  readonly db: Db;
  readonly serverKey: ServerKey;
  readonly viewer: Viewer | null;
  readonly accessChanges: AccessChanges;
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
