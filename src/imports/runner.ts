import type { Logger } from 'pino';
import type { ProgressReporter } from '../jobs/progress-reporter.js';
import { type BlobEndpoint, copyBlob } from './blob-copy.js';
import { type ImportPlan, type PlannedBlob, planImport } from './import-plan.js';
import type { ImportPhase, ImportProgress } from './progress.js';

/** One import, with everything it acts on. */
export interface ImportRun {
  source: BlobEndpoint & { reference: string };
  target: BlobEndpoint & { tag: string | null };
  /** Source and target share one backend: blobs are mounted across repositories, never copied. */
  sameBackend: boolean;
  /** The refusal when storing `bytes` more would pass the target's quota; null when it fits. */
  quotaRefusal: (bytes: number) => Promise<string | null>;
  progress: ImportProgress;
  reporter: Pick<ProgressReporter<unknown>, 'changed' | 'now'>;
  log: Logger;
  /** Aborted to cancel: blobs in flight stop, nothing more is written. */
  signal: AbortSignal;
}

/** Blobs copied at once: enough to fill the link, as docker and skopeo do, without flooding the source. */
const PARALLEL_BLOBS = 4;

/** An import fails with this when the target has no room: before anything is copied. */
export class ImportQuotaError extends Error {}

/**
 * RESOLVING → COPYING → MANIFESTS. Reads what the reference names, skips the blobs the target
 * already holds (so running an import again after a failure resumes it), refuses before copying if
 * the rest would pass the target's quota, copies the blobs (streamed and verified, or mounted within
 * one backend), then puts every manifest's exact bytes, children before their index, the top one
 * under the target tag. Resolves with the imported digest; throws what stopped it.
 */
export async function runImport(run: ImportRun): Promise<string> {
  const { progress, signal } = run;
  enter(run, 'RESOLVING');
  const plan = await planImport(run.source.client, run.source.repository, run.source.reference);
  progress.digest = plan.digest;
  progress.blobsTotal = plan.blobs.length;
  progress.bytesTotal = sum(plan.blobs.map((blob) => blob.size));
  const missing = await missingBlobs(run, plan);
  signal.throwIfAborted();
  const needed = sum(missing.map((blob) => blob.size)) + sum(plan.manifests.map((manifest) => manifest.bytes.byteLength));
  const refusal = await run.quotaRefusal(needed);
  if (refusal !== null) throw new ImportQuotaError(`${refusal}; the import needs ${needed} bytes more`);

  enter(run, 'COPYING');
  await inParallel(missing, PARALLEL_BLOBS, signal, (blob, stop) => copyOne(run, blob, stop));
  signal.throwIfAborted();

  enter(run, 'MANIFESTS');
  const target = run.target.client;
  for (const [i, manifest] of plan.manifests.entries()) {
    signal.throwIfAborted();
    const reference = manifest.digest === plan.digest ? (run.target.tag ?? manifest.digest) : manifest.digest;
    await target.putManifest(run.target.repository, reference, manifest.mediaType, manifest.bytes);
    progress.advance((i + 1) / plan.manifests.length);
    run.reporter.changed();
  }
  return plan.digest;
}

function enter(run: ImportRun, phase: ImportPhase): void {
  run.progress.enter(phase);
  run.reporter.now();
  run.log.info({ phase }, 'import phase');
}

/** The blobs the target repository does not hold yet; the others count as skipped. */
async function missingBlobs(run: ImportRun, plan: ImportPlan): Promise<PlannedBlob[]> {
  const present = await Promise.all(plan.blobs.map((blob) => run.target.client.headBlob(run.target.repository, blob.digest)));
  const missing = plan.blobs.filter((_, i) => present[i] === null);
  for (const blob of plan.blobs.filter((_, i) => present[i] !== null)) {
    run.progress.blobsSkipped += 1;
    run.progress.bytesSkipped += blob.size;
  }
  return missing;
}

async function copyOne(run: ImportRun, blob: PlannedBlob, signal: AbortSignal): Promise<void> {
  const { progress, reporter } = run;
  if (run.sameBackend && (await run.target.client.mountBlob(run.target.repository, blob.digest, run.source.repository))) {
    progress.bytesCopied += blob.size;
  } else {
    const moved = (count: number): void => {
      progress.bytesCopied += count;
      progress.advance();
      reporter.changed();
    };
    await copyBlob(run.source, run.target, blob, moved, signal);
  }
  progress.blobsCopied += 1;
  progress.advance();
  reporter.changed();
}

/**
 * Works through `items` on `width` lanes. The first failure stops the others (their transfers are
 * aborted) and is thrown once every lane has settled, so nothing keeps writing behind a failed job.
 */
async function inParallel<T>(items: readonly T[], width: number, signal: AbortSignal, work: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const forward = (): void => stop.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && !stop.signal.aborted) {
      try {
        await work(items[next++]!, stop.signal);
      } catch (error) {
        stop.abort(error);
        throw error;
      }
    }
  };
  try {
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(width, items.length) }, lane));
    const failed = lanes.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    signal.removeEventListener('abort', forward);
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
