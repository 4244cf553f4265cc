import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { EmbeddedRegistry } from '../registry/hosted/embedded.js';

/**
 * Garbage collection is only safe while the registry takes no writes: a push landing between mark
 * and sweep would reference blobs the sweep deletes. The sweep covers the whole backend, so every
 * hosted registry on it is READ_ONLY for the window. The run's row says the window is open
 * (`windowOpenedAt` without `windowClosedAt`), which is what every berth instance's token endpoint
 * reads (BackendMaintenance).
 */
export class ReadOnlyWindow {
  constructor(
    private readonly db: Db,
    private readonly registry: Pick<EmbeddedRegistry, 'handOver' | 'prepareHandOver' | 'cancelHandOver' | 'readOnly'>,
    private readonly log: Logger,
  ) {}

  /**
   * Starts the read-only process while pushes still work, so that `open` holds the backend only
   * for the switch. Should it fail, `open` tries again and reports why.
   */
  prepareOpen(): void {
    this.prepare(true);
  }

  /** Starts the writable process ahead of `close`; only once garbage-collect has exited. */
  prepareClose(): void {
    this.prepare(false);
  }

  /** Stops a process prepared for an `open` that is not coming (the run failed before its window). */
  async abandon(): Promise<void> {
    await this.registry.cancelHandOver();
  }

  private prepare(readOnly: boolean): void {
    this.registry.prepareHandOver({ readOnly }).catch((error: unknown) => {
      this.log.warn({ err: error, readOnly }, 'could not start the next registry process ahead of the handover');
    });
  }

  /**
   * Refuses push tokens first, then marks the registries, then hands the port to a read-only
   * registry process; resolves once the writable one has exited, so nothing writes any more.
   */
  async open(runId: string): Promise<void> {
    await this.db.gcRun.update({ where: { id: runId }, data: { windowOpenedAt: new Date(), windowClosedAt: null } });
    const { count } = await this.db.registry.updateMany({ where: { kind: 'HOSTED', state: 'ACTIVE' }, data: { state: 'READ_ONLY' } });
    this.log.info({ registries: count }, 'registry backend going read-only for garbage collection');
    await this.registry.handOver({ readOnly: true });
  }

  /**
   * Makes the backend writable again. Registries and the window's row are restored even when the
   * writable process fails to start: the read-only one goes on serving pulls meanwhile, and the
   * registry keeps trying to become writable on its own.
   */
  async close(runId: string | null): Promise<void> {
    const restart = this.registry.readOnly;
    try {
      if (restart) await this.registry.handOver({ readOnly: false });
    } finally {
      const { count } = await this.db.registry.updateMany({ where: { kind: 'HOSTED', state: 'READ_ONLY' }, data: { state: 'ACTIVE' } });
      if (runId) await this.db.gcRun.updateMany({ where: { id: runId, windowOpenedAt: { not: null }, windowClosedAt: null }, data: { windowClosedAt: new Date() } });
      if (restart || count > 0) this.log.info({ registries: count }, 'registry backend writable again');
    }
  }
}
