import type { ImportJob } from '../generated/prisma/client.js';
import type { ImportStatus } from '../generated/prisma/enums.js';

/** The phases an import goes through, in order. */
export const IMPORT_PHASES = ['QUEUED', 'RESOLVING', 'COPYING', 'MANIFESTS', 'DONE'] as const;
export type ImportPhase = (typeof IMPORT_PHASES)[number];

export const TERMINAL_IMPORT_STATUSES: readonly ImportStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];

export function isTerminalImport(status: ImportStatus): boolean {
  return TERMINAL_IMPORT_STATUSES.includes(status);
}

/** The columns an import changes while it runs. */
export type ImportProgressFields = Pick<ImportJob, 'phase' | 'percent' | 'bytesTotal' | 'bytesCopied' | 'blobsTotal' | 'blobsCopied' | 'blobsSkipped' | 'digest'>;

/** Where each phase's share of `percent` starts and ends: copying blobs is nearly all the time. */
const PERCENT_RANGES: Partial<Record<ImportPhase, [number, number]>> = { RESOLVING: [0, 3], COPYING: [3, 97], MANIFESTS: [97, 99] };

/**
 * The live state of one import. `percent` only rises: it follows the bytes that arrived or were
 * found already there, within the phase's share.
 */
export class ImportProgress {
  phase: ImportPhase = 'QUEUED';
  bytesTotal = 0;
  bytesCopied = 0;
  /** Bytes of blobs the target already had: done without moving. */
  bytesSkipped = 0;
  blobsTotal = 0;
  blobsCopied = 0;
  blobsSkipped = 0;
  digest: string | null = null;
  private percent = 0;

  enter(phase: ImportPhase): void {
    this.phase = phase;
    this.advance(0);
  }

  /** Recomputes `percent` from the bytes in hand, or from `fraction` of a phase without bytes. */
  advance(fraction = (this.bytesCopied + this.bytesSkipped) / Math.max(1, this.bytesTotal)): void {
    const range = PERCENT_RANGES[this.phase];
    if (!range) return;
    const [start, end] = range;
    const clamped = Math.min(1, Math.max(0, fraction));
    this.percent = Math.max(this.percent, Math.round((start + (end - start) * clamped) * 10) / 10);
  }

  finish(): void {
    this.percent = 100;
  }

  fields(): ImportProgressFields {
    return {
      phase: this.phase,
      percent: this.percent,
      bytesTotal: BigInt(this.bytesTotal),
      bytesCopied: BigInt(this.bytesCopied),
      blobsTotal: this.blobsTotal,
      blobsCopied: this.blobsCopied,
      blobsSkipped: this.blobsSkipped,
      digest: this.digest,
    };
  }
}

/** Whether `next` may follow `previous` on a progress stream: a later phase or more done, never less. */
export function isNewerImport(next: Pick<ImportJob, 'status' | 'percent'>, previous: Pick<ImportJob, 'status' | 'percent'>): boolean {
  if (isTerminalImport(previous.status)) return false;
  return isTerminalImport(next.status) || next.percent >= previous.percent;
}
