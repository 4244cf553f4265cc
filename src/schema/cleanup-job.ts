import { visibleRegistries } from '../auth/access.js';
import { CleanupAlreadyRunningError } from '../cleanup/errors.js';
import { isNewer, isTerminal } from '../cleanup/progress.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { findRegistryForAction, findRegistryJobForAction } from './authorized-lookups.js';
import { builder } from './builder.js';
import { CleanupRuleRef, storedRules } from './cleanup-policy.js';
import { ErrorInterface } from './errors.js';
import { jobProgress } from './progress-stream.js';
import { Registry } from './registry.js';

const CleanupStatusEnum = builder.enumType('CleanupStatus', {
  description: 'QUEUED: about to start (one open job per registry). INTERRUPTED: berth stopped while it ran.',
  values: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const,
});

const CleanupTriggerEnum = builder.enumType('CleanupTrigger', {
  description: 'MANUAL: runCleanup. SCHEDULE: the policy’s schedule.',
  values: ['MANUAL', 'SCHEDULE'] as const,
});

builder.prismaObject('CleanupDeletion', {
  description: 'A tag a cleanup run deleted, or in a dry run (or when it stopped first) meant to delete.',
  fields: (t) => ({
    repository: t.exposeString('repository', { description: 'Its repository’s name inside the registry.' }),
    tag: t.exposeString('tag'),
    digest: t.exposeString('digest', { description: 'The image it pointed at when the run judged it.' }),
    rule: t.exposeInt('rule', { description: 'The rule that selected it, by position from 0 in the job’s rules.' }),
    reason: t.exposeString('reason', { description: 'Why that rule deletes it, in words.' }),
    deleted: t.boolean({ select: { deletedAt: true }, resolve: (row) => row.deletedAt !== null }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    error: t.exposeString('error', { nullable: true, description: 'Why it was not deleted (pushed again since, already gone, the registry failed).' }),
  }),
});

export const CleanupJob = builder.prismaNode('CleanupJob', {
  id: { field: 'id' },
  // Tenancy as for Registry: node(id) answers null for a job of a registry the viewer cannot see.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [{ registry: visibleRegistries(ctx.viewer) }] }),
  description: 'A run of a registry’s cleanup policy: it deletes the tags the rules select, then has a garbage collection reclaim their storage.',
  fields: (t) => ({
    registry: t.relation('registry'),
    status: t.expose('status', { type: CleanupStatusEnum }),
    phase: t.exposeString('phase', {
      description:
        'QUEUED, PLANNING, DELETING, then the garbage collection’s: GC_QUEUED, GC_PREPARING, GC_READ_ONLY, GC_MARKING, GC_SWEEPING, GC_RESTORING. ' +
        'A dry run ends after PLANNING; a run that only deleted tags of images that stay needs no collection.',
    }),
    trigger: t.expose('trigger', { type: CleanupTriggerEnum }),
    dryRun: t.exposeBoolean('dryRun'),
    rules: t.field({ type: [CleanupRuleRef], description: 'The rules it ran with.', select: { rules: true }, resolve: (job) => storedRules(job.rules) }),
    tagsTotal: t.exposeInt('tagsTotal', { description: 'Tags the rules selected.' }),
    tagsDeleted: t.exposeInt('tagsDeleted'),
    expectedBytesFreed: t.field({ type: 'SafeInt', description: 'What the preview said, when the job planned.', resolve: (job) => job.expectedBytesFreed }),
    bytesFreed: t.field({
      type: 'SafeInt',
      description:
        'The blobs its deletions left unused that the garbage collection then removed from storage (checked on disk, blob by blob). For ' +
        'a dry run, what a real run would free.',
      resolve: (job) => job.bytesFreed,
    }),
    percent: t.exposeFloat('percent', { description: 'Rises monotonically; 100 once the job has ended, however it ended.' }),
    gcJob: t.relation('gcJob', { nullable: true, description: 'The garbage collection it requested (or joined).' }),
    deletions: t.relatedConnection(
      'deletions',
      { cursor: 'id', totalCount: true, description: 'The tags it selected, by repository then name.', query: () => ({ orderBy: [{ repository: 'asc' }, { tag: 'asc' }, { id: 'asc' }] }) },
      { name: 'CleanupDeletionConnection' },
      { name: 'CleanupDeletionEdge' },
    ),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed, was cancelled or was interrupted.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.prismaObjectField(Registry, 'cleanupJobs', (t) =>
  t.relatedConnection(
    'cleanupJobs',
    { cursor: 'id', totalCount: true, description: 'Cleanup runs, newest first.', query: () => ({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }) },
    { name: 'CleanupJobConnection' },
    { name: 'CleanupJobEdge' },
  ),
);

builder.objectType(CleanupAlreadyRunningError, {
  name: 'CleanupAlreadyRunningError',
  description: 'The registry already has a cleanup queued or running: `job`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof CleanupAlreadyRunningError,
  fields: (t) => ({ job: t.field({ type: CleanupJob, resolve: (error) => error.job }) }),
});

builder.relayMutationField(
  'runCleanup',
  {
    inputFields: (t) => ({
      registryId: t.id({ required: true }),
      dryRun: t.boolean({ defaultValue: false, description: 'Plan and record what a real run would delete and free, deleting nothing.' }),
    }),
  },
  {
    description:
      'Runs a hosted registry’s saved cleanup policy now (MAINTAINER), enabled or not, and returns the QUEUED job at once: it deletes the ' +
      'tags the rules select, then requests a garbage collection, which joins the next window. Watch it with cleanupJobProgress.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, CleanupAlreadyRunningError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.registryId, 'registryId', 'MAINTAINER');
      const job = await ctx.cleanup.enqueue({ registryId: registry.id, dryRun: input.dryRun ?? false, trigger: 'MANUAL', requestedById: ctx.viewer?.id ?? null });
      return { job };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: CleanupJob, resolve: (payload) => payload.job }) }) },
);

builder.relayMutationField(
  'cancelCleanup',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Cancels a cleanup job (MAINTAINER). A queued job is CANCELLED at once; a running one stops after the repository it is deleting in, or ' +
      'at once while it waits for its garbage collection (which it then cancels, if it asked for it): the returned job may still be RUNNING.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const job = await findRegistryJobForAction(
        ctx,
        {
          typename: 'CleanupJob',
          label: 'cleanup job',
          find: (id, registry) => ctx.db.cleanupJob.findFirst({ where: { id, registry }, include: { registry: { select: { namespaceId: true } } } }),
        },
        input.id,
        'id',
        'MAINTAINER',
      );
      return { job: await ctx.cleanup.cancel(job.id) };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: CleanupJob, resolve: (payload) => payload.job }) }) },
);

builder.subscriptionField('cleanupJobProgress', (t) =>
  t.field({
    type: CleanupJob,
    description:
      'The job as it is now, then its progress (tags deleted of the total, then the garbage collection’s phases) at least once a second ' +
      'while it moves; completes after its terminal status. Members of the registry’s namespace only.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) =>
      jobProgress(id, {
        typename: 'CleanupJob',
        label: 'cleanup job',
        live: (jobId) => ctx.pubsub.subscribe('cleanupJob:progress', jobId),
        snapshot: (jobId) => ctx.db.cleanupJob.findFirst({ where: { id: jobId, registry: visibleRegistries(ctx.viewer) } }),
        isTerminal: (job) => isTerminal(job.status),
        isNewer,
      }),
    resolve: (job) => job,
  }),
);
