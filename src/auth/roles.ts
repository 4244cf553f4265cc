import type { NamespaceRole } from '../generated/prisma/enums.js';

const rank: Record<NamespaceRole, number> = { VIEWER: 1, MAINTAINER: 2, OWNER: 3 };

/** OWNER includes MAINTAINER includes VIEWER. */
export function roleSatisfies(held: NamespaceRole | null, needed: NamespaceRole): boolean {
  return held !== null && rank[held] >= rank[needed];
}
