import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { GcJob } from '../generated/prisma/client.js';
import type { PubSub } from '../pubsub.js';
import { recordRegistryEvents } from '../registry/activity.js';
import type { RegistryBackend } from '../registry/backend.js';
import type { RegistryContentCache } from '../registry/loaders.js';
import { GcAbort, GcAlreadyRunningError } from './errors.js';
import { garbageCollect } from './garbage-collect.js';
import { holdLease, type LeaseTiming } from './lease.js';
import type { BackendMaintenance } from './maintenance.js';
import { GcProgress, type GcProgressFields } from './progress.js';
import { ReadOnlyWindow } from './read-only-window.js';
import { ProgressReporter } from './reporter.js';
import { runGcJob } from './runner.js';
import { RegistryStorage } from './storage.js';

export interface GcQueueDeps {
  db: Db;
  log: Logger;
  pubsub: PubSub;
  registry: RegistryBackend;
  maintenance: BackendMaintenance;
  contentCache: RegistryContentCache;
}

export interface GcQueueOptions {
  /**
   * Who holds the leases of the jobs this instance runs. Keep it stable across restarts of the
   * same instance (berth uses host and data dir): on start, every RUNNING job it still holds is
   * known to be dead, however fresh its lease.
   */
  owner: string;
  /** @default { ttlMs: 30_000, renewEveryMs: 10_000 } */
  lease?: LeaseTiming;
  /** Progress events while counts move come at most this often. @default 250 */
  progressIntervalMs?: number;
}

export interface GcRequest {
  registryId: string;
  dryRun: boolean;
  deleteUntagged: boolean;
  requestedById: string | null;
}

/**
 * Garbage collection jobs for the registry backend: jobs wait in the database as QUEUED and run
 * one at a time, since the sweep covers the whole backend. A running job holds a lease that it
 * renews; progress is saved to its row and published on `gcJob:progress`.
 */
export class GcQueue {
  private readonly lease: LeaseTiming;
  private readonly progressIntervalMs: number;
  private readonly log: Logger;
  private running: { jobId: string; controller: AbortController } | null = null;
  private worker: Promise<void> | null = null;
  private wakeRequested = false;
  private requests: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: GcQueueDeps,
    private readonly options: GcQueueOptions,
  ) {
    this.lease = options.lease ?? { ttlMs: 30_000, renewEveryMs: 10_000 };
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.log = deps.log.child({ component: 'gc' });
  }

  /** GC works on the embedded registry's storage; a registry berth does not run cannot be collected. */
  get supported(): boolean {
    return this.deps.registry.embedded !== null;
  }

  /** Recovers from a previous run of berth, then starts on the jobs that are waiting. */
  async start(): Promise<void> {
    await this.recover();
    this.wake();
  }

  /** Interrupts the running job (it still restores the registry) and waits for it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running?.controller.abort(new GcAbort('INTERRUPTED', 'berth shut down during the run'));
    await this.requests;
    await this.worker;
  }

  /** Queues a job and returns it as QUEUED; GcAlreadyRunningError when the registry has one queued or running. */
  enqueue(request: GcRequest): Promise<GcJob> {
    // One request at a time, so two concurrent starts cannot both find no job and both queue one.
    const result = this.requests.then(async () => {
      const { db } = this.deps;
      const existing = await db.gcJob.findFirst({
        where: { registryId: request.registryId, status: { in: ['QUEUED', 'RUNNING'] } },
        orderBy: { createdAt: 'asc' },
      });
      if (existing) throw new GcAlreadyRunningError(existing);
      const job = await db.gcJob.create({ data: request });
      this.log.info({ jobId: job.id, registryId: job.registryId, dryRun: job.dryRun, deleteUntagged: job.deleteUntagged }, 'GC job queued');
      this.wake();
      return job;
    });
    this.requests = result.catch(() => undefined);
    return result;
  }

  /**
   * A queued job is cancelled at once. A running one stops at its next safe point and restores the
   * registry; the returned job is still RUNNING then, and its CANCELLED status follows as an event.
   */
  async cancel(jobId: string): Promise<GcJob> {
    const { db } = this.deps;
    const finishedAt = new Date();
    const dequeued = await db.gcJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: { status: 'CANCELLED', finishedAt, percent: 100, error: 'cancelled before it started' },
    });
    if (dequeued.count === 1) return this.publish(jobId);

    const job = await db.gcJob.findUnique({ where: { id: jobId } });
    if (!job) throw new NotFoundError(`no GC job ${jobId}`);
    if (job.status !== 'RUNNING') throw new ConflictError(`the GC job has already ended (${job.status})`);
    await db.gcJob.update({ where: { id: jobId }, data: { cancelRequested: true } });
    if (this.running?.jobId === jobId) this.running.controller.abort(new GcAbort('CANCELLED', 'cancelled while running'));
    this.log.info({ jobId }, 'GC job cancel requested');
    return (await db.gcJob.findUnique({ where: { id: jobId } }))!;
  }

  /**
   * Makes the worker look for queued jobs. A wake-up while it is busy is remembered, so a job queued
   * just as the worker finds the queue empty is not left waiting.
   */
  private wake(): void {
    this.wakeRequested = true;
    if (this.worker || this.stopped || !this.supported) return;
    this.worker = this.work()
      .catch((error: unknown) => this.log.error({ err: error }, 'GC worker failed'))
      .finally(() => {
        this.worker = null;
        if (this.wakeRequested) this.wake();
      });
  }

  private async work(): Promise<void> {
    while (this.wakeRequested && !this.stopped) {
      this.wakeRequested = false;
      for (let job = await this.claimNext(); job; job = await this.claimNext()) await this.execute(job);
    }
  }

  /** The oldest QUEUED job, now RUNNING under this instance's lease; null when none waits. */
  private async claimNext(): Promise<(GcJob & { registry: { slug: string | null } }) | null> {
    const { db } = this.deps;
    while (!this.stopped) {
      const next = await db.gcJob.findFirst({ where: { status: 'QUEUED' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
      if (!next) return null;
      const now = new Date();
      const claimed = await db.gcJob.updateMany({
        where: { id: next.id, status: 'QUEUED' },
        data: { status: 'RUNNING', startedAt: now, leaseOwner: this.options.owner, leaseExpiresAt: new Date(now.getTime() + this.lease.ttlMs) },
      });
      // Lost to a cancel in between: look again.
      if (claimed.count === 1) return db.gcJob.findUniqueOrThrow({ where: { id: next.id }, include: { registry: { select: { slug: true } } } });
    }
    return null;
  }

  private async execute(job: GcJob & { registry: { slug: string | null } }): Promise<void> {
    const { db, registry, maintenance } = this.deps;
    // wake() runs no job without it.
    const backend = registry.embedded!;
    const log = this.log.child({ jobId: job.id });
    const controller = new AbortController();
    this.running = { jobId: job.id, controller };
    const lease = holdLease(db, job.id, this.options.owner, this.lease, log, (end) => {
      controller.abort(
        end === 'cancel-requested' ? new GcAbort('CANCELLED', 'cancelled while running') : new GcAbort('INTERRUPTED', 'this berth instance lost the job’s lease'),
      );
    });
    const progress = new GcProgress(job.dryRun);
    const reporter = new ProgressReporter(progress, (fields) => this.saveProgress(job.id, fields), this.progressIntervalMs, log);
    await this.publish(job.id);
    log.info({ registryId: job.registryId, dryRun: job.dryRun, deleteUntagged: job.deleteUntagged }, 'GC job started');

    let status: GcJob['status'] = 'SUCCEEDED';
    let error: string | null = null;
    try {
      await runGcJob({
        job,
        slug: job.registry.slug ?? '',
        storage: new RegistryStorage(backend.storageDir),
        client: registry.client,
        window: new ReadOnlyWindow(db, backend, maintenance, log),
        garbageCollect: (options) => garbageCollect({ ...options, binary: backend.binary, configFile: backend.configFile, children: backend.childRecords }),
        progress,
        reporter,
        log,
        signal: controller.signal,
        onManifestsDeleted: (manifests) =>
          recordRegistryEvents(
            this.deps,
            manifests.map(({ repository, digest }) => ({ action: 'delete', repository, tag: null, digest, at: new Date() })),
          ),
      });
    } catch (failure) {
      const abort = controller.signal.reason;
      if (abort instanceof GcAbort) {
        status = abort.status;
        error = abort.message;
      } else {
        status = 'FAILED';
        error = failure instanceof Error ? failure.message : String(failure);
        log.error({ err: failure }, 'GC job failed');
      }
    } finally {
      lease.release();
      this.running = null;
    }

    await reporter.settled();
    progress.finish();
    const { count } = await db.gcJob.updateMany({
      where: { id: job.id, status: 'RUNNING', leaseOwner: this.options.owner },
      data: { ...progress.fields(), status, error, finishedAt: new Date(), leaseExpiresAt: null },
    });
    if (count === 1) await this.publish(job.id);
    const done = progress.fields();
    log.info({ status, error, phase: done.phase, blobsDeleted: done.blobsDeleted, manifestsDeleted: done.manifestsDeleted, bytesFreed: Number(done.bytesFreed) }, 'GC job ended');
  }

  private async saveProgress(jobId: string, fields: GcProgressFields): Promise<void> {
    const { count } = await this.deps.db.gcJob.updateMany({ where: { id: jobId, status: 'RUNNING', leaseOwner: this.options.owner }, data: fields });
    if (count === 1) await this.publish(jobId);
  }

  /** Publishes the job's row as it is now; every change goes to the database first, then out. */
  private async publish(jobId: string): Promise<GcJob> {
    const job = await this.deps.db.gcJob.findUniqueOrThrow({ where: { id: jobId } });
    this.deps.pubsub.publish('gcJob:progress', jobId, job);
    return job;
  }

  /**
   * After a crash: jobs whose lease ran out, or that this very instance held before it restarted,
   * are INTERRUPTED with the reason, and the backend is made writable again. QUEUED jobs stay queued.
   */
  private async recover(): Promise<void> {
    const { db, registry, maintenance } = this.deps;
    const now = new Date();
    const abandoned = await db.gcJob.findMany({
      where: { status: 'RUNNING', OR: [{ leaseOwner: this.options.owner }, { leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
    });
    for (const job of abandoned) {
      const heldHere = job.leaseOwner === this.options.owner;
      const error = heldHere
        ? `interrupted: berth stopped during ${job.phase} and was restarted`
        : `interrupted: its berth instance stopped renewing the lease during ${job.phase} (expired ${job.leaseExpiresAt?.toISOString() ?? 'never set'})`;
      const { count } = await db.gcJob.updateMany({
        where: { id: job.id, status: 'RUNNING' },
        data: { status: 'INTERRUPTED', error, finishedAt: now, percent: 100, leaseExpiresAt: null },
      });
      if (count === 1) await this.publish(job.id);
      this.log.warn({ jobId: job.id, registryId: job.registryId, phase: job.phase, leaseOwner: job.leaseOwner }, 'GC job interrupted by a crash');
    }
    // Another instance's job that is still alive keeps its window.
    if (await db.gcJob.count({ where: { status: 'RUNNING' } })) return;
    if (registry.embedded) await new ReadOnlyWindow(db, registry.embedded, maintenance, this.log).close();
  }
}
