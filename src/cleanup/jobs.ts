import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { holdLease, type LeaseState, type LeaseTiming } from '../jobs/lease.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { GcAlreadyRunningError } from '../gc/errors.js';
import type { BackendMaintenance } from '../gc/maintenance.js';
import { isTerminal as isGcTerminal } from '../gc/progress.js';
import type { GcQueue } from '../gc/queue.js';
import { ProgressReporter } from '../jobs/progress-reporter.js';
import type { CleanupJob, GcJob } from '../generated/prisma/client.js';
import type { CleanupStatus, CleanupTrigger } from '../generated/prisma/enums.js';
import type { PubSub } from '../pubsub.js';
import type { ContentIndexWriter } from '../registry/content-index/writer.js';
import { BATCH } from '../registry/content-index/writer.js';
import { deleteTags } from '../registry/content-deletion.js';
import { publishDeletions } from '../registry/deletion-events.js';
import type { RegistryClient } from '../registry/v2/client.js';
import { RegistryReadOnlyError } from '../registry/v2/errors.js';
import { CleanupAbort, CleanupAlreadyRunningError } from './errors.js';
import { type CleanupPlan, planCleanup } from './plan.js';
import { CleanupProgress, type CleanupProgressFields } from './progress.js';
import { parseStoredRules } from './rules.js';

export interface CleanupJobsDeps {
  db: Db;
  log: Logger;
  pubsub: PubSub;
  /** Reclaims the storage once the tags are gone. */
  gc: Pick<GcQueue, 'enqueue' | 'cancel'>;
  /** berth's own client of the hosted backend. */
  client: RegistryClient;
  contentIndex: Pick<ContentIndexWriter, 'deleted'>;
  maintenance: BackendMaintenance;
}

export interface CleanupJobsOptions {
  /** Who holds the leases of the jobs this instance runs; stable across restarts (host and data dir). */
  owner: string;
  /** @default { ttlMs: 30_000, renewEveryMs: 10_000 } */
  lease?: LeaseTiming;
  /** Progress events while counts move come at most this often. @default 250 */
  progressIntervalMs?: number;
  /** How often a job re-reads the GC it follows, in case no event reached it. @default 1_000 */
  gcPollIntervalMs?: number;
}

export interface CleanupRequest {
  registryId: string;
  dryRun: boolean;
  trigger: CleanupTrigger;
  requestedById: string | null;
}

interface Outcome {
  status: CleanupStatus;
  error: string | null;
  bytesFreed: number;
}

/** A registry read-only for longer than this many tries outside any GC window is a failure, not a wait. */
const READ_ONLY_TRIES = 10;
const READ_ONLY_RETRY_MS = 2_000;
const WINDOW_POLL_MS = 1_000;

/**
 * Cleanup runs. A run is a job for one hosted registry, queued in the database (one open job per
 * registry, on any instance) and run at once by the instance that queued it, under a lease it
 * renews: it plans from the content index (exactly what the preview shows), deletes the tags
 * through the V2 API with the same code as the deleteTags mutation, each tag only while it still
 * points at the image that was judged, then requests a garbage collection, which joins the next
 * window, and follows it to its end. The bytes it reports are those of the blobs its deletions left
 * unreferenced that the collection then removed from storage (checked there, blob by blob).
 *
 * Progress is saved to the job's row and published on `cleanupJob:progress`. A crash leaves the job
 * RUNNING with a lease that expires; any instance then marks it INTERRUPTED (recover).
 */
export class CleanupJobs {
  private readonly lease: LeaseTiming;
  private readonly log: Logger;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private stopped = false;
  private cancels: AsyncIterator<string> | undefined;
  private listening: Promise<void> | undefined;

  constructor(
    private readonly deps: CleanupJobsDeps,
    private readonly options: CleanupJobsOptions,
  ) {
    this.lease = options.lease ?? { ttlMs: 30_000, renewEveryMs: 10_000 };
    this.log = deps.log.child({ component: 'cleanup' });
  }

  /** Ends what a previous run of berth left running, then listens for cancels from other instances. */
  async start(): Promise<void> {
    await this.recover();
    const cancels = this.deps.pubsub.subscribe('cleanupJob:cancel');
    this.cancels = cancels;
    this.listening = (async () => {
      for await (const jobId of cancels) this.abortIfRunning(jobId, new CleanupAbort('CANCELLED', 'cancelled while running'));
    })();
  }

  /** Interrupts the jobs this instance runs and waits for them to record it. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { controller } of this.running.values()) controller.abort(new CleanupAbort('INTERRUPTED', 'berth shut down during the job'));
    await this.cancels?.return?.();
    await this.listening;
    await Promise.all([...this.running.values()].map(({ done }) => done));
  }

  /**
   * Queues a run of the registry's saved policy and starts it; returns the job as QUEUED.
   * CleanupAlreadyRunningError when the registry already has one open.
   */
  async enqueue(request: CleanupRequest): Promise<CleanupJob> {
    const { db } = this.deps;
    const policy = await db.cleanupPolicy.findUnique({ where: { registryId: request.registryId } });
    if (!policy) throw new ValidationError('the registry has no cleanup policy; set one with setCleanupPolicy', 'registryId');
    let job: CleanupJob;
    try {
      job = await db.cleanupJob.create({ data: { ...request, rules: policy.rules, activeFor: request.registryId } });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const open = await db.cleanupJob.findUnique({ where: { activeFor: request.registryId } });
      if (open) throw new CleanupAlreadyRunningError(open);
      throw error;
    }
    this.log.info({ jobId: job.id, registryId: job.registryId, dryRun: job.dryRun, trigger: job.trigger }, 'cleanup job queued');
    const queued = await this.publish(job.id);
    this.launch(job.id);
    return queued;
  }

  /**
   * A queued job is cancelled at once. A running one stops at its next safe point (between
   * repositories while deleting; at once while it waits for the GC, which it then cancels if it
   * asked for it): the returned job may still be RUNNING, and its CANCELLED status follows as an event.
   */
  async cancel(jobId: string): Promise<CleanupJob> {
    const { db, pubsub } = this.deps;
    const dequeued = await db.cleanupJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: { status: 'CANCELLED', error: 'cancelled before it started', finishedAt: new Date(), percent: 100, activeFor: null },
    });
    const job = await db.cleanupJob.findUnique({ where: { id: jobId } });
    if (!job) throw new NotFoundError(`no cleanup job ${jobId}`);
    if (dequeued.count === 1) return this.publish(jobId);
    if (job.status !== 'RUNNING') throw new ConflictError(`the cleanup job has already ended (${job.status})`);
    await db.cleanupJob.update({ where: { id: jobId }, data: { cancelRequested: true } });
    pubsub.publish('cleanupJob:cancel', jobId);
    this.abortIfRunning(jobId, new CleanupAbort('CANCELLED', 'cancelled while running'));
    return (await db.cleanupJob.findUnique({ where: { id: jobId } }))!;
  }

  /**
   * Jobs whose instance is gone: RUNNING ones whose lease ran out or that this very instance held
   * before it restarted, and QUEUED ones that nobody started, end INTERRUPTED with the reason.
   */
  async recover(): Promise<void> {
    const { db } = this.deps;
    const now = new Date();
    const mine = [...this.running.keys()];
    const abandoned = await db.cleanupJob.findMany({
      where: {
        id: { notIn: mine },
        OR: [
          { status: 'RUNNING', OR: [{ leaseOwner: this.options.owner }, { leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
          { status: 'QUEUED', createdAt: { lt: new Date(now.getTime() - this.lease.ttlMs) } },
        ],
      },
    });
    for (const job of abandoned) {
      const error =
        job.status === 'QUEUED'
          ? 'interrupted: the berth instance that queued it stopped before it started'
          : job.leaseOwner === this.options.owner
            ? `interrupted: berth stopped during ${job.phase} and was restarted`
            : `interrupted: its berth instance stopped renewing the lease during ${job.phase}`;
      const { count } = await db.cleanupJob.updateMany({
        where: { id: job.id, status: job.status, leaseExpiresAt: job.leaseExpiresAt },
        data: { status: 'INTERRUPTED', error, finishedAt: now, percent: 100, activeFor: null, leaseExpiresAt: null },
      });
      if (count === 0) continue;
      this.log.warn({ jobId: job.id, leaseOwner: job.leaseOwner }, 'cleanup job interrupted by a crash');
      await this.publish(job.id);
    }
  }

  private launch(jobId: string): void {
    if (this.stopped) return;
    const controller = new AbortController();
    const done = this.execute(jobId, controller)
      .catch((error: unknown) => this.log.error({ err: error, jobId }, 'cleanup job could not record its end'))
      .finally(() => this.running.delete(jobId));
    this.running.set(jobId, { controller, done });
  }

  private abortIfRunning(jobId: string, reason: CleanupAbort): void {
    this.running.get(jobId)?.controller.abort(reason);
  }

  private async execute(jobId: string, controller: AbortController): Promise<void> {
    const { db } = this.deps;
    const { owner } = this.options;
    const startedAt = new Date();
    const claimed = await db.cleanupJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: { status: 'RUNNING', startedAt, leaseOwner: owner, leaseExpiresAt: new Date(startedAt.getTime() + this.lease.ttlMs) },
    });
    if (claimed.count === 0) return;
    const job = await db.cleanupJob.findUniqueOrThrow({ where: { id: jobId }, include: { registry: { select: { slug: true } } } });
    const log = this.log.child({ jobId });
    const progress = new CleanupProgress();
    const reporter = new ProgressReporter(() => progress.fields(), (fields) => this.save(jobId, fields), this.options.progressIntervalMs ?? 250, log);
    const renew = async (): Promise<LeaseState> => {
      const { count } = await db.cleanupJob.updateMany({
        where: { id: jobId, status: 'RUNNING', leaseOwner: owner },
        data: { leaseExpiresAt: new Date(Date.now() + this.lease.ttlMs) },
      });
      if (count === 0) return 'lost';
      const row = await db.cleanupJob.findUnique({ where: { id: jobId }, select: { cancelRequested: true } });
      return row?.cancelRequested ? 'cancel-requested' : 'held';
    };
    const lease = holdLease(renew, this.lease, log, (end) =>
      controller.abort(
        end === 'cancel-requested' ? new CleanupAbort('CANCELLED', 'cancelled while running') : new CleanupAbort('INTERRUPTED', 'this berth instance lost the job’s lease'),
      ),
    );
    log.info({ registryId: job.registryId, dryRun: job.dryRun }, 'cleanup job started');

    let outcome: Outcome;
    try {
      // Policies exist for hosted registries only, so the registry has a slug.
      outcome = await this.carryOut({ ...job, slug: job.registry.slug! }, progress, reporter, controller.signal, log);
    } catch (failure) {
      const abort = controller.signal.reason;
      if (abort instanceof CleanupAbort) outcome = { status: abort.status, error: abort.message, bytesFreed: 0 };
      else {
        outcome = { status: 'FAILED', error: failure instanceof Error ? failure.message : String(failure), bytesFreed: 0 };
        log.error({ err: failure }, 'cleanup job failed');
      }
    } finally {
      lease.release();
    }

    await reporter.settled();
    progress.finish();
    const { status, error, bytesFreed } = outcome;
    await db.cleanupJob.updateMany({
      where: { id: jobId, status: 'RUNNING' },
      data: { ...progress.fields(), status, error, bytesFreed: BigInt(bytesFreed), finishedAt: new Date(), activeFor: null, leaseExpiresAt: null },
    });
    await this.publish(jobId);
    log.info({ status, error, tagsDeleted: progress.tagsDeleted, bytesFreed }, 'cleanup job ended');
  }

  private async carryOut(
    job: CleanupJob & { slug: string },
    progress: CleanupProgress,
    reporter: ProgressReporter<CleanupProgressFields>,
    signal: AbortSignal,
    log: Logger,
  ): Promise<Outcome> {
    const { db } = this.deps;
    progress.enter('PLANNING');
    reporter.now();
    const plan = await planCleanup(db, job.slug, parseStoredRules(job.rules));
    await this.recordPlan(job.id, plan);
    progress.tagsTotal = plan.verdict.deletions.length;
    await db.cleanupJob.update({ where: { id: job.id }, data: { expectedBytesFreed: BigInt(plan.bytesFreed) } });
    reporter.now();
    if (job.dryRun) return { status: 'SUCCEEDED', error: null, bytesFreed: plan.bytesFreed };

    progress.enter('DELETING');
    reporter.now();
    let manifestsRemoved = 0;
    for (const repository of plan.repositories) {
      signal.throwIfAborted();
      manifestsRemoved += await this.deleteIn(job, repository, progress, reporter, signal);
    }
    // Only tags went (their images stay under other tags): there is nothing to collect.
    if (manifestsRemoved === 0) return { status: 'SUCCEEDED', error: null, bytesFreed: 0 };

    progress.enter('GC_QUEUED');
    reporter.now();
    const gc = await this.requestGc(job, signal);
    await db.cleanupJob.update({ where: { id: job.id }, data: { gcJobId: gc.job.id } });
    log.info({ gcJobId: gc.job.id, joined: !gc.ours }, 'cleanup job waits for its garbage collection');
    let ended: GcJob;
    try {
      ended = await this.followGc(gc.job.id, signal, (state) => {
        progress.collecting(state);
        reporter.now();
      });
    } catch (error) {
      const abort = signal.reason;
      if (gc.ours && abort instanceof CleanupAbort && abort.status === 'CANCELLED') {
        await this.deps.gc.cancel(gc.job.id).catch((cancelError: unknown) => log.warn({ err: cancelError }, 'could not cancel the cleanup’s garbage collection'));
      }
      throw error;
    }
    const bytesFreed = await this.sweptBytes(plan.freedBlobs);
    if (ended.status === 'SUCCEEDED') return { status: 'SUCCEEDED', error: null, bytesFreed };
    const why = ended.error ? `: ${ended.error}` : '';
    return { status: 'FAILED', error: `the tags are deleted, but the garbage collection ended ${ended.status}${why}`, bytesFreed };
  }

  /**
   * Deletes one repository's tags, each only while it points at the judged image, and records what
   * went. While the backend is read-only (a GC window) it waits and tries the rest again. Returns
   * how many manifests went for good.
   */
  private async deleteIn(
    job: CleanupJob,
    repository: CleanupPlan['repositories'][number],
    progress: CleanupProgress,
    reporter: ProgressReporter<CleanupProgressFields>,
    signal: AbortSignal,
  ): Promise<number> {
    const { client, contentIndex, pubsub } = this.deps;
    const expected = new Map(repository.deletions.map(({ tag }) => [tag.name, tag.digest]));
    const counted = new Set<string>();
    const onManifestDeleted = (digest: string): void => {
      const names = [...expected].filter(([name, target]) => target === digest && !counted.has(name)).map(([name]) => name);
      for (const name of names) counted.add(name);
      progress.deleted(names.length);
      reporter.changed();
    };
    const mark = (tags: readonly string[], data: { deletedAt: Date } | { error: string }) => this.markDeletions(job.id, repository.name, tags, data);
    let pending = [...expected.keys()];
    let removed = 0;
    for (let readOnlyTries = 1; ; readOnlyTries++) {
      await this.untilWritable(signal);
      const result = await deleteTags(client, repository.path, pending, { expectedDigests: expected, onManifestDeleted }).catch((error: unknown) => {
        if (error instanceof RegistryReadOnlyError) return null;
        throw withRepository(repository.name, error);
      });
      if (result) {
        await contentIndex.deleted(repository.path, result.deletedTagNames, result.deletedDigests);
        publishDeletions(pubsub, job.registryId, repository.name, result.deletedTagNames, result.deletedDigests);
        removed += result.deletedDigests.length;
        await mark(result.deletedTagNames, { deletedAt: new Date() });
        await mark(result.changed, { error: 'pushed again since it was judged: another image now, left alone' });
        await mark(result.failed.filter((failure) => failure.reason === 'NOT_FOUND').map((failure) => failure.name), { error: 'no longer exists' });
        if (result.unrestored.length > 0) this.log.error({ jobId: job.id, unrestored: result.unrestored.map((lost) => lost.name) }, 'tags that stay could not be put back');
        const stopped = result.failed.filter((failure) => failure.reason === 'BACKEND_ERROR');
        const broken = stopped.find((failure) => !(failure.error instanceof RegistryReadOnlyError));
        if (broken) {
          await mark(stopped.map((failure) => failure.name), { error: broken.error.message });
          throw withRepository(repository.name, broken.error);
        }
        pending = stopped.map((failure) => failure.name);
      }
      if (pending.length === 0) return removed;
      if (readOnlyTries >= READ_ONLY_TRIES) {
        await mark(pending, { error: 'the registry stayed read-only' });
        throw new Error(`${repository.name}: the registry stayed read-only outside any garbage collection window`);
      }
      await sleep(READ_ONLY_RETRY_MS, undefined, { signal });
    }
  }

  /** Waits while a GC window holds the backend read-only: deletes would only be refused. */
  private async untilWritable(signal: AbortSignal): Promise<void> {
    while (await this.deps.maintenance.refusal()) await sleep(WINDOW_POLL_MS, undefined, { signal });
  }

  /**
   * A real garbage collection of the registry that starts after the deletions: a new job, or the
   * registry's real job that waits to start (its marking comes after the deletions too). A job that
   * is already running or a dry run is waited out, then asked again.
   */
  private async requestGc(job: CleanupJob, signal: AbortSignal): Promise<{ job: GcJob; ours: boolean }> {
    for (;;) {
      signal.throwIfAborted();
      try {
        const gcJob = await this.deps.gc.enqueue({ registryId: job.registryId, dryRun: false, deleteUntagged: false, requestedById: job.requestedById, bypassInterval: false });
        return { job: gcJob, ours: true };
      } catch (error) {
        if (!(error instanceof GcAlreadyRunningError)) throw error;
        if (error.job.status === 'QUEUED' && !error.job.dryRun) return { job: error.job, ours: false };
        await this.followGc(error.job.id, signal, () => undefined);
      }
    }
  }

  /** Follows a GC job to its end: on its events, and by reading it now and then in case none come. */
  private async followGc(gcJobId: string, signal: AbortSignal, onState: (job: GcJob) => void): Promise<GcJob> {
    const { db, pubsub } = this.deps;
    const live = pubsub.subscribe('gcJob:progress', gcJobId);
    // An event wakes the loop; once the stream has ended (pub/sub closed), only the polling does.
    const silent = new Promise<boolean>(() => undefined);
    const nextEvent = () => live.next().then((result) => (result.done ? silent : true));
    let event = nextEvent();
    try {
      for (;;) {
        const job = await db.gcJob.findUniqueOrThrow({ where: { id: gcJobId } });
        onState(job);
        if (isGcTerminal(job.status)) return job;
        if (await Promise.race([event, sleep(this.options.gcPollIntervalMs ?? 1_000, false, { signal })])) event = nextEvent();
      }
    } finally {
      await live.return?.();
    }
  }

  /** The bytes of the planned blobs that are no longer stored: GC records each blob it verified gone from storage. */
  private async sweptBytes(planned: ReadonlyMap<string, number>): Promise<number> {
    const digests = [...planned.keys()];
    let bytes = 0;
    for (let i = 0; i < digests.length; i += BATCH) {
      const batch = digests.slice(i, i + BATCH);
      const stored = new Set((await this.deps.db.contentBlob.findMany({ where: { digest: { in: batch } }, select: { digest: true } })).map((row) => row.digest));
      for (const digest of batch) if (!stored.has(digest)) bytes += planned.get(digest)!;
    }
    return bytes;
  }

  private async recordPlan(jobId: string, plan: CleanupPlan): Promise<void> {
    const rows = plan.verdict.deletions.map(({ repository, tag, rule, message }) => ({ jobId, repository, tag: tag.name, digest: tag.digest, rule, reason: message }));
    for (let i = 0; i < rows.length; i += BATCH) await this.deps.db.cleanupDeletion.createMany({ data: rows.slice(i, i + BATCH) });
  }

  private async markDeletions(jobId: string, repository: string, tags: readonly string[], data: { deletedAt: Date } | { error: string }): Promise<void> {
    for (let i = 0; i < tags.length; i += BATCH) {
      await this.deps.db.cleanupDeletion.updateMany({ where: { jobId, repository, tag: { in: tags.slice(i, i + BATCH) } }, data });
    }
  }

  private async save(jobId: string, fields: CleanupProgressFields): Promise<void> {
    const { count } = await this.deps.db.cleanupJob.updateMany({ where: { id: jobId, status: 'RUNNING' }, data: fields });
    if (count === 1) await this.publish(jobId);
  }

  /** Publishes the job's row as it is now; every change goes to the database first, then out. */
  private async publish(jobId: string): Promise<CleanupJob> {
    const job = await this.deps.db.cleanupJob.findUniqueOrThrow({ where: { id: jobId } });
    this.deps.pubsub.publish('cleanupJob:progress', jobId, job);
    return job;
  }
}

function withRepository(repository: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${repository}: ${message}`, { cause: error });
}
