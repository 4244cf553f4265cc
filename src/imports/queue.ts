import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ImportJob, Registry } from '../generated/prisma/client.js';
import { holdLease, type LeaseState, type LeaseTiming } from '../jobs/lease.js';
import { ProgressReporter } from '../jobs/progress-reporter.js';
import type { PubSub } from '../pubsub.js';
import type { RegistryBackends } from '../registry/backend.js';
import { storedBytesBySlug } from '../registry/content-index/queries.js';
import { RegistryError, RegistryNotFoundError } from '../registry/v2/errors.js';
import { ImportProgress, type ImportProgressFields } from './progress.js';
import { runImport } from './runner.js';

export interface ImportQueueDeps {
  db: Db;
  log: Logger;
  pubsub: PubSub;
  /** Opens the source and target registries' backends (clients with their credentials). */
  backends: () => RegistryBackends;
}

export interface ImportQueueOptions {
  /** Who holds the leases of the imports this instance runs; stable across restarts (see GcQueueOptions.owner). */
  owner: string;
  /** Imports running at once on this instance. @default 2 */
  concurrency?: number;
  /** @default { ttlMs: 30_000, renewEveryMs: 10_000 } */
  lease?: LeaseTiming;
  /** Progress events while bytes move come at most this often. @default 250 */
  progressIntervalMs?: number;
}

/** What to import, resolved and checked by the caller (src/imports/import-request.ts). */
export interface ImportRequest {
  registryId: string;
  sourceRegistryId: string;
  sourceUrl: string;
  sourceRepository: string;
  reference: string;
  targetRepository: string;
  targetTag: string | null;
  requestedById: string | null;
}

type ClaimedImport = ImportJob & { registry: Registry; sourceRegistry: Registry | null };

/**
 * Import jobs: they wait in the database as QUEUED and any berth instance may run them (every
 * instance reaches the hosted backend and the outside registries), a few at a time. A running job
 * holds a lease it renews; progress is saved to its row and published on `importJob:progress`.
 */
export class ImportQueue {
  private readonly lease: LeaseTiming;
  private readonly log: Logger;
  private readonly running = new Map<string, AbortController>();
  private workers = 0;
  private stopped = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly drained = new Set<Promise<void>>();

  constructor(
    private readonly deps: ImportQueueDeps,
    private readonly options: ImportQueueOptions,
  ) {
    this.lease = options.lease ?? { ttlMs: 30_000, renewEveryMs: 10_000 };
    this.log = deps.log.child({ component: 'import' });
  }

  /** Recovers from a previous run of berth, then starts on what waits; other instances' queued jobs are picked up by polling. */
  async start(): Promise<void> {
    await this.recover();
    this.wake();
    this.pollTimer = setInterval(() => this.wake(), 5_000);
    this.pollTimer.unref();
  }

  /** Interrupts running imports and waits for them to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    for (const controller of this.running.values()) controller.abort(new ImportAbort('INTERRUPTED', 'berth shut down during the import'));
    await Promise.all(this.drained);
  }

  async enqueue(request: ImportRequest): Promise<ImportJob> {
    const job = await this.deps.db.importJob.create({ data: request });
    this.log.info({ jobId: job.id, registryId: job.registryId, source: `${request.sourceUrl}/${request.sourceRepository}:${request.reference}` }, 'import queued');
    await this.publish(job.id);
    this.wake();
    return job;
  }

  /** A queued import is cancelled at once; a running one stops at once on its instance and ends CANCELLED. */
  async cancel(jobId: string): Promise<ImportJob> {
    const { db } = this.deps;
    const dequeued = await db.importJob.updateMany({
      where: { id: jobId, status: 'QUEUED' },
      data: { status: 'CANCELLED', finishedAt: new Date(), percent: 100, error: 'cancelled before it started' },
    });
    if (dequeued.count === 1) return this.publish(jobId);
    const job = await db.importJob.findUnique({ where: { id: jobId } });
    if (!job) throw new NotFoundError(`no import job ${jobId}`);
    if (job.status !== 'RUNNING') throw new ConflictError(`the import has already ended (${job.status})`);
    await db.importJob.update({ where: { id: jobId }, data: { cancelRequested: true } });
    this.running.get(jobId)?.abort(new ImportAbort('CANCELLED', 'cancelled while running'));
    return (await db.importJob.findUnique({ where: { id: jobId } }))!;
  }

  private wake(): void {
    const concurrency = this.options.concurrency ?? 2;
    while (!this.stopped && this.workers < concurrency) {
      this.workers += 1;
      const worker = this.work()
        .catch((error: unknown) => this.log.error({ err: error }, 'import worker failed'))
        .finally(() => {
          this.workers -= 1;
          this.drained.delete(worker);
        });
      this.drained.add(worker);
    }
  }

  private async work(): Promise<void> {
    for (let job = await this.claimNext(); job; job = await this.claimNext()) await this.execute(job);
  }

  /** The oldest QUEUED import, now RUNNING under this instance's lease; null when none waits. */
  private async claimNext(): Promise<ClaimedImport | null> {
    const { db } = this.deps;
    while (!this.stopped) {
      const next = await db.importJob.findFirst({ where: { status: 'QUEUED' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
      if (!next) return null;
      const now = new Date();
      const claimed = await db.importJob.updateMany({
        where: { id: next.id, status: 'QUEUED' },
        data: { status: 'RUNNING', startedAt: now, leaseOwner: this.options.owner, leaseExpiresAt: new Date(now.getTime() + this.lease.ttlMs) },
      });
      if (claimed.count === 1) return db.importJob.findUniqueOrThrow({ where: { id: next.id }, include: { registry: true, sourceRegistry: true } });
    }
    return null;
  }

  private async execute(job: ClaimedImport): Promise<void> {
    const log = this.log.child({ jobId: job.id });
    const controller = new AbortController();
    this.running.set(job.id, controller);
    const lease = holdLease(() => this.renewLease(job.id), this.lease, log, (end) =>
      controller.abort(end === 'cancel-requested' ? new ImportAbort('CANCELLED', 'cancelled while running') : new ImportAbort('INTERRUPTED', 'this berth instance lost the import’s lease')),
    );
    const progress = new ImportProgress();
    const reporter = new ProgressReporter(() => progress.fields(), (fields) => this.saveProgress(job.id, fields), this.options.progressIntervalMs ?? 250, log);
    await this.publish(job.id);

    let status: ImportJob['status'] = 'SUCCEEDED';
    let error: string | null = null;
    try {
      if (!job.sourceRegistry) throw new Error('the source registry was deleted before the import started');
      const backends = this.deps.backends();
      const source = backends.open(job.sourceRegistry);
      const target = backends.open(job.registry);
      // Names were checked when the job was queued.
      await runImport({
        source: { client: source.client, repository: source.pathOf(job.sourceRepository)!, reference: job.reference },
        target: { client: target.client, repository: target.pathOf(job.targetRepository)!, tag: job.targetTag },
        sameBackend: job.sourceRegistry.kind === 'HOSTED',
        quotaRefusal: (bytes) => this.quotaRefusal(job.registry, bytes),
        progress,
        reporter,
        log,
        signal: controller.signal,
      });
    } catch (failure) {
      const abort = controller.signal.reason;
      if (abort instanceof ImportAbort) {
        status = abort.status;
        error = abort.message;
      } else {
        status = 'FAILED';
        error = failureMessage(failure, job);
        log.warn({ err: failure }, 'import failed');
      }
    } finally {
      lease.release();
      this.running.delete(job.id);
    }

    await reporter.settled();
    if (status === 'SUCCEEDED') progress.enter('DONE');
    progress.finish();
    const { count } = await this.deps.db.importJob.updateMany({
      where: { id: job.id, status: 'RUNNING', leaseOwner: this.options.owner },
      data: { ...progress.fields(), status, error, finishedAt: new Date(), leaseExpiresAt: null },
    });
    if (count === 1) await this.publish(job.id);
    log.info({ status, error, bytesCopied: progress.bytesCopied, blobsCopied: progress.blobsCopied, blobsSkipped: progress.blobsSkipped }, 'import ended');
  }

  /** Whether storing `bytes` more would pass the target registry's quota, from its usage now. */
  private async quotaRefusal(registry: Registry, bytes: number): Promise<string | null> {
    if (registry.slug === null || registry.quotaBytes === null) return null;
    const stored = (await storedBytesBySlug(this.deps.db, [registry.slug])).get(registry.slug) ?? 0;
    if (BigInt(stored + bytes) <= registry.quotaBytes) return null;
    return `quota exceeded: registry ${registry.slug} stores ${stored} bytes, its quota is ${registry.quotaBytes} bytes`;
  }

  private async renewLease(jobId: string): Promise<LeaseState> {
    const { db } = this.deps;
    const { count } = await db.importJob.updateMany({
      where: { id: jobId, status: 'RUNNING', leaseOwner: this.options.owner },
      data: { leaseExpiresAt: new Date(Date.now() + this.lease.ttlMs) },
    });
    if (count === 0) return 'lost';
    const row = await db.importJob.findUnique({ where: { id: jobId }, select: { cancelRequested: true } });
    return row?.cancelRequested ? 'cancel-requested' : 'held';
  }

  private async saveProgress(jobId: string, fields: ImportProgressFields): Promise<void> {
    const { count } = await this.deps.db.importJob.updateMany({ where: { id: jobId, status: 'RUNNING', leaseOwner: this.options.owner }, data: fields });
    if (count === 1) await this.publish(jobId);
  }

  /** Publishes the job's row as it is now; every change goes to the database first, then out. */
  private async publish(jobId: string): Promise<ImportJob> {
    const job = await this.deps.db.importJob.findUniqueOrThrow({ where: { id: jobId } });
    this.deps.pubsub.publish('importJob:progress', jobId, job);
    return job;
  }

  /** After a crash: imports this instance held, or whose lease ran out, are INTERRUPTED. Running them again resumes them. */
  private async recover(): Promise<void> {
    const { db } = this.deps;
    const now = new Date();
    const abandoned = await db.importJob.findMany({
      where: { status: 'RUNNING', OR: [{ leaseOwner: this.options.owner }, { leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
    });
    for (const job of abandoned) {
      const error = `interrupted: ${job.leaseOwner === this.options.owner ? 'berth stopped' : 'its berth instance stopped renewing the lease'} during ${job.phase}; importing again resumes it`;
      const { count } = await db.importJob.updateMany({
        where: { id: job.id, status: 'RUNNING' },
        data: { status: 'INTERRUPTED', error, finishedAt: now, percent: 100, leaseExpiresAt: null },
      });
      if (count === 1) await this.publish(job.id);
      this.log.warn({ jobId: job.id, phase: job.phase }, 'import interrupted by a crash');
    }
  }
}

/** Why a running import was stopped before its end. */
class ImportAbort extends Error {
  constructor(
    readonly status: 'CANCELLED' | 'INTERRUPTED',
    message: string,
  ) {
    super(message);
    this.name = 'ImportAbort';
  }
}

/** What a person reading the job needs: the source's own words for a missing tag, not a stack. */
function failureMessage(failure: unknown, job: ImportJob): string {
  if (failure instanceof RegistryNotFoundError) return `${job.sourceUrl}/${job.sourceRepository} has no ${job.reference}: ${failure.message}`;
  if (failure instanceof RegistryError || failure instanceof Error) return failure.message;
  return String(failure);
}
