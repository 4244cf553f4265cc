import type { Db } from '../db/client.js';

/**
 * Whether the registry backend is in a read-only maintenance window, and why, as every berth
 * instance sees it: a GC run's window opens in the database before the registry goes read-only
 * and closes only once it serves writes again. So anything that hands out write access (the token
 * endpoint) refuses it for the whole window, whichever instance runs it, instead of letting
 * clients run into the registry's bare 405.
 */
export class BackendMaintenance {
  constructor(private readonly db: Db) {}

  /** The message for a refused write, e.g. `registry in maintenance: garbage collection is running`; null when writable. */
  async refusal(): Promise<string | null> {
    const open = await this.db.gcRun.findFirst({
      where: { status: 'RUNNING', windowOpenedAt: { not: null }, windowClosedAt: null },
      select: { id: true },
    });
    return open && 'registry in maintenance: garbage collection is running';
  }
}
