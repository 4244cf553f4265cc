import type { Db } from '../db/client.js';

/** What a refused push is told during a GC window, by the token endpoint and by the registry port alike. */
export const GC_WINDOW_REFUSAL = 'registry in maintenance: garbage collection is running';

/**
 * Whether the registry backend is in a read-only maintenance window, and why, as every berth
 * instance sees it: a GC run's window opens in the database before the registry port refuses
 * writes and closes only once it takes them again. So anything that hands out write access (the
 * token endpoint) refuses it for the whole window, whichever instance runs it, instead of letting
 * clients run into the port's 405.
 */
export class BackendMaintenance {
  constructor(private readonly db: Db) {}

  /** The message for a refused write, e.g. `registry in maintenance: garbage collection is running`; null when writable. */
  async refusal(): Promise<string | null> {
    const open = await this.db.gcRun.findFirst({
      where: { status: 'RUNNING', windowOpenedAt: { not: null }, windowClosedAt: null },
      select: { id: true },
    });
    return open && GC_WINDOW_REFUSAL;
  }
}
