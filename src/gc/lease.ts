import type { Logger } from 'pino';
import type { Db } from '../db/client.js';

export interface LeaseTiming {
  /** How long a lease holds without renewal: after that the job counts as abandoned. */
  ttlMs: number;
  /** How often a running job renews it; well below `ttlMs`. */
  renewEveryMs: number;
}

export type LeaseEnd = 'lost' | 'cancel-requested';

/**
 * Keeps a RUNNING run's lease alive and watches its row: `onEnd('lost')` when the row stopped being
 * this owner's running run (recovery elsewhere marked it INTERRUPTED), `onEnd('cancel-requested')`
 * when every job it served was cancelled, on any berth instance.
 */
export function holdLease(
  db: Db,
  runId: string,
  owner: string,
  timing: LeaseTiming,
  log: Logger,
  onEnd: (end: LeaseEnd) => void,
): { release(): void } {
  let timer: NodeJS.Timeout | undefined;
  let released = false;

  const renew = async (): Promise<void> => {
    try {
      const { count } = await db.gcRun.updateMany({
        where: { id: runId, status: 'RUNNING', leaseOwner: owner },
        data: { leaseExpiresAt: new Date(Date.now() + timing.ttlMs) },
      });
      if (released) return;
      if (count === 0) return onEnd('lost');
      const row = await db.gcRun.findUnique({ where: { id: runId }, select: { cancelRequested: true } });
      if (row?.cancelRequested) onEnd('cancel-requested');
    } catch (error) {
      // A missed renewal is survivable: the lease outlives several of them.
      log.warn({ err: error, runId }, 'could not renew the GC run lease');
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
