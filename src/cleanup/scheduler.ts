import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { CleanupJob } from '../generated/prisma/client.js';
import { CleanupAlreadyRunningError } from './errors.js';
import type { CleanupJobs } from './jobs.js';
import { nextRun } from './schedule.js';

const MIN_GAP_MS = 1_000;

export interface CleanupSchedulerOptions {
  /** How often every instance looks for due policies, at the latest. @default 30_000 */
  pollIntervalMs?: number;
}

/**
 * Starts scheduled cleanups. Every instance looks; a policy's due run is started by the one that
 * moves its `nextRunAt` on first (a compare-and-set in the database), so each occurrence runs once
 * however many instances run. Occurrences missed while no instance ran collapse into one run.
 * Each look also ends the jobs of instances that died (CleanupJobs.recover).
 */
export class CleanupScheduler {
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: { db: Db; log: Logger; jobs: Pick<CleanupJobs, 'enqueue' | 'recover'> },
    options: CleanupSchedulerOptions = {},
  ) {
    this.log = deps.log.child({ component: 'cleanup-scheduler' });
    this.pollIntervalMs = options.pollIntervalMs ?? 30_000;
  }

  start(): void {
    this.wakeIn(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Starts the runs due at `now` that no other instance started first; returns the jobs started here. */
  async runDue(now = new Date()): Promise<CleanupJob[]> {
    const { db, jobs } = this.deps;
    await jobs.recover();
    const due = await db.cleanupPolicy.findMany({ where: { enabled: true, schedule: { not: null }, nextRunAt: { lte: now } } });
    const started: CleanupJob[] = [];
    for (const policy of due) {
      const claimed = await db.cleanupPolicy.updateMany({
        where: { id: policy.id, nextRunAt: policy.nextRunAt },
        data: { nextRunAt: nextRun(policy.schedule!, now) },
      });
      if (claimed.count === 0) continue;
      try {
        started.push(await jobs.enqueue({ registryId: policy.registryId, dryRun: false, trigger: 'SCHEDULE', requestedById: policy.updatedById }));
      } catch (error) {
        if (!(error instanceof CleanupAlreadyRunningError)) throw error;
        this.log.info({ registryId: policy.registryId, jobId: error.job.id }, 'scheduled cleanup skipped: the previous one has not ended');
      }
    }
    return started;
  }

  private wakeIn(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
      });
    }, ms);
    this.timer.unref();
  }

  /** Looks now, then again at the next due run or the poll interval, whichever comes first. */
  private async tick(): Promise<void> {
    try {
      await this.runDue();
    } catch (error) {
      this.log.error({ err: error }, 'could not start scheduled cleanups');
    }
    const next = await this.deps.db.cleanupPolicy
      .findFirst({ where: { enabled: true, schedule: { not: null }, nextRunAt: { not: null } }, orderBy: { nextRunAt: 'asc' }, select: { nextRunAt: true } })
      .catch(() => null);
    const dueIn = next?.nextRunAt ? next.nextRunAt.getTime() - Date.now() : this.pollIntervalMs;
    // At least a second apart, so a database that keeps failing is not asked in a loop.
    this.wakeIn(Math.max(MIN_GAP_MS, Math.min(this.pollIntervalMs, dueIn)));
  }
}
