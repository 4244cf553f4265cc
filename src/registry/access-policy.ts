import { roleSatisfies } from '../auth/roles.js';
import type { Db } from '../db/client.js';
import type { NamespaceRole } from '../generated/prisma/enums.js';
import type { AccessGrant } from './scope.js';

/** Who asks the token endpoint for access. */
export type RegistrySubject =
  | { kind: 'anonymous' }
  | { kind: 'user'; name: string; isAdmin: boolean; roles: ReadonlyMap<string, NamespaceRole> };

/** What each role may do to the repositories of its namespace's hosted registries. */
const ACTIONS_BY_ROLE: [NamespaceRole, string[]][] = [
  ['MAINTAINER', ['pull', 'push', 'delete']],
  ['VIEWER', ['pull']],
];

/**
 * The part of each requested scope the subject is entitled to. A repository `<slug>/<name>`
 * belongs to the hosted registry with that slug; anything else (other slugs, the catalog for
 * non-admins, unknown resource types) is granted nothing. The token spec wants an answer even
 * then: the registry turns an empty grant into `insufficient_scope`.
 */
export async function grantedAccess(db: Db, subject: RegistrySubject, requested: AccessGrant[]): Promise<AccessGrant[]> {
  const slugs = [...new Set(requested.filter((r) => r.type === 'repository').map((r) => slugOf(r.name)))];
  const registries = slugs.length
    ? await db.registry.findMany({ where: { kind: 'HOSTED', slug: { in: slugs } }, select: { slug: true, namespaceId: true } })
    : [];
  const namespaceBySlug = new Map(registries.map((r) => [r.slug!, r.namespaceId]));
  return requested.map((request) => ({ ...request, actions: allowed(subject, request, namespaceBySlug).filter((action) => wants(request, action)) }));
}

function allowed(subject: RegistrySubject, request: AccessGrant, namespaceBySlug: Map<string, string>): string[] {
  if (subject.kind === 'anonymous') return [];
  if (request.type === 'registry' && request.name === 'catalog') return subject.isAdmin ? ['*'] : [];
  if (request.type !== 'repository') return [];
  const namespaceId = namespaceBySlug.get(slugOf(request.name));
  if (namespaceId === undefined || !request.name.includes('/')) return [];
  const role = subject.isAdmin ? 'OWNER' : (subject.roles.get(namespaceId) ?? null);
  return ACTIONS_BY_ROLE.find(([needed]) => roleSatisfies(role, needed))?.[1] ?? [];
}

/** `*` asks for everything that is allowed; otherwise only the named actions. */
function wants(request: AccessGrant, action: string): boolean {
  return request.actions.includes('*') || request.actions.includes(action);
}

function slugOf(repository: string): string {
  return repository.split('/', 1)[0]!;
}
