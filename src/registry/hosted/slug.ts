/**
 * A hosted registry's slug is the first path component of every repository it owns in the shared
 * backend (`<slug>/alpine`), so it follows the OCI distribution path-component grammar and is
 * unique across all namespaces.
 */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/;

export const SLUG_MIN_LENGTH = 2;
export const SLUG_MAX_LENGTH = 63;

/** Names that would be confused with berth's or the V2 API's own paths, or with well-known namespaces. */
const RESERVED = new Set(['v2', 'api', 'auth', 'admin', 'berth', 'graphql', 'hooks', 'library', 'registry', 'root', 'system', 'token']);

export type SlugProblem = { reason: 'INVALID' | 'RESERVED'; message: string };

/** Why a slug cannot be used, or null when its form is fine (it may still be taken). */
export function slugProblem(slug: string): SlugProblem | null {
  if (slug.length < SLUG_MIN_LENGTH || slug.length > SLUG_MAX_LENGTH) {
    return { reason: 'INVALID', message: `a slug has ${SLUG_MIN_LENGTH} to ${SLUG_MAX_LENGTH} characters` };
  }
  if (!PATH_COMPONENT.test(slug)) {
    return {
      reason: 'INVALID',
      message: 'a slug is lowercase letters and digits, separated by ".", "_", "__" or dashes, starting and ending with a letter or digit',
    };
  }
  if (RESERVED.has(slug)) return { reason: 'RESERVED', message: `"${slug}" is reserved` };
  return null;
}

/** The slug a backend repository path belongs to: `csaw` for `csaw/alpine`; '' for a path outside every slug. */
export function slugOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash < 0 ? '' : repository.slice(0, slash);
}
