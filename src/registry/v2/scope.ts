/**
 * Docker token-auth scopes (`repository:team/app:pull,push`, `registry:catalog:*`) and the `access`
 * grants a registry token carries for them.
 */

export type RegistryAction = 'pull' | 'push' | 'delete' | '*';

/** One entry of a token's `access` claim. */
export interface AccessGrant {
  type: string;
  name: string;
  actions: string[];
}

/** The catalog needs exactly this scope; `registry:catalog:pull` is refused by distribution 2.8. */
export const CATALOG_SCOPE = 'registry:catalog:*';

export function repositoryScope(repository: string, actions: readonly RegistryAction[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/**
 * Parses one scope. The type ends at the first ':' and the actions start after the last ':', because
 * a name may itself contain ':' (a `host:port/` prefix). Returns null for anything malformed.
 */
export function parseScope(scope: string): AccessGrant | null {
  const typeEnd = scope.indexOf(':');
  const actionsStart = scope.lastIndexOf(':');
  if (typeEnd <= 0 || actionsStart <= typeEnd + 1) return null;
  const actions = scope
    .slice(actionsStart + 1)
    .split(',')
    .filter((action) => action !== '');
  return { type: scope.slice(0, typeEnd), name: scope.slice(typeEnd + 1, actionsStart), actions };
}

/**
 * Parses the scopes of a token request into grants, one per (type, name). Clients repeat the
 * `scope` parameter, put several scopes in one value separated by spaces, and may ask for the same
 * resource twice (skopeo does), so actions are merged. Malformed scopes are dropped.
 */
export function parseScopes(scopes: readonly string[]): AccessGrant[] {
  const grants = new Map<string, AccessGrant>();
  for (const scope of scopes.flatMap((value) => value.split(' '))) {
    const grant = parseScope(scope);
    if (!grant) continue;
    const key = `${grant.type}:${grant.name}`;
    const existing = grants.get(key);
    if (existing) existing.actions = [...new Set([...existing.actions, ...grant.actions])];
    else grants.set(key, grant);
  }
  return [...grants.values()];
}
