import { GraphQLError } from 'graphql';
import { InvalidCursorError } from '../db/keyset.js';
import { CatalogRefusedError } from '../registry/remote/errors.js';
import { RegistryError, RegistryUnavailableError } from '../registry/v2/errors.js';

/**
 * Failures of a query field that are expected, and what clients see of them: the field resolves to
 * null with an error entry carrying a code, while the rest of the response stands (mutations return
 * typed errors instead). Anything else stays masked as "Unexpected error.".
 */
export function expectedFieldError(error: unknown): GraphQLError | null {
  if (!(error instanceof GraphQLError)) return null;
  const cause = error.originalError;
  const entry = (message: string, code: string) => new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions: { code } });
  if (cause instanceof RegistryUnavailableError) return entry(`the registry backend is unavailable: ${cause.message}`, 'BACKEND_UNAVAILABLE');
  if (cause instanceof CatalogRefusedError) return entry(cause.message, 'CATALOG_REFUSED');
  if (cause instanceof InvalidCursorError) return entry(cause.message, 'BAD_USER_INPUT');
  // An outside registry that refuses berth (credentials changed, access withdrawn).
  if (cause instanceof RegistryError && (cause.status === 401 || cause.status === 403)) return entry(`the registry refused berth: ${cause.message}`, 'BACKEND_UNAUTHORIZED');
  return null;
}
