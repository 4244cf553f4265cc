import { BackendUnavailableError, NotFoundError } from '../errors.js';
import { OperationRefusedError } from '../registry/remote/errors.js';
import { RegistryError, RegistryNotFoundError, RegistryReadOnlyError, RegistryUnavailableError } from '../registry/v2/errors.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';

builder.objectType(RegistryReadOnlyError, {
  name: 'RegistryReadOnlyError',
  description: 'The registry backend is read-only for now (a garbage collection window); try again shortly.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RegistryReadOnlyError,
});

/**
 * Runs a mutation's backend work, turning the V2 client's failures into the typed errors mutation
 * unions list: a registry that is down is BackendUnavailableError, a missing manifest NotFoundError,
 * an outside registry that will not let berth do it (no delete rights, deletes disabled)
 * OperationRefusedError; RegistryReadOnlyError is itself a schema type.
 */
export async function onBackend<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RegistryReadOnlyError) throw error;
    if (error instanceof RegistryUnavailableError) throw new BackendUnavailableError(`the registry backend is unavailable: ${error.message}`, { cause: error });
    if (error instanceof RegistryNotFoundError) throw new NotFoundError(error.message, { cause: error });
    if (error instanceof RegistryError && [401, 403, 405].includes(error.status ?? 0)) {
      throw new OperationRefusedError(`the registry refuses it: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
