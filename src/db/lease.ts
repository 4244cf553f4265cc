import type { Logger } from 'pino';

export interface LeaseTiming {
  /** How long a lease holds without renewal: after that the work counts as abandoned. */
  ttlMs: number;
  /** How often running work renews it; well below `ttlMs`. */
  renewEveryMs: number;
}

export type LeaseEnd = 'lost' | 'cancel-requested';

/** The row a lease is held on (a GC run, a cleanup job), as the lease needs to see it. */
export interface LeasedRow {
  /** Extends the lease to `expiresAt`; false when the row is no longer this owner's running row. */
  renew(expiresAt: Date): Promise<boolean>;
  /** Whether a stop was asked for, on any berth instance. */
  cancelRequested(): Promise<boolean>;
}

/**
 * Keeps a running row's lease alive and watches it: `onEnd('lost')` when the row stopped being this
 * owner's running row (recovery elsewhere marked it INTERRUPTED), `onEnd('cancel-requested')` when a
 * stop was asked for.
 */
export function holdLease(row: LeasedRow, timing: LeaseTiming, log: Logger, onEnd: (end: LeaseEnd) => void): { release(): void } {
  let timer: NodeJS.Timeout | undefined;
  let released = false;

  const renew = async (): Promise<void> => {
    try {
      const held = await row.renew(new Date(Date.now() + timing.ttlMs));
      if (released) return;
      if (!held) return onEnd('lost');
      if (await row.cancelRequested()) onEnd('cancel-requested');
    } catch (error) {
      // A missed renewal is survivable: the lease outlives several of them.
      log.warn({ err: error }, 'could not renew a lease');
    }
    if (!released) timer = setTimeout(() => void renew(), timing.renewEveryMs);
  };
  timer = setTimeout(() => void renew(), timing.renewEveryMs);

  return {
    release: () => {
      released = true;
      clearTimeout(timer);
    },
  };
}
