import type { CleanupJob, GcJob } from '../generated/prisma/client.js';
import type { CleanupStatus } from '../generated/prisma/enums.js';

/**
 * The phases of a cleanup job, in order: it plans, deletes the tags, then follows the garbage
 * collection it requested through that job's own phases. A dry run only plans.
 */
export const CLEANUP_PHASES = ['QUEUED', 'PLANNING', 'DELETING', 'GC_QUEUED', 'GC_PREPARING', 'GC_READ_ONLY', 'GC_MARKING', 'GC_SWEEPING', 'GC_RESTORING'] as const;
export type CleanupPhase = (typeof CLEANUP_PHASES)[number];

const TERMINAL: readonly CleanupStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];
const STATUS_ORDER: Record<CleanupStatus, number> = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2, INTERRUPTED: 2 };

/** Where `percent` stands at the start and end of each stretch. */
const PLANNED = 5;
const DELETED = 50;
const GC_END = 99;

export function isTerminal(status: CleanupStatus): boolean {
  return TERMINAL.includes(status);
}

/** The columns a running job changes. */
export type CleanupProgressFields = Pick<CleanupJob, 'phase' | 'percent' | 'tagsTotal' | 'tagsDeleted'>;

/** The live state of one job; phase and `percent` only move forward, `tagsDeleted` only grows. */
export class CleanupProgress {
  phase: CleanupPhase = 'QUEUED';
  tagsTotal = 0;
  tagsDeleted = 0;
  private percent = 0;

  enter(phase: 'PLANNING' | 'DELETING' | 'GC_QUEUED'): void {
    this.phase = phase;
    this.raise({ PLANNING: 0, DELETING: PLANNED, GC_QUEUED: DELETED }[phase]);
  }

  /** `count` more tags deleted, of `tagsTotal`. */
  deleted(count: number): void {
    this.tagsDeleted += count;
    this.raise(PLANNED + ((DELETED - PLANNED) * this.tagsDeleted) / Math.max(1, this.tagsTotal));
  }

  /** The garbage collection's own state: its phase, and its percent mapped onto the last stretch. */
  collecting(gc: Pick<GcJob, 'phase' | 'percent'>): void {
    this.phase = `GC_${gc.phase}` as CleanupPhase;
    this.raise(DELETED + ((GC_END - DELETED) * gc.percent) / 100);
  }

  /** Ends at 100 however the job ended. */
  finish(): void {
    this.percent = 100;
  }

  fields(): CleanupProgressFields {
    return { phase: this.phase, percent: this.percent, tagsTotal: this.tagsTotal, tagsDeleted: this.tagsDeleted };
  }

  private raise(percent: number): void {
    this.percent = Math.max(this.percent, Math.min(GC_END, Math.round(percent * 10) / 10));
  }
}

/**
 * Whether `next` is a later state of the same job than `previous`; every compared field only grows
 * during a run, so a stale or repeated event (one published between a subscriber's snapshot read
 * and its first live event) is told apart.
 */
export function isNewer(next: CleanupJob, previous: CleanupJob): boolean {
  const key = (job: CleanupJob): number[] => [STATUS_ORDER[job.status], CLEANUP_PHASES.indexOf(job.phase as CleanupPhase), job.percent, job.tagsDeleted];
  const a = key(next);
  const b = key(previous);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
