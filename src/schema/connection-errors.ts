import { OperationRefusedError, RegistryConnectionError } from '../registry/remote/errors.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';

export const ConnectionFailureEnum = builder.enumType('ConnectionFailure', {
  description:
    'UNREACHABLE: no answer (refused, timed out, 5xx). TLS: the TLS handshake failed. UNAUTHORIZED: the credentials were refused. NOT_A_REGISTRY: something answered, but not a V2 registry. CATALOG_REFUSED: it will not list its repositories.',
  values: ['UNREACHABLE', 'TLS', 'UNAUTHORIZED', 'NOT_A_REGISTRY', 'CATALOG_REFUSED'] as const,
});

builder.objectType(RegistryConnectionError, {
  name: 'RegistryConnectionError',
  description: 'berth could not sign in to the registry; the message says what it answered.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RegistryConnectionError,
  fields: (t) => ({ reason: t.field({ type: ConnectionFailureEnum, resolve: (error) => error.reason }) }),
});

builder.objectType(OperationRefusedError, {
  name: 'OperationRefusedError',
  description: 'The outside registry refuses this operation (many refuse deletes); the message says what it answered.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof OperationRefusedError,
});

