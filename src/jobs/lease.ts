import type { Logger } from 'pino';

export interface LeaseTiming {
  /** How long a lease holds without renewal: after that the work counts as abandoned. */
  ttlMs: number;
  /** How often running work renews it; well below `ttlMs`. */
  renewEveryMs: number;
}

/** What a renewal found: still ours, taken from us (recovery elsewhere), or asked to stop. */
export type LeaseState = 'held' | 'lost' | 'cancel-requested';

/**
 * Keeps running work's lease alive, so other berth instances know it is not abandoned, and watches
 * for the two ends that come from outside: `onEnd('lost')` when the row stopped being this owner's
 * running work, `onEnd('cancel-requested')` when a cancel was asked for on any instance. `renew`
 * extends the lease in the database and reports which it is.
 */
export function holdLease(
  renew: () => Promise<LeaseState>,
  timing: LeaseTiming,
  log: Logger,
  onEnd: (end: Exclude<LeaseState, 'held'>) => void,
): { release(): void } {
  let timer: NodeJS.Timeout | undefined;
  let released = false;

  const tick = async (): Promise<void> => {
    try {
      const state = await renew();
      if (released) return;
      if (state !== 'held') onEnd(state);
    } catch (error) {
      // A missed renewal is survivable: the lease outlives several of them.
      log.warn({ err: error }, 'could not renew a lease');
    }
    if (!released) timer = setTimeout(() => void tick(), timing.renewEveryMs);
  };
  timer = setTimeout(() => void tick(), timing.renewEveryMs);

  return {
    release: () => {
      released = true;
      clearTimeout(timer);
    },
  };
}
