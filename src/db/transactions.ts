import type { Db } from './client.js';

export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

const ATTEMPTS = 5;

/**
 * Runs `work` as a serializable transaction, again when the database aborted it for a concurrent
 * one: two requests that each check a rule ("another OWNER remains") and then break it together
 * cannot both commit. SQLite serializes every write transaction anyway.
 */
export async function serializable<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.$transaction(work, { isolationLevel: 'Serializable' });
    } catch (error) {
      if (attempt >= ATTEMPTS || !isSerializationFailure(error)) throw error;
    }
  }
}

/** Prisma's P2034, or the driver adapter's TransactionWriteConflict (PostgreSQL's 40001). */
function isSerializationFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, kind, cause } = error as { code?: unknown; kind?: unknown; cause?: unknown };
  if (code === 'P2034' || code === '40001' || kind === 'TransactionWriteConflict') return true;
  return cause !== undefined && cause !== error && isSerializationFailure(cause);
}
