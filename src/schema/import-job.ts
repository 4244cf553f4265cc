import { visibleRegistries } from '../auth/access.js';
import type { Context } from '../context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { ImportJob as ImportJobRow } from '../generated/prisma/client.js';
import { defaultImportSource, importRequest } from '../imports/import-request.js';
import { isNewerImport, isTerminalImport } from '../imports/progress.js';
import { registryEndpoint } from '../tenancy/registries.js';
import { findRegistryForAction, findRegistryJobForAction } from './authorized-lookups.js';
import { builder } from './builder.js';
import { ImageRef } from './image.js';
import { jobProgress } from './progress-stream.js';
import { Registry } from './registry.js';
import { backendOf } from './repository.js';

const ImportStatusEnum = builder.enumType('ImportStatus', {
  description: 'QUEUED waits for a worker; INTERRUPTED: berth stopped while it ran (importing again resumes it).',
  values: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const,
});

export const ImportJob = builder.prismaNode('ImportJob', {
  id: { field: 'id' },
  // Tenancy as for Registry: node(id) answers null for a job of a registry the viewer cannot see.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [{ registry: visibleRegistries(ctx.viewer) }] }),
  description: 'Copying an image (a tag or digest; an index with every platform) from a registry into a hosted one.',
  fields: (t) => ({
    registry: t.relation('registry', { description: 'The hosted registry it imports into.' }),
    sourceRegistry: t.relation('sourceRegistry', {
      nullable: true,
      description: 'Null once the source connection is deleted (the imported images stay); sourceUrl still says where it was.',
    }),
    sourceUrl: t.exposeString('sourceUrl'),
    sourceRepository: t.exposeString('sourceRepository'),
    reference: t.exposeString('reference', { description: 'The tag or digest imported.' }),
    targetRepository: t.exposeString('targetRepository', { description: 'The repository in the target registry (a name inside it).' }),
    targetTag: t.exposeString('targetTag', { nullable: true, description: 'Null for an import by digest: the image is reachable by its digest.' }),
    status: t.expose('status', { type: ImportStatusEnum }),
    phase: t.exposeString('phase', { description: 'QUEUED, RESOLVING, COPYING, MANIFESTS, DONE in this order; where it is, or where it ended.' }),
    bytesTotal: t.field({ type: 'SafeInt', description: 'Bytes of every blob the image needs.', resolve: (job) => job.bytesTotal }),
    bytesCopied: t.field({ type: 'SafeInt', description: 'Bytes copied or mounted so far; blobs the target already held are not counted.', resolve: (job) => job.bytesCopied }),
    blobsTotal: t.exposeInt('blobsTotal'),
    blobsCopied: t.exposeInt('blobsCopied', { description: 'Blobs streamed from the source, or mounted within berth’s backend.' }),
    blobsSkipped: t.exposeInt('blobsSkipped', { description: 'Blobs the target already held, from an earlier import or push.' }),
    percent: t.exposeFloat('percent', { description: 'Rises monotonically; 100 once the job has ended, however it ended.' }),
    digest: t.exposeString('digest', { nullable: true, description: 'What the reference named in the source, once resolved.' }),
    image: t.field({
      type: ImageRef,
      nullable: true,
      description: 'The imported image in the target registry, once the import succeeded.',
      resolve: (job, _args, ctx) => importedImage(ctx, job),
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed, was cancelled or was interrupted.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

async function importedImage(ctx: Context, job: ImportJobRow) {
  if (job.status !== 'SUCCEEDED' || job.digest === null) return null;
  const registry = await ctx.db.registry.findUnique({ where: { id: job.registryId } });
  const path = registry && backendOf(ctx, registry).pathOf(job.targetRepository);
  return registry && path ? { repository: { registry, name: job.targetRepository, path }, digest: job.digest } : null;
}

builder.prismaObjectField(Registry, 'importJobs', (t) =>
  t.relatedConnection(
    'importJobs',
    {
      cursor: 'id',
      totalCount: true,
      description: 'Imports into this registry, newest first.',
      query: () => ({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
    },
    { name: 'ImportJobConnection' },
    { name: 'ImportJobEdge' },
  ),
);

builder.relayMutationField(
  'importImage',
  {
    name: 'ImportImageInput',
    inputFields: (t) => ({
      sourceRegistryId: t.id({ description: 'Default: the target namespace’s default connection.' }),
      sourceRepository: t.string({ required: true, description: 'The path in the source, e.g. "library/alpine".' }),
      reference: t.string({ required: true, description: 'A tag or a digest.' }),
      targetRegistryId: t.id({ required: true, description: 'A hosted registry.' }),
      targetRepository: t.string({ description: 'Default: the last segment of sourceRepository.' }),
      targetTag: t.string({ description: 'Default: the reference when it is a tag.' }),
    }),
  },
  {
    description:
      'Queues an import (MAINTAINER of the target; a member of the source’s namespace) and returns the job at once. Follow it with importJobProgress.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const target = await findRegistryForAction(ctx, input.targetRegistryId, 'targetRegistryId', 'MAINTAINER');
      const source =
        input.sourceRegistryId != null
          ? await findRegistryForAction(ctx, input.sourceRegistryId, 'sourceRegistryId', 'VIEWER')
          : await defaultImportSource(ctx.db, target.namespaceId);
      if (!source) throw new ValidationError('the namespace has no default connection to import from; name one', 'sourceRegistryId');
      const request = importRequest(
        { registry: target, backend: backendOf(ctx, target) },
        { registry: source, backend: backendOf(ctx, source), url: source.url ?? registryEndpoint(ctx.config.registry.publicHost, source.slug) },
        input,
        ctx.viewer?.id ?? null,
      );
      return { job: await ctx.imports.enqueue(request) };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: ImportJob, resolve: (payload) => payload.job }) }) },
);

builder.relayMutationField(
  'cancelImport',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: 'Cancels an import (MAINTAINER of the target). What already arrived stays; importing again resumes from there.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const job = await findRegistryJobForAction(
        ctx,
        {
          typename: 'ImportJob',
          label: 'import job',
          find: (id, registry) => ctx.db.importJob.findFirst({ where: { id, registry }, include: { registry: { select: { namespaceId: true } } } }),
        },
        input.id,
        'id',
        'MAINTAINER',
      );
      return { job: await ctx.imports.cancel(job.id) };
    },
  },
  { outputFields: (t) => ({ job: t.field({ type: ImportJob, resolve: (payload) => payload.job }) }) },
);

builder.subscriptionField('importJobProgress', (t) =>
  t.field({
    type: ImportJob,
    description: 'The import as it is now, then an event at every phase and as bytes move; completes after its terminal status. Members only.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) =>
      jobProgress<ImportJobRow>(id, {
        typename: 'ImportJob',
        label: 'import job',
        live: (jobId) => ctx.pubsub.subscribe('importJob:progress', jobId),
        snapshot: (jobId) => ctx.db.importJob.findFirst({ where: { id: jobId, registry: visibleRegistries(ctx.viewer) } }),
        isTerminal: (job) => isTerminalImport(job.status),
        isNewer: isNewerImport,
      }),
    resolve: (job) => job,
  }),
);
