import type { Logger } from 'pino';

/**
 * Turns progress changes into saved-and-published job updates (GC runs, cleanup jobs): at once for
 * a phase change, at most every `intervalMs` while counts move. Saves run one after another, so the
 * database and the event stream see the states in the order they happened.
 */
export class ProgressReporter<Fields> {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    private readonly progress: { fields(): Fields },
    private readonly save: (fields: Fields) => Promise<void>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Counts moved: reported within `intervalMs`. */
  changed(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => this.now(), this.intervalMs);
  }

  /** Reports the current state now (after any report in flight). */
  now(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    const fields = this.progress.fields();
    this.chain = this.chain.then(() => this.save(fields)).catch((error: unknown) => this.log.warn({ err: error }, 'could not save progress'));
  }

  /** Resolves once everything reported so far is saved; a change still waiting for its interval is reported first. */
  async settled(): Promise<void> {
    if (this.dirty) this.now();
    await this.chain;
  }
}
