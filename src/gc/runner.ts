import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RegistryClient } from '../registry/v2/client.js';
import { RegistryNotFoundError, RegistryUnavailableError } from '../registry/v2/errors.js';
import type { GarbageCollectOptions } from './garbage-collect.js';
import { MarkLedger, type ManifestRevision } from './mark-ledger.js';
import type { GcPhase, GcProgress } from './progress.js';
import type { ReadOnlyWindow } from './read-only-window.js';
import type { ProgressReporter } from '../jobs/progress-reporter.js';
import type { RegistryStorage } from '../registry/hosted/storage.js';
import { untaggedManifests } from './untagged.js';

/** One job a run serves: the registry it was requested for. */
export interface GcRunJob {
  id: string;
  /** The hosted registry's slug: deleteUntagged touches `<slug>/…` only. */
  slug: string;
  deleteUntagged: boolean;
}

/**
 * What a run changed in the backend, for whoever keeps an index of its content (berth's own
 * deletions reach no notification hook). Each is awaited before the run goes on.
 */
export interface GcChanges {
  /** A batch of untagged manifests deleted (deleteUntagged). */
  manifestsDeleted(manifests: ManifestRevision[]): Promise<void>;
  /** The blobs the sweep deleted, verified gone from the storage. */
  blobsDeleted(digests: readonly string[]): Promise<void>;
  /** Repositories left without manifests, removed from the storage (and so from the catalog). */
  repositoriesPruned(repositories: readonly string[]): Promise<void>;
}

/** One run, with everything it acts on. */
export interface GcRunPlan {
  run: { id: string; dryRun: boolean; jobs: GcRunJob[] };
  storage: RegistryStorage;
  client: Pick<RegistryClient, 'deleteManifest'>;
  window: Pick<ReadOnlyWindow, 'open' | 'close'>;
  garbageCollect: (options: Pick<GarbageCollectOptions, 'dryRun' | 'signal' | 'onEvent'>) => Promise<void>;
  progress: GcProgress;
  reporter: Pick<ProgressReporter<unknown>, 'changed' | 'now'>;
  /** The run's logger (it carries the run id). */
  log: Logger;
  /** Aborted to cancel; the run stops at the next safe point and still restores the registry. */
  signal: AbortSignal;
  changes: GcChanges;
  /** Blob sizes known without reading the storage (the content index's); only other blobs are read. */
  knownBlobSizes: () => Promise<ReadonlyMap<string, number>>;
}

/** Manifests deleted at once; indexes go in an earlier batch than the children they reference. */
const DELETE_BATCH = 8;
const DELETE_ATTEMPTS = 3;
const DELETE_RETRY_DELAY_MS = 200;

/**
 * PREPARING → READ_ONLY → MARKING → SWEEPING → RESTORING. The read-only window holds only the mark
 * and the sweep; untagged manifests are deleted before it, through the API, while pushes still
 * work, and the content index's blob sizes are read before it too. RESTORING runs whenever the
 * window was opened, also after a failure or a cancel. Throws what stopped the run (the abort
 * reason when cancelled).
 */
export async function runGc(plan: GcRunPlan): Promise<void> {
  const { run, progress, signal } = plan;
  let windowOpened = false;
  let failure: { error: unknown } | null = null;
  try {
    enter(plan, 'PREPARING');
    const [untagged, indexed] = await Promise.all([removeUntagged(plan), plan.knownBlobSizes()]);
    signal.throwIfAborted();
    if (!run.dryRun) {
      enter(plan, 'READ_ONLY');
      windowOpened = true;
      await plan.window.open(run.id);
      progress.advance(1);
      signal.throwIfAborted();
    }
    await markAndSweep(plan, untagged, indexed);
  } catch (error) {
    failure = { error };
  }
  if (windowOpened) {
    enter(plan, 'RESTORING');
    try {
      await plan.window.close(run.id);
      progress.advance(1);
    } catch (error) {
      failure ??= { error: new Error(`could not make the registry writable again: ${errorMessage(error)}`, { cause: error }) };
    }
  }
  if (failure) throw failure.error;
}

function enter(plan: GcRunPlan, phase: GcPhase): void {
  plan.progress.enter(phase);
  plan.reporter.now();
  plan.log.info({ phase }, 'garbage collection phase');
}

/**
 * Deletes (or, in a dry run, only lists) the untagged manifests of the repositories of each job's
 * registry that asked for it, one repository at a time so that a tag pushed meanwhile is seen as
 * late as possible.
 */
async function removeUntagged(plan: GcRunPlan): Promise<ManifestRevision[]> {
  const { storage, progress, reporter, signal, log } = plan;
  const work: { job: GcRunJob; repository: string }[] = [];
  for (const job of plan.run.jobs.filter((j) => j.deleteUntagged)) {
    for (const repository of await storage.repositories(`${job.slug}/`)) work.push({ job, repository });
  }
  const found: ManifestRevision[] = [];
  for (const [done, { job, repository }] of work.entries()) {
    signal.throwIfAborted();
    const untagged = await untaggedManifests(storage, repository);
    if (untagged === 'unreadable') {
      log.warn({ repository }, 'a tagged manifest is unreadable; leaving the repository’s untagged manifests in place');
      continue;
    }
    const count = (n: number): void => void progress.manifestsDeleted.set(job.id, (progress.manifestsDeleted.get(job.id) ?? 0) + n);
    if (plan.run.dryRun) {
      found.push(...untagged);
      count(untagged.length);
    } else {
      const batches = [untagged.filter((m) => m.isIndex), untagged.filter((m) => !m.isIndex)];
      for (const batch of batches) {
        for (let i = 0; i < batch.length; i += DELETE_BATCH) {
          signal.throwIfAborted();
          const deleted = (await Promise.all(batch.slice(i, i + DELETE_BATCH).map((manifest) => deleteManifest(plan, manifest)))).filter(
            (manifest) => manifest !== null,
          );
          found.push(...deleted);
          await plan.changes.manifestsDeleted(deleted);
          count(deleted.length);
          reporter.changed();
        }
      }
    }
    progress.advance((done + 1) / work.length);
    reporter.changed();
  }
  return found;
}

/**
 * The manifest, or null when it was already gone. distribution 2.8 answers 500 when a DELETE's tag
 * lookup races a tag being pushed into the same repository, so a 5xx is tried again a few times.
 */
async function deleteManifest(plan: GcRunPlan, manifest: ManifestRevision): Promise<ManifestRevision | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      await plan.client.deleteManifest(manifest.repository, manifest.digest);
      return manifest;
    } catch (error) {
      if (error instanceof RegistryNotFoundError) return null;
      if (!(error instanceof RegistryUnavailableError) || attempt >= DELETE_ATTEMPTS) throw error;
      plan.log.warn({ err: error, repository: manifest.repository, digest: manifest.digest, attempt }, 'retrying an untagged manifest delete');
      await sleep(DELETE_RETRY_DELAY_MS * attempt, undefined, { signal: plan.signal });
    }
  }
}

/**
 * Runs garbage-collect and keeps the counts in step with its output. Afterwards `bytesFreed` is
 * the sizes, taken before the sweep, of the eligible blobs that are gone (see countFreed; a cancel
 * may stop the sweep half-way). A dry run counts the sizes of the blobs a real run would delete
 * instead.
 */
async function markAndSweep(plan: GcRunPlan, untagged: readonly ManifestRevision[], indexed: ReadonlyMap<string, number>): Promise<void> {
  const { run, storage, progress, reporter, signal } = plan;
  enter(plan, 'MARKING');
  // Inside the window (a dry run has none), so that no blob is stored after the sizes were taken;
  // only blobs the index does not know are read from the storage.
  const sizes = await storage.blobSizes(indexed);
  progress.blobsTotal = sizes.size;
  reporter.changed();
  const ledger = new MarkLedger();
  await storage.ensureLayout();
  // Read alongside the mark: garbage-collect (never with --delete-untagged) removes no repository
  // and no manifest link, so what is empty now is what is empty after the sweep.
  let repositoryCount = 0;
  const surveyed = storage
    .repositories()
    .then(async (repositories) => {
      repositoryCount = repositories.length;
      return { empty: run.dryRun ? [] : await emptyRepositories(plan, repositories) };
    })
    .catch((error: unknown) => ({ error }));

  let failure: { error: unknown } | null = null;
  try {
    await plan.garbageCollect({
      dryRun: run.dryRun,
      signal,
      onEvent: (event) => {
        ledger.apply(event);
        if (event.kind === 'summary') {
          progress.blobsMarked = event.blobsMarked;
          enter(plan, 'SWEEPING');
          return;
        }
        if (progress.phase === 'MARKING') {
          progress.blobsMarked = ledger.marked.size;
          progress.advance(ledger.repositoriesSeen / Math.max(1, repositoryCount));
        } else {
          const swept = run.dryRun ? ledger.eligible.length : ledger.deleted;
          progress.blobsDeleted = swept;
          progress.advance(swept / Math.max(1, ledger.summary?.blobsEligible ?? 0));
        }
        reporter.changed();
      },
    });
  } catch (error) {
    failure = { error };
  }
  const survey = await surveyed;
  if ('error' in survey) failure ??= survey;

  if (run.dryRun) {
    if (failure) throw failure.error;
    const outcome = untagged.length > 0 ? ledger.without(untagged, sizes.keys()) : { marked: null, eligible: ledger.eligible };
    if (outcome.marked) progress.blobsMarked = outcome.marked.size;
    progress.blobsDeleted = outcome.eligible.length;
    progress.bytesFreed = sum(outcome.eligible.map((digest) => sizes.get(digest) ?? 0));
  } else {
    const counted = countFreed(plan, ledger.eligible, sizes, failure === null);
    const pruned = failure || 'error' in survey ? Promise.resolve() : pruneEmptyRepositories(plan, survey.empty);
    await Promise.all([counted, pruned]);
    if (failure) throw failure.error;
  }
  progress.advance(1);
  reporter.changed();
}

/**
 * The blobs the sweep deleted, with their sizes taken before it. After a clean exit (`completed`)
 * that is every eligible blob: garbage-collect stops at the first one it cannot delete. After a
 * failure or a cancel, the storage says which of them are gone.
 */
async function countFreed(plan: GcRunPlan, eligible: readonly string[], sizes: ReadonlyMap<string, number>, completed: boolean): Promise<void> {
  const { storage, progress } = plan;
  const freed = completed
    ? eligible
    : (await Promise.all(eligible.map(async (digest) => ((await storage.hasBlob(digest)) ? null : digest)))).filter((digest): digest is string => digest !== null);
  progress.blobsDeleted = freed.length;
  progress.bytesFreed = sum(freed.map((digest) => sizes.get(digest) ?? 0));
  if (freed.length > 0) await plan.changes.blobsDeleted(freed);
}

/** Of `repositories` (every one on the backend), those of the run's registries that hold no manifest. */
async function emptyRepositories(plan: GcRunPlan, repositories: readonly string[]): Promise<string[]> {
  const prefixes = plan.run.jobs.map((job) => `${job.slug}/`);
  const own = repositories.filter((repository) => prefixes.some((prefix) => repository.startsWith(prefix)));
  const holding = await Promise.all(own.map((repository) => plan.storage.holdsManifests(repository)));
  return own.filter((_, i) => !holding[i]);
}

/**
 * A repository whose manifests are all gone stays in the catalog forever: the API cannot delete
 * it, and garbage-collect leaves its links. Removing its directory is safe only now, read-only.
 */
async function pruneEmptyRepositories(plan: GcRunPlan, empty: readonly string[]): Promise<void> {
  if (empty.length === 0) return;
  for (const repository of empty) await plan.storage.removeRepository(repository);
  plan.log.info({ repositories: empty }, 'pruned repositories left without manifests');
  await plan.changes.repositoriesPruned(empty);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
