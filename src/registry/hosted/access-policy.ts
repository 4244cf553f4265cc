import { roleSatisfies } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import type { NamespaceRole } from '../../generated/prisma/enums.js';
import type { AccessGrant } from '../v2/scope.js';
import { slugOf } from './slug.js';

/** Who asks the token endpoint for access. */
export type RegistrySubject =
  | { kind: 'anonymous' }
  | { kind: 'user'; name: string; isAdmin: boolean; roles: ReadonlyMap<string, NamespaceRole> }
  | { kind: 'robot'; name: string; registryId: string };

/** The hosted registry a requested repository belongs to, as far as the policy needs it. */
export interface RegistryFacts {
  id: string;
  namespaceId: string;
  public: boolean;
  quotaBytes: bigint | null;
}

/** What each role may do to the repositories of its namespace's hosted registries. */
const ACTIONS_BY_ROLE: [NamespaceRole, string[]][] = [
  ['MAINTAINER', ['pull', 'push', 'delete']],
  ['VIEWER', ['pull']],
];

/** A robot account pushes and pulls its own registry; deleting is for people. */
const ROBOT_ACTIONS = ['pull', 'push'];

/**
 * The part of each requested scope the subject is entitled to. A repository `<slug>/<name>`
 * belongs to the hosted registry with that slug; anything else (other slugs, the catalog for
 * non-admins, unknown resource types) is granted nothing. The token spec wants an answer even
 * then: the registry turns an empty grant into `insufficient_scope`.
 */
export function grantedAccess(subject: RegistrySubject, requested: AccessGrant[], registryBySlug: ReadonlyMap<string, RegistryFacts>): AccessGrant[] {
  return requested.map((request) => ({ ...request, actions: allowed(subject, request, registryBySlug).filter((action) => wants(request, action)) }));
}

/** The hosted registries the requested repository scopes point at, in one query; one being deleted grants nothing. */
export async function registriesForScopes(db: Db, requested: AccessGrant[]): Promise<Map<string, RegistryFacts>> {
  const slugs = [...new Set(requested.filter((r) => r.type === 'repository').map((r) => slugOf(r.name)))];
  if (slugs.length === 0) return new Map();
  const rows = await db.registry.findMany({
    where: { kind: 'HOSTED', slug: { in: slugs }, state: { not: 'DELETING' } },
    select: { id: true, slug: true, namespaceId: true, public: true, quotaBytes: true },
  });
  return new Map(rows.map(({ slug, ...facts }) => [slug!, facts]));
}

function allowed(subject: RegistrySubject, request: AccessGrant, registryBySlug: ReadonlyMap<string, RegistryFacts>): string[] {
  if (request.type === 'registry' && request.name === 'catalog') return subject.kind === 'user' && subject.isAdmin ? ['*'] : [];
  if (request.type !== 'repository' || !request.name.includes('/')) return [];
  const registry = registryBySlug.get(slugOf(request.name));
  if (!registry) return [];
  const own = ownActions(subject, registry);
  return registry.public && !own.includes('pull') ? ['pull', ...own] : own;
}

function ownActions(subject: RegistrySubject, registry: RegistryFacts): string[] {
  switch (subject.kind) {
    case 'anonymous':
      return [];
    case 'robot':
      return subject.registryId === registry.id ? ROBOT_ACTIONS : [];
    case 'user': {
      const role = subject.isAdmin ? 'OWNER' : (subject.roles.get(registry.namespaceId) ?? null);
      return ACTIONS_BY_ROLE.find(([needed]) => roleSatisfies(role, needed))?.[1] ?? [];
    }
  }
}

/** `*` asks for everything that is allowed; otherwise only the named actions. */
function wants(request: AccessGrant, action: string): boolean {
  return request.actions.includes('*') || request.actions.includes(action);
}
