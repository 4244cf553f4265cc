import { BerthError } from '../../errors.js';

/** Why berth could not use an outside registry. */
export type ConnectionFailure = 'UNREACHABLE' | 'TLS' | 'UNAUTHORIZED' | 'NOT_A_REGISTRY' | 'CATALOG_REFUSED';

/** Connecting to (or probing) an outside registry failed; the message says what it answered. */
export class RegistryConnectionError extends BerthError {
  constructor(
    readonly reason: ConnectionFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The registry will not list its repositories to these credentials (hubs never do); single repositories still work. */
export class CatalogRefusedError extends BerthError {}

/** The registry refuses this operation (deletes, typically); the message says what it answered. */
export class OperationRefusedError extends BerthError {}
