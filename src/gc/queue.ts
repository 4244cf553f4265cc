import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { GcJob, GcRun } from '../generated/prisma/client.js';
import type { PubSub } from '../pubsub.js';
import type { HostedBackend } from '../registry/hosted/hosted-backend.js';
import { GcAbort, GcAlreadyRunningError } from './errors.js';
import { garbageCollect } from './garbage-collect.js';
import { holdLease, type LeaseState, type LeaseTiming } from '../jobs/lease.js';
import { GcProgress, type GcRunProgressFields } from './progress.js';
import { ReadOnlyWindow } from './read-only-window.js';
import { ProgressReporter } from '../jobs/progress-reporter.js';
import { RegistryStorage } from '../registry/hosted/storage.js';
import { type GcChanges, runGc } from './runner.js';

export interface GcQueueDeps {
  db: Db;
  log: Logger;
  pubsub: PubSub;
  registry: HostedBackend;
  /** Told what each run changed in the backend: the content index keeps up through it. */
  changes: GcChanges;
  /** Blob sizes known without reading the storage (the content index's). */
  knownBlobSizes: () => Promise<ReadonlyMap<string, number>>;
}

export interface GcQueueOptions {
  /**
   * Who holds the leases of the runs this instance executes. Keep it stable across restarts of the
   * same instance (berth uses host and data dir): on start, every RUNNING run it still holds is
   * known to be dead, however fresh its lease.
   */
  owner: string;
  /** The least time between the end of one read-only window and the start of the next. */
  minIntervalMs: number;
  /** @default { ttlMs: 30_000, renewEveryMs: 10_000 } */
  lease?: LeaseTiming;
  /** Progress events while counts move come at most this often. @default 250 */
  progressIntervalMs?: number;
  /** How often an idle worker looks for runs that another instance queued, in case no pub/sub told it. @default 5_000 */
  pollIntervalMs?: number;
}

export interface GcRequest {
  registryId: string;
  dryRun: boolean;
  deleteUntagged: boolean;
  requestedById: string | null;
  /** Start at the next moment the backend is free instead of waiting for the interval (admins). */
  bypassInterval: boolean;
}

type ClaimedRun = GcRun & { jobs: (GcJob & { registry: { slug: string | null } })[] };

const WAITING_REAL_RUN = 'real';

/**
 * Garbage collection for the registry backend. A request becomes a GcJob for its registry; real
 * jobs that arrive while a real run waits join it, so one read-only window and one sweep serve
 * them all. A real run starts no earlier than `minIntervalMs` after the previous window closed
 * (its slot, `notBefore`), unless an admin bypassed the interval. A dry run needs no window: it
 * gets a run of its own and never waits for a slot, only for a run executing at that moment,
 * since a sweep under it would change what it counts.
 *
 * Any berth instance queues runs in the database; only one that runs the embedded registry
 * executes them, one at a time, under a lease it renews. Progress is saved to each job's row and
 * published on `gcJob:progress`; `gcRun:signal` tells the executing instance about new runs and
 * cancels requested elsewhere.
 */
export class GcQueue {
  private readonly lease: LeaseTiming;
  private readonly progressIntervalMs: number;
  private readonly log: Logger;
  private running: { runId: string; controller: AbortController } | null = null;
  private worker: Promise<void> | null = null;
  private wakeRequested = false;
  private stopped = false;
  private dueTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private signals: AsyncIterator<unknown> | undefined;
  private listening: Promise<void> | undefined;

  constructor(
    private readonly deps: GcQueueDeps,
    private readonly options: GcQueueOptions,
  ) {
    this.lease = options.lease ?? { ttlMs: 30_000, renewEveryMs: 10_000 };
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.log = deps.log.child({ component: 'gc' });
  }

  /** Whether this instance executes runs: GC works on the storage of the registry berth runs itself. */
  get supported(): boolean {
    return this.deps.registry.embedded !== null;
  }

  /** Recovers from a previous run of berth, then, if it can execute runs, starts on those that wait. */
  async start(): Promise<void> {
    await this.recover();
    if (!this.supported) return;
    this.listening = this.listen();
    this.pollTimer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 5_000);
    this.pollTimer.unref();
    this.wake();
  }

  /** Interrupts the executing run (it still restores the registry) and waits for it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.dueTimer);
    this.running?.controller.abort(new GcAbort('INTERRUPTED', 'berth shut down during the run'));
    await this.signals?.return?.();
    await this.listening;
    await this.worker;
  }

  /**
   * Queues a job and returns it as QUEUED: in the waiting real run if there is one, else in a new
   * run. GcAlreadyRunningError when the registry already has a job queued or running.
   */
  async enqueue(request: GcRequest): Promise<GcJob> {
    const { db } = this.deps;
    const { bypassInterval, ...fields } = request;
    const open = await db.gcJob.findUnique({ where: { activeFor: request.registryId } });
    if (open) throw new GcAlreadyRunningError(open);
    let runId = request.dryRun ? (await db.gcRun.create({ data: { dryRun: true } })).id : await this.waitingRealRun(bypassInterval);
    let job: GcJob;
    try {
      job = await db.gcJob.create({ data: { ...fields, runId, activeFor: request.registryId } });
    } catch (error) {
      if (request.dryRun) await db.gcRun.delete({ where: { id: runId } });
      if (!isUniqueViolation(error)) throw error;
      const existing = await db.gcJob.findUnique({ where: { activeFor: request.registryId } });
      if (existing) throw new GcAlreadyRunningError(existing);
      throw error;
    }
    // The run may have started between its lookup and the insert; then the job waits for the next one.
    while ((await db.gcRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true } })).status !== 'QUEUED') {
      const next = await this.waitingRealRun(bypassInterval);
      const { count } = await db.gcJob.updateMany({ where: { id: job.id, status: 'QUEUED', runId }, data: { runId: next } });
      if (count === 0) break;
      runId = next;
    }
    this.log.info({ jobId: job.id, runId, registryId: job.registryId, dryRun: job.dryRun, deleteUntagged: job.deleteUntagged, bypassInterval }, 'GC job queued');
    const queued = await this.publish(job.id);
    this.deps.pubsub.publish('gcRun:signal', { kind: 'queued', runId });
    this.wake();
    return queued;
  }

  /**
   * A queued job is cancelled at once. A running job that shares its run with others leaves it at
   * once too (the run goes on for them); the last job of a running run stops the run at its next
   * safe point, which restores the registry: the returned job is then still RUNNING, and its
   * CANCELLED status follows as an event.
   */
  async cancel(jobId: string): Promise<GcJob> {
    const { db } = this.deps;
    const finishedAt = new Date();
    const ended = { finishedAt, percent: 100, activeFor: null };
    const dequeued = await db.gcJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: { ...ended, status: 'CANCELLED', error: 'cancelled before it started' },
    });
    const job = await db.gcJob.findUnique({ where: { id: jobId } });
    if (!job) throw new NotFoundError(`no GC job ${jobId}`);
    if (dequeued.count === 1) {
      if (job.runId) await this.dropIfEmpty(job.runId);
      return this.publish(jobId);
    }
    if (job.status !== 'RUNNING' || !job.runId) throw new ConflictError(`the GC job has already ended (${job.status})`);

    const others = await db.gcJob.count({ where: { runId: job.runId, status: 'RUNNING', id: { not: jobId } } });
    if (others > 0) {
      await db.gcJob.updateMany({
        where: { id: jobId, status: 'RUNNING' },
        data: { ...ended, status: 'CANCELLED', error: 'cancelled; the collection it joined goes on for other registries' },
      });
      return this.publish(jobId);
    }
    await db.gcRun.update({ where: { id: job.runId }, data: { cancelRequested: true } });
    this.log.info({ jobId, runId: job.runId }, 'GC run cancel requested');
    this.deps.pubsub.publish('gcRun:signal', { kind: 'cancel', runId: job.runId });
    this.abortIfRunning(job.runId);
    return (await db.gcJob.findUnique({ where: { id: jobId } }))!;
  }

  /** The real run that waits to start, created if none does; unique in the database across instances. */
  private async waitingRealRun(bypassInterval: boolean): Promise<string> {
    const { db } = this.deps;
    for (;;) {
      const waiting = await db.gcRun.findUnique({ where: { waiting: WAITING_REAL_RUN } });
      if (waiting) {
        if (bypassInterval && !waiting.bypassInterval) await db.gcRun.update({ where: { id: waiting.id }, data: { bypassInterval: true, notBefore: null } });
        return waiting.id;
      }
      try {
        const notBefore = bypassInterval ? null : await this.nextSlot();
        return (await db.gcRun.create({ data: { waiting: WAITING_REAL_RUN, bypassInterval, notBefore } })).id;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    }
  }

  /** When a new real run may start: the interval after the last window closed; null while a window is still to close. */
  private async nextSlot(): Promise<Date | null> {
    const { db } = this.deps;
    if ((await db.gcRun.count({ where: { status: 'RUNNING', dryRun: false } })) > 0) return null;
    const last = await db.gcRun.findFirst({ where: { windowClosedAt: { not: null } }, orderBy: { windowClosedAt: 'desc' } });
    return new Date(Math.max(Date.now(), (last?.windowClosedAt?.getTime() ?? 0) + this.options.minIntervalMs));
  }

  private async dropIfEmpty(runId: string): Promise<void> {
    const { db } = this.deps;
    if ((await db.gcJob.count({ where: { runId, status: { in: ['QUEUED', 'RUNNING'] } } })) > 0) return;
    await db.gcRun.updateMany({ where: { id: runId, status: 'QUEUED' }, data: { status: 'CANCELLED', waiting: null, finishedAt: new Date() } });
  }

  private abortIfRunning(runId: string): void {
    if (this.running?.runId === runId) this.running.controller.abort(new GcAbort('CANCELLED', 'cancelled while running'));
  }

  /** Signals from every instance (through Redis when several run): new runs to look at, cancels. */
  private async listen(): Promise<void> {
    const signals = this.deps.pubsub.subscribe('gcRun:signal');
    this.signals = signals;
    for await (const signal of signals) {
      if (signal.kind === 'queued') this.wake();
      else if (this.running?.runId === signal.runId) this.abortIfRunning(signal.runId);
    }
  }

  /**
   * Makes the worker look for runs that may start. A wake-up while it is busy is remembered, so a
   * run queued just as the worker finds nothing is not left waiting.
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
      for (let run = await this.claimNext(); run; run = await this.claimNext()) await this.execute(run);
      await this.wakeWhenDue();
    }
  }

  /** The oldest run that may start now, RUNNING under this instance's lease with its jobs; null when none may. */
  private async claimNext(): Promise<ClaimedRun | null> {
    const { db } = this.deps;
    for (const run of await db.gcRun.findMany({ where: { status: 'QUEUED' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })) {
      if (this.stopped) return null;
      if (!run.dryRun && !run.bypassInterval) {
        let slot = run.notBefore;
        // The window before it closed without setting its slot (berth stopped in between).
        if (!slot) {
          slot = await this.nextSlot();
          if (slot) await db.gcRun.updateMany({ where: { id: run.id, notBefore: null }, data: { notBefore: slot } });
        }
        if (!slot || slot.getTime() > Date.now()) continue;
      }
      const now = new Date();
      const claimed = await db.gcRun.updateMany({
        where: { id: run.id, status: 'QUEUED' },
        data: { status: 'RUNNING', waiting: null, startedAt: now, leaseOwner: this.options.owner, leaseExpiresAt: new Date(now.getTime() + this.lease.ttlMs) },
      });
      if (claimed.count === 0) continue;
      await db.gcJob.updateMany({ where: { runId: run.id, status: 'QUEUED' }, data: { status: 'RUNNING', startedAt: now } });
      const started = await db.gcRun.findUniqueOrThrow({
        where: { id: run.id },
        include: { jobs: { where: { status: 'RUNNING' }, orderBy: { createdAt: 'asc' }, include: { registry: { select: { slug: true } } } } },
      });
      if (started.jobs.length > 0) return started;
      // Every job left it before it started.
      await db.gcRun.update({ where: { id: run.id }, data: { status: 'CANCELLED', finishedAt: new Date(), leaseExpiresAt: null } });
    }
    return null;
  }

  /** Wakes the worker when the earliest waiting real run's slot comes. */
  private async wakeWhenDue(): Promise<void> {
    const next = await this.deps.db.gcRun.findFirst({
      where: { status: 'QUEUED', dryRun: false, notBefore: { not: null } },
      orderBy: { notBefore: 'asc' },
      select: { notBefore: true },
    });
    clearTimeout(this.dueTimer);
    if (!next?.notBefore || this.stopped) return;
    this.dueTimer = setTimeout(() => this.wake(), Math.max(0, next.notBefore.getTime() - Date.now()));
    this.dueTimer.unref();
  }

  private async execute(run: ClaimedRun): Promise<void> {
    const { db, registry } = this.deps;
    // wake() runs no run without it.
    const backend = registry.embedded!;
    const log = this.log.child({ runId: run.id });
    const controller = new AbortController();
    this.running = { runId: run.id, controller };
    const lease = holdLease(() => this.renewLease(run.id), this.lease, log, (end) => {
      controller.abort(
        end === 'cancel-requested' ? new GcAbort('CANCELLED', 'cancelled while running') : new GcAbort('INTERRUPTED', 'this berth instance lost the run’s lease'),
      );
    });
    const jobIds = run.jobs.map((job) => job.id);
    const progress = new GcProgress(run.dryRun);
    const reporter = new ProgressReporter(() => progress.fields(), (fields) => this.saveProgress(jobIds, fields), this.progressIntervalMs, log);
    for (const id of jobIds) await this.publish(id);
    log.info({ jobs: jobIds, dryRun: run.dryRun }, 'GC run started');

    let status: GcJob['status'] = 'SUCCEEDED';
    let error: string | null = null;
    try {
      await runGc({
        run: { id: run.id, dryRun: run.dryRun, jobs: run.jobs.map((job) => ({ id: job.id, slug: job.registry.slug ?? '', deleteUntagged: job.deleteUntagged })) },
        storage: new RegistryStorage(backend.storageDir),
        client: registry.client,
        window: new ReadOnlyWindow(db, backend, log),
        garbageCollect: (options) => garbageCollect({ ...options, binary: backend.binary, configFile: backend.configFile, children: backend.childRecords }),
        progress,
        reporter,
        log,
        signal: controller.signal,
        changes: this.deps.changes,
        knownBlobSizes: this.deps.knownBlobSizes,
      });
    } catch (failure) {
      const abort = controller.signal.reason;
      if (abort instanceof GcAbort) {
        status = abort.status;
        error = abort.message;
      } else {
        status = 'FAILED';
        error = failure instanceof Error ? failure.message : String(failure);
        log.error({ err: failure }, 'GC run failed');
      }
    } finally {
      lease.release();
      this.running = null;
    }

    await reporter.settled();
    progress.finish();
    const finishedAt = new Date();
    for (const id of jobIds) {
      const { count } = await db.gcJob.updateMany({
        where: { id, status: 'RUNNING' },
        data: { ...progress.jobFields(id), status, error, finishedAt, activeFor: null },
      });
      if (count === 1) await this.publish(id);
    }
    await db.gcRun.updateMany({
      where: { id: run.id, status: 'RUNNING', leaseOwner: this.options.owner },
      data: { status, error, finishedAt, leaseExpiresAt: null },
    });
    await this.slotAfter(run.id);
    const done = progress.fields();
    log.info({ status, error, phase: done.phase, jobs: jobIds.length, blobsDeleted: done.blobsDeleted, bytesFreed: Number(done.bytesFreed) }, 'GC run ended');
  }

  /** The real run waiting behind `runId` gets its slot once `runId`'s window has closed. */
  private async slotAfter(runId: string): Promise<void> {
    const { db } = this.deps;
    const { windowClosedAt } = await db.gcRun.findUniqueOrThrow({ where: { id: runId }, select: { windowClosedAt: true } });
    if (!windowClosedAt) return;
    await db.gcRun.updateMany({
      where: { waiting: WAITING_REAL_RUN, bypassInterval: false, notBefore: null },
      data: { notBefore: new Date(windowClosedAt.getTime() + this.options.minIntervalMs) },
    });
  }

  /** Extends this instance's lease on a running run; says whether it is still ours and whether every job it serves was cancelled. */
  private async renewLease(runId: string): Promise<LeaseState> {
    const { db } = this.deps;
    const { count } = await db.gcRun.updateMany({
      where: { id: runId, status: 'RUNNING', leaseOwner: this.options.owner },
      data: { leaseExpiresAt: new Date(Date.now() + this.lease.ttlMs) },
    });
    if (count === 0) return 'lost';
    const row = await db.gcRun.findUnique({ where: { id: runId }, select: { cancelRequested: true } });
    return row?.cancelRequested ? 'cancel-requested' : 'held';
  }

  private async saveProgress(jobIds: readonly string[], fields: GcRunProgressFields): Promise<void> {
    for (const id of jobIds) {
      const { count } = await this.deps.db.gcJob.updateMany({
        where: { id, status: 'RUNNING' },
        data: { ...fields, manifestsDeleted: fields.manifestsDeleted.get(id) ?? 0 },
      });
      if (count === 1) await this.publish(id);
    }
  }

  /** Publishes the job's row as it is now; every change goes to the database first, then out. */
  private async publish(jobId: string): Promise<GcJob> {
    const job = await this.deps.db.gcJob.findUniqueOrThrow({ where: { id: jobId } });
    this.deps.pubsub.publish('gcJob:progress', jobId, job);
    return job;
  }

  /**
   * After a crash: runs whose lease ran out, or that this very instance held before it restarted,
   * are INTERRUPTED with the reason, their jobs too, and the backend is made writable again.
   * QUEUED runs stay queued.
   */
  private async recover(): Promise<void> {
    const { db, registry } = this.deps;
    const now = new Date();
    const abandoned = await db.gcRun.findMany({
      where: { status: 'RUNNING', OR: [{ leaseOwner: this.options.owner }, { leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
      include: { jobs: { where: { status: 'RUNNING' } } },
    });
    for (const run of abandoned) {
      const heldHere = run.leaseOwner === this.options.owner;
      const { count } = await db.gcRun.updateMany({
        where: { id: run.id, status: 'RUNNING' },
        data: { status: 'INTERRUPTED', finishedAt: now, leaseExpiresAt: null, ...(run.windowOpenedAt && !run.windowClosedAt ? { windowClosedAt: now } : {}) },
      });
      if (count === 0) continue;
      for (const job of run.jobs) {
        const error = heldHere
          ? `interrupted: berth stopped during ${job.phase} and was restarted`
          : `interrupted: its berth instance stopped renewing the lease during ${job.phase} (expired ${run.leaseExpiresAt?.toISOString() ?? 'never set'})`;
        const ended = await db.gcJob.updateMany({
          where: { id: job.id, status: 'RUNNING' },
          data: { status: 'INTERRUPTED', error, finishedAt: now, percent: 100, activeFor: null },
        });
        if (ended.count === 1) await this.publish(job.id);
      }
      await db.gcRun.update({ where: { id: run.id }, data: { error: `interrupted (${heldHere ? 'berth restarted' : 'lease expired'})` } });
      this.log.warn({ runId: run.id, jobs: run.jobs.map((job) => job.id), leaseOwner: run.leaseOwner }, 'GC run interrupted by a crash');
    }
    // Another instance's run that is still alive keeps its window.
    if ((await db.gcRun.count({ where: { status: 'RUNNING', dryRun: false } })) > 0) return;
    if (registry.embedded) await new ReadOnlyWindow(db, registry.embedded, this.log).close(null);
  }
}
