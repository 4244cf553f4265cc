import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RegistryClient } from '../registry/v2/client.js';
import { RegistryNotFoundError, RegistryUnavailableError } from '../registry/v2/errors.js';
import type { GarbageCollectOptions } from './garbage-collect.js';
import { MarkLedger, type ManifestRevision } from './mark-ledger.js';
import type { GcPhase, GcProgress } from './progress.js';
import type { ReadOnlyWindow } from './read-only-window.js';
import type { ProgressReporter } from './reporter.js';
import type { RegistryStorage } from '../registry/hosted/storage.js';
import { untaggedManifests } from './untagged.js';

/** One job's run, with everything it acts on. */
export interface GcRun {
  job: { id: string; dryRun: boolean; deleteUntagged: boolean };
  /** The hosted registry's slug: deleteUntagged touches `<slug>/…` only. */
  slug: string;
  storage: RegistryStorage;
  client: Pick<RegistryClient, 'deleteManifest'>;
  window: Pick<ReadOnlyWindow, 'open' | 'close'>;
  garbageCollect: (options: Pick<GarbageCollectOptions, 'dryRun' | 'signal' | 'onEvent'>) => Promise<void>;
  progress: GcProgress;
  reporter: Pick<ProgressReporter, 'changed' | 'now'>;
  /** The job's logger (it carries the job id). */
  log: Logger;
  /** Aborted to cancel; the run stops at the next safe point and still restores the registry. */
  signal: AbortSignal;
  /** Told of each batch of untagged manifests deleted, for the activity index (the hook skips berth's own deletions). */
  onManifestsDeleted: (manifests: ManifestRevision[]) => Promise<void>;
}

/** Manifests deleted at once; indexes go in an earlier batch than the children they reference. */
const DELETE_BATCH = 8;
const DELETE_ATTEMPTS = 3;
const DELETE_RETRY_DELAY_MS = 200;

/**
 * PREPARING → READ_ONLY → MARKING → SWEEPING → RESTORING. The read-only window holds only the mark
 * and the sweep; untagged manifests are deleted before it, through the API, while pushes still
 * work. RESTORING runs whenever the window was opened, also after a failure or a cancel. Throws
 * what stopped the run (the abort reason when cancelled).
 */
export async function runGcJob(run: GcRun): Promise<void> {
  const { job, progress, reporter, signal } = run;
  let windowOpened = false;
  let failure: { error: unknown } | null = null;
  try {
    enter(run, 'PREPARING');
    const untagged = job.deleteUntagged ? await removeUntagged(run) : [];
    signal.throwIfAborted();
    if (!job.dryRun) {
      enter(run, 'READ_ONLY');
      windowOpened = true;
      await run.window.open(job.id);
      progress.advance(1);
      signal.throwIfAborted();
    }
    await markAndSweep(run, untagged);
  } catch (error) {
    failure = { error };
  }
  if (windowOpened) {
    enter(run, 'RESTORING');
    try {
      await run.window.close();
      progress.advance(1);
    } catch (error) {
      failure ??= { error: new Error(`could not make the registry writable again: ${errorMessage(error)}`, { cause: error }) };
    }
  }
  if (failure) throw failure.error;
}

function enter(run: GcRun, phase: GcPhase): void {
  run.progress.enter(phase);
  run.reporter.now();
  run.log.info({ phase }, 'garbage collection phase');
}

/**
 * Deletes (or, in a dry run, only lists) the untagged manifests of the registry's repositories,
 * one repository at a time so that a tag pushed meanwhile is seen as late as possible.
 */
async function removeUntagged(run: GcRun): Promise<ManifestRevision[]> {
  const { storage, progress, reporter, signal, log } = run;
  const repositories = await storage.repositories(`${run.slug}/`);
  const found: ManifestRevision[] = [];
  for (const [done, repository] of repositories.entries()) {
    signal.throwIfAborted();
    const untagged = await untaggedManifests(storage, repository);
    if (untagged === 'unreadable') {
      log.warn({ repository }, 'a tagged manifest is unreadable; leaving the repository’s untagged manifests in place');
      continue;
    }
    if (run.job.dryRun) {
      found.push(...untagged);
      progress.manifestsDeleted += untagged.length;
    } else {
      const batches = [untagged.filter((m) => m.isIndex), untagged.filter((m) => !m.isIndex)];
      for (const batch of batches) {
        for (let i = 0; i < batch.length; i += DELETE_BATCH) {
          signal.throwIfAborted();
          const deleted = (await Promise.all(batch.slice(i, i + DELETE_BATCH).map((manifest) => deleteManifest(run, manifest)))).filter(
            (manifest) => manifest !== null,
          );
          found.push(...deleted);
          await run.onManifestsDeleted(deleted);
          progress.manifestsDeleted = found.length;
          reporter.changed();
        }
      }
    }
    progress.advance((done + 1) / repositories.length);
    reporter.changed();
  }
  return found;
}

/**
 * The manifest, or null when it was already gone. distribution 2.8 answers 500 when a DELETE's tag
 * lookup races a tag being pushed into the same repository, so a 5xx is tried again a few times.
 */
async function deleteManifest(run: GcRun, manifest: ManifestRevision): Promise<ManifestRevision | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run.client.deleteManifest(manifest.repository, manifest.digest);
      return manifest;
    } catch (error) {
      if (error instanceof RegistryNotFoundError) return null;
      if (!(error instanceof RegistryUnavailableError) || attempt >= DELETE_ATTEMPTS) throw error;
      run.log.warn({ err: error, repository: manifest.repository, digest: manifest.digest, attempt }, 'retrying an untagged manifest delete');
      await sleep(DELETE_RETRY_DELAY_MS * attempt, undefined, { signal: run.signal });
    }
  }
}

/**
 * Runs garbage-collect and keeps the counts in step with its output. Afterwards `bytesFreed` is
 * what the file system says: the sizes, taken before the sweep, of the eligible blobs that are gone
 * now (also after a cancel, which may stop the sweep half-way). A dry run counts the sizes of the
 * blobs a real run would delete instead.
 */
async function markAndSweep(run: GcRun, untagged: readonly ManifestRevision[]): Promise<void> {
  const { job, storage, progress, reporter, signal } = run;
  enter(run, 'MARKING');
  const [sizes, repositories] = await Promise.all([storage.blobSizes(), storage.repositories()]);
  progress.blobsTotal = sizes.size;
  reporter.changed();
  const ledger = new MarkLedger();
  await storage.ensureLayout();

  let failure: { error: unknown } | null = null;
  try {
    await run.garbageCollect({
      dryRun: job.dryRun,
      signal,
      onEvent: (event) => {
        ledger.apply(event);
        if (event.kind === 'summary') {
          progress.blobsMarked = event.blobsMarked;
          enter(run, 'SWEEPING');
          return;
        }
        if (progress.phase === 'MARKING') {
          progress.blobsMarked = ledger.marked.size;
          progress.advance(ledger.repositoriesSeen / Math.max(1, repositories.length));
        } else {
          const swept = job.dryRun ? ledger.eligible.length : ledger.deleted;
          progress.blobsDeleted = swept;
          progress.advance(swept / Math.max(1, ledger.summary?.blobsEligible ?? 0));
        }
        reporter.changed();
      },
    });
  } catch (error) {
    failure = { error };
  }

  if (job.dryRun) {
    if (failure) throw failure.error;
    const outcome = untagged.length > 0 ? ledger.without(untagged, sizes.keys()) : { marked: null, eligible: ledger.eligible };
    if (outcome.marked) progress.blobsMarked = outcome.marked.size;
    progress.blobsDeleted = outcome.eligible.length;
    progress.bytesFreed = sum(outcome.eligible.map((digest) => sizes.get(digest) ?? 0));
  } else {
    const gone = await Promise.all(ledger.eligible.map(async (digest) => ((await storage.hasBlob(digest)) ? null : digest)));
    const freed = gone.filter((digest): digest is string => digest !== null);
    progress.blobsDeleted = freed.length;
    progress.bytesFreed = sum(freed.map((digest) => sizes.get(digest) ?? 0));
    if (failure) throw failure.error;
    await pruneEmptyRepositories(run);
  }
  progress.advance(1);
  reporter.changed();
}

/**
 * A repository whose manifests are all gone stays in the catalog forever: the API cannot delete
 * it, and garbage-collect leaves its links. Removing its directory is safe only now, read-only.
 */
async function pruneEmptyRepositories(run: GcRun): Promise<void> {
  const { storage } = run;
  const pruned: string[] = [];
  for (const repository of await storage.repositories(`${run.slug}/`)) {
    if ((await storage.revisions(repository)).length > 0) continue;
    await storage.removeRepository(repository);
    pruned.push(repository);
  }
  if (pruned.length > 0) run.log.info({ repositories: pruned }, 'pruned repositories left without manifests');
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
