import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { EmbeddedRegistry } from '../registry/hosted/embedded.js';
import { GC_WINDOW_REFUSAL } from './maintenance.js';

/**
 * Garbage collection is only safe while the registry takes no writes: a push landing between mark
 * and sweep would reference blobs the sweep deletes. The sweep covers the whole backend, so every
 * hosted registry on it is READ_ONLY for the window. The run's row says the window is open
 * (`windowOpenedAt` without `windowClosedAt`), which is what every berth instance's token endpoint
 * reads (BackendMaintenance); the registry port itself refuses pushes and deletes, and the
 * registry process serves pulls throughout, never restarted.
 */
export class ReadOnlyWindow {
  constructor(
    private readonly db: Db,
    private readonly registry: Pick<EmbeddedRegistry, 'refuseWrites' | 'acceptWrites' | 'writesRefused'>,
    private readonly log: Logger,
  ) {}

  /**
   * Refuses push tokens first, then marks the registries, then closes the registry port to writes;
   * resolves once the writes already under way have finished, so nothing writes any more. Rejects
   * when they are still running after the drain timeout (the window stays open: `close` it).
   */
  async open(runId: string): Promise<void> {
    await this.db.gcRun.update({ where: { id: runId }, data: { windowOpenedAt: new Date(), windowClosedAt: null } });
    const { count } = await this.db.registry.updateMany({ where: { kind: 'HOSTED', state: 'ACTIVE' }, data: { state: 'READ_ONLY' } });
    this.log.info({ registries: count }, 'registry backend going read-only for garbage collection');
    if (!(await this.registry.refuseWrites(GC_WINDOW_REFUSAL))) {
      throw new Error('pushes or deletes were still running when the drain timeout ended; nothing was collected, try again');
    }
  }

  /** Makes the backend writable again: the port, the registries and the window's row. */
  async close(runId: string | null): Promise<void> {
    const refusing = this.registry.writesRefused;
    this.registry.acceptWrites();
    const { count } = await this.db.registry.updateMany({ where: { kind: 'HOSTED', state: 'READ_ONLY' }, data: { state: 'ACTIVE' } });
    if (runId) await this.db.gcRun.updateMany({ where: { id: runId, windowOpenedAt: { not: null }, windowClosedAt: null }, data: { windowClosedAt: new Date() } });
    if (refusing || count > 0) this.log.info({ registries: count }, 'registry backend writable again');
  }
}
