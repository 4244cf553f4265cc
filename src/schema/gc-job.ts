import { visibleRegistries } from '../auth/access.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { GcAlreadyRunningError } from '../gc/errors.js';
import { isNewer, isTerminal } from '../gc/progress.js';
import { findRegistryForAction, findRegistryJobForAction } from './authorized-lookups.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';
import { jobProgress } from './progress-stream.js';
import { Registry } from './registry.js';

const GcStatusEnum = builder.enumType('GcStatus', {
  description: 'QUEUED waits for the backend (one run at a time) or for its slot; INTERRUPTED: berth stopped while it ran.',
  values: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const,
});

export const GcRun = builder.prismaNode('GcRun', {
  id: { field: 'id' },
  // Visible to whoever sees one of the jobs it serves; the other jobs stay hidden.
  nullable: true,
  findUnique: (id, ctx) => ({ id, jobs: { some: { registry: visibleRegistries(ctx.viewer) } } }),
  description:
    'One run of garbage-collect over the whole backend. Real requests that arrive while a real run waits join it: one read-only window and ' +
    'one sweep serve them all. A dry run has a run of its own.',
  fields: (t) => ({
    status: t.expose('status', { type: GcStatusEnum }),
    dryRun: t.exposeBoolean('dryRun'),
    jobCount: t.relationCount('jobs', { description: 'The requests it serves, across every namespace.' }),
    scheduledAt: t.expose('notBefore', {
      type: 'DateTime',
      nullable: true,
      description:
        'Its slot: the earliest start, BERTH_GC_MIN_INTERVAL after the previous read-only window closed. Null for a dry run, when an ' +
        'admin bypassed the interval, and while the window before it is still open.',
    }),
    bypassInterval: t.exposeBoolean('bypassInterval', { description: 'An admin had it start as soon as the backend is free.' }),
    windowOpenedAt: t.expose('windowOpenedAt', { type: 'DateTime', nullable: true, description: 'When pushes started to be refused.' }),
    windowClosedAt: t.expose('windowClosedAt', { type: 'DateTime', nullable: true, description: 'When the backend took writes again.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const GcJob = builder.prismaNode('GcJob', {
  id: { field: 'id' },
  // Tenancy as for Registry: node(id) answers null for a job of a registry the viewer cannot see.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [{ registry: visibleRegistries(ctx.viewer) }] }),
  description: 'A garbage collection run: reclaims the storage of blobs no manifest references any more.',
  fields: (t) => ({
    registry: t.relation('registry'),
    run: t.relation('run', { nullable: true, description: 'The run that serves it, with the requests of other registries that joined it.' }),
    scheduledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'While QUEUED: when its run’s slot comes (see GcRun.scheduledAt). Null once it started, or when no slot applies.',
      select: { status: true, run: { select: { notBefore: true } } },
      resolve: (job) => (job.status === 'QUEUED' ? (job.run?.notBefore ?? null) : null),
    }),
    status: t.expose('status', { type: GcStatusEnum }),
    phase: t.exposeString('phase', {
      description: 'QUEUED, PREPARING, READ_ONLY, MARKING, SWEEPING, RESTORING, in this order; where the run is, or where it ended. A dry run skips READ_ONLY and RESTORING.',
    }),
    dryRun: t.exposeBoolean('dryRun'),
    deleteUntagged: t.exposeBoolean('deleteUntagged'),
    blobsTotal: t.exposeInt('blobsTotal', { description: 'Blobs stored in the backend when marking began (the sweep is backend-wide).' }),
    blobsMarked: t.exposeInt('blobsMarked', { description: 'Blobs still referenced by a manifest.' }),
    blobsDeleted: t.exposeInt('blobsDeleted', { description: 'Blobs verified gone; for a dry run, those a real run would delete.' }),
    manifestsDeleted: t.exposeInt('manifestsDeleted', { description: 'Untagged manifests deleted (deleteUntagged); for a dry run, those it would delete.' }),
    bytesFreed: t.field({
      type: 'SafeInt',
      description: 'On-disk size of the blobs verified gone after the sweep; for a dry run, of those a real run would delete.',
      resolve: (job) => job.bytesFreed,
    }),
    percent: t.exposeFloat('percent', { description: 'Rises monotonically; 100 once the job has ended, however it ended.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed, was cancelled or was interrupted.' }),
  }),
});

builder.prismaObjectField(Registry, 'gcJobs', (t) =>
  t.relatedConnection(
    'gcJobs',
    {
      cursor: 'id',
      totalCount: true,
      description: 'Garbage collection runs, newest first.',
      query: () => ({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
    },
    { name: 'GcJobConnection' },
    { name: 'GcJobEdge' },
  ),
);

builder.objectType(GcAlreadyRunningError, {
  name: 'GcAlreadyRunningError',
  description: 'The registry already has a garbage collection queued or running: `job`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof GcAlreadyRunningError,
  fields: (t) => ({ job: t.field({ type: GcJob, resolve: (error) => error.job }) }),
});

builder.relayMutationField(
  'startGarbageCollection',
  {
    inputFields: (t) => ({
      registryId: t.id({ required: true }),
      dryRun: t.boolean({ defaultValue: false, description: 'Report what a real run would delete and free, deleting nothing.' }),
      deleteUntagged: t.boolean({
        defaultValue: false,
        description: "First delete the registry's manifests that no tag reaches (children of tagged indexes stay).",
      }),
      bypassInterval: t.boolean({
        defaultValue: false,
        description: 'Admins only: start as soon as the backend is free instead of waiting for BERTH_GC_MIN_INTERVAL after the last window.',
      }),
    }),
  },
  {
    description:
      'Queues a garbage collection of the backend on behalf of a hosted registry (MAINTAINER) and returns the QUEUED job at once. ' +
      'It joins the real run that waits, if any; a real run starts no earlier than BERTH_GC_MIN_INTERVAL after the last read-only ' +
      'window (scheduledAt). Pushes to every hosted registry fail with "registry in maintenance" during the short window; pulls keep ' +
      'working. A dry run needs no window and never waits for a slot.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, GcAlreadyRunningError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.registryId, 'registryId', 'MAINTAINER');
      if (registry.kind !== 'HOSTED' || registry.slug === null) {
        throw new ValidationError('garbage collection reclaims the storage of hosted registries; this one is EXTERNAL', 'registryId');
      }
      const bypassInterval = input.bypassInterval ?? false;
      if (bypassInterval && !ctx.viewer?.isAdmin) throw new ForbiddenError('only admins may bypass the minimum interval between GC windows');
      const job = await ctx.gc.enqueue({
        registryId: registry.id,
        dryRun: input.dryRun ?? false,
        deleteUntagged: input.deleteUntagged ?? false,
        requestedById: ctx.viewer?.id ?? null,
        bypassInterval,
      });
      return { job };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: GcJob, resolve: (payload) => payload.job }) }) },
);

builder.relayMutationField(
  'cancelGarbageCollection',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Cancels a GC job (MAINTAINER). A queued job is CANCELLED at once; a running one stops at its next safe point and makes the ' +
      'registry writable again, so the returned job may still be RUNNING (watch gcJobProgress).',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const job = await findRegistryJobForAction(
        ctx,
        {
          typename: 'GcJob',
          label: 'GC job',
          find: (id, registry) => ctx.db.gcJob.findFirst({ where: { id, registry }, include: { registry: { select: { namespaceId: true } } } }),
        },
        input.id,
        'id',
        'MAINTAINER',
      );
      return { job: await ctx.gc.cancel(job.id) };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: GcJob, resolve: (payload) => payload.job }) }) },
);

builder.subscriptionField('gcJobProgress', (t) =>
  t.field({
    type: GcJob,
    description:
      'The job as it is now, then an event on every phase change and at least once a second while its counts move; completes after ' +
      'its terminal status. Members of the registry’s namespace only.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) =>
      jobProgress(id, {
        typename: 'GcJob',
        label: 'GC job',
        live: (jobId) => ctx.pubsub.subscribe('gcJob:progress', jobId),
        snapshot: (jobId) => ctx.db.gcJob.findFirst({ where: { id: jobId, registry: visibleRegistries(ctx.viewer) } }),
        isTerminal: (job) => isTerminal(job.status),
        isNewer,
      }),
    resolve: (job) => job,
  }),
);
