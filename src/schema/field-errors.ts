import { GraphQLError } from 'graphql';
import { InvalidCursorError } from '../db/keyset.js';
import { BerthError, ValidationError } from '../errors.js';
import { CatalogRefusedError } from '../registry/remote/errors.js';
import { RegistryError, RegistryUnavailableError } from '../registry/v2/errors.js';

/**
 * Failures outside a result union that are expected, and what clients see of them: a query field
 * resolves to null with an error entry carrying a code while the rest of the response stands, and
 * a subscription's refusal reaches the client with its message instead of "Unexpected error." and
 * HTTP 500. Anything else stays masked.
 */
export function expectedFieldError(error: unknown): GraphQLError | null {
  if (!(error instanceof GraphQLError)) return null;
  const cause = error.originalError;
  const entry = (message: string, code: string) =>
    new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions: { code, ...(cause instanceof ValidationError ? { field: cause.field } : {}) } });
  if (cause instanceof RegistryUnavailableError) return entry(`the registry backend is unavailable: ${cause.message}`, 'BACKEND_UNAVAILABLE');
  if (cause instanceof CatalogRefusedError) return entry(cause.message, 'CATALOG_REFUSED');
  if (cause instanceof InvalidCursorError) return entry(cause.message, 'BAD_USER_INPUT');
  // An outside registry that refuses berth (credentials changed, access withdrawn).
  if (cause instanceof RegistryError && (cause.status === 401 || cause.status === 403)) return entry(`the registry refused berth: ${cause.message}`, 'BACKEND_UNAUTHORIZED');
  // A bare RegistryError is the registry answering something berth did not expect: masked, like a bug.
  if (!(cause instanceof BerthError) || cause.constructor === RegistryError) return null;
  return entry(cause.message, cause.name.replace(/Error$/, '').replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase());
}
