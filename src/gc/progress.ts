import type { GcJob } from '../generated/prisma/client.js';
import type { GcStatus } from '../generated/prisma/enums.js';

/** The phases a run goes through, in order. A dry run writes nothing, so it skips the read-only window. */
export const GC_PHASES = ['QUEUED', 'PREPARING', 'READ_ONLY', 'MARKING', 'SWEEPING', 'RESTORING'] as const;
export type GcPhase = (typeof GC_PHASES)[number];

export const TERMINAL_STATUSES: readonly GcStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];

export function isTerminal(status: GcStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The share of `percent` each phase covers, as [start, end]; the time each takes decides the split. */
const PERCENT_RANGES: Record<'real' | 'dry', Partial<Record<GcPhase, [number, number]>>> = {
  real: { PREPARING: [0, 10], READ_ONLY: [10, 15], MARKING: [15, 55], SWEEPING: [55, 95], RESTORING: [95, 99] },
  dry: { PREPARING: [0, 10], MARKING: [10, 80], SWEEPING: [80, 99] },
};

/** The columns of a GcJob that a run changes while it goes. */
export type GcProgressFields = Pick<
  GcJob,
  'phase' | 'percent' | 'blobsTotal' | 'blobsMarked' | 'blobsDeleted' | 'manifestsDeleted' | 'bytesFreed'
>;

/** What a run reports: the same for every job it serves, except the untagged manifests each job's registry lost. */
export type GcRunProgressFields = Omit<GcProgressFields, 'manifestsDeleted'> & { manifestsDeleted: ReadonlyMap<string, number> };

/**
 * The live state of one run. Phase and `percent` only move forward and counts grow within a phase,
 * which is what lets a subscriber drop a stale event (see isNewer). Blob counts are the backend's;
 * `manifestsDeleted` is kept per job (its registry's untagged manifests).
 */
export class GcProgress {
  phase: GcPhase = 'QUEUED';
  blobsTotal = 0;
  blobsMarked = 0;
  blobsDeleted = 0;
  readonly manifestsDeleted = new Map<string, number>();
  bytesFreed = 0;
  private percent = 0;

  constructor(private readonly dryRun: boolean) {}

  enter(phase: GcPhase): void {
    this.phase = phase;
    this.advance(0);
  }

  /** `fraction` (0..1) of the current phase is done. */
  advance(fraction: number): void {
    const range = PERCENT_RANGES[this.dryRun ? 'dry' : 'real'][this.phase];
    if (!range) return;
    const [start, end] = range;
    const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    this.percent = Math.max(this.percent, Math.round((start + (end - start) * clamped) * 10) / 10);
  }

  /** Also ends at 100 when the run failed or was stopped: percent says how far the job is from over. */
  finish(): void {
    this.percent = 100;
  }

  fields(): GcRunProgressFields {
    return {
      phase: this.phase,
      percent: this.percent,
      blobsTotal: this.blobsTotal,
      blobsMarked: this.blobsMarked,
      blobsDeleted: this.blobsDeleted,
      manifestsDeleted: new Map(this.manifestsDeleted),
      bytesFreed: BigInt(this.bytesFreed),
    };
  }

  /** One job's columns. */
  jobFields(jobId: string): GcProgressFields {
    return { ...this.fields(), manifestsDeleted: this.manifestsDeleted.get(jobId) ?? 0 };
  }
}

const STATUS_ORDER: Record<GcStatus, number> = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2, INTERRUPTED: 2 };

/**
 * Whether `next` is a later state of the same job than `previous`. Every compared field only grows
 * during a run, so comparing them in order tells a newer event from a stale or repeated one, e.g.
 * one published between a subscriber's snapshot read and its first live event.
 */
export function isNewer(next: GcJob, previous: GcJob): boolean {
  const key = (job: GcJob): number[] => [
    STATUS_ORDER[job.status],
    GC_PHASES.indexOf(job.phase as GcPhase),
    job.percent,
    job.blobsMarked,
    job.blobsDeleted,
    job.manifestsDeleted,
    job.blobsTotal,
  ];
  const a = key(next);
  const b = key(previous);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
