import type { Context } from '../context.js';
import { BackendUnavailableError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { Registry } from '../generated/prisma/client.js';
import { deleteImage, deleteRepository, deleteTags, type DeletionFailure } from '../registry/content-deletion.js';
import { publishDeletions } from '../registry/deletion-events.js';
import { OperationRefusedError } from '../registry/remote/errors.js';
import { RegistryReadOnlyError } from '../registry/v2/errors.js';
import { findRepositoryForAction } from './authorized-lookups.js';
import { onBackend } from './backend-errors.js';
import { builder } from './builder.js';
import { backendOf } from './repository.js';

// The deletions of seeds 000, 001, 003 and 004, on hosted registries and on outside registries that
// allow deletes (MAINTAINER). Results say exactly what was deleted; when the registry fails midway,
// `failed` says what was not.

const DeletionFailureReason = builder.enumType('DeletionFailureReason', {
  description: 'NOT_FOUND: it did not exist. BACKEND_ERROR: the registry failed before it was deleted.',
  values: ['NOT_FOUND', 'BACKEND_ERROR'] as const,
});

const DeletionFailureRef = builder.objectRef<DeletionFailure>('DeletionFailure').implement({
  description: 'Something a deletion was asked to delete and did not.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The tag, digest or repository.' }),
    reason: t.field({ type: DeletionFailureReason, resolve: (failure) => failure.reason }),
    message: t.string({ resolve: (failure) => failure.error.message }),
  }),
});

const MAX_TAGS_PER_CALL = 500;
const contentErrors = [NotFoundError, ForbiddenError, BackendUnavailableError, RegistryReadOnlyError, OperationRefusedError];

builder.relayMutationField(
  'deleteTags',
  {
    inputFields: (t) => ({
      repositoryId: t.id({ required: true }),
      names: t.stringList({ required: true, description: 'Tags to delete; other tags on the same image stay.' }),
    }),
  },
  {
    description: 'Deletes tags of a repository (MAINTAINER). An image loses its last tag only when every tag on it is deleted.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, ...contentErrors] },
    resolve: async (_root, { input }, ctx) => {
      const { registry, path } = await findRepositoryForAction(ctx, input.repositoryId, 'repositoryId', 'MAINTAINER');
      const names = [...new Set(input.names)];
      if (names.length === 0) throw new ValidationError('name at least one tag', 'names');
      if (names.length > MAX_TAGS_PER_CALL) throw new ValidationError(`at most ${MAX_TAGS_PER_CALL} tags per call`, 'names');
      const result = await onBackend(() => deleteTags(backendOf(ctx, registry).client, path, names));
      await recordDeletions(ctx, registry, path, result.deletedTagNames, result.deletedDigests);
      return result;
    },
  },
  {
    outputFields: (t) => ({
      deletedTagNames: t.exposeStringList('deletedTagNames'),
      deletedDigests: t.exposeStringList('deletedDigests', { description: 'Images that lost their last tag, and their unused index children.' }),
      failed: t.field({ type: [DeletionFailureRef], resolve: (result) => result.failed }),
      unrestored: t.field({
        type: [DeletionFailureRef],
        description: 'Tags that were not asked for but shared an image with deleted ones, and could not be put back. Empty unless the registry failed midway.',
        resolve: (result) => result.unrestored,
      }),
    }),
  },
);

builder.relayMutationField(
  'deleteImage',
  {
    inputFields: (t) => ({
      repositoryId: t.id({ required: true }),
      reference: t.string({ required: true, description: 'A digest (sha256:…) or a tag.' }),
    }),
  },
  {
    description: 'Deletes an image (a manifest or index) with all its tags (MAINTAINER), and the platform images of an index that nothing else uses.',
    authScopes: { authenticated: true },
    errors: { types: [...contentErrors, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const { registry, path } = await findRepositoryForAction(ctx, input.repositoryId, 'repositoryId', 'MAINTAINER');
      const result = await onBackend(() => deleteImage(backendOf(ctx, registry).client, path, input.reference));
      await recordDeletions(ctx, registry, path, result.deletedTagNames, [result.deletedDigest, ...result.deletedChildDigests]);
      return result;
    },
  },
  {
    outputFields: (t) => ({
      deletedDigest: t.exposeString('deletedDigest'),
      deletedTagNames: t.exposeStringList('deletedTagNames'),
      deletedChildDigests: t.exposeStringList('deletedChildDigests'),
      failed: t.field({ type: [DeletionFailureRef], resolve: (result) => result.failed }),
    }),
  },
);

builder.relayMutationField(
  'deleteRepository',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Deletes every image and tag of a repository (MAINTAINER), untagged images included where berth knows them; it then leaves the listings. Its storage is reclaimed by the next garbage collection.',
    authScopes: { authenticated: true },
    errors: { types: contentErrors },
    resolve: async (_root, { input }, ctx) => {
      const { registry, path } = await findRepositoryForAction(ctx, input.id, 'id', 'MAINTAINER');
      const backend = backendOf(ctx, registry);
      // The registry itself decides: the index may not have recorded a push of a moment ago.
      const [tags, untagged] = await onBackend(() => Promise.all([backend.client.listTags(path), backend.untaggedManifests(path)]));
      if (tags.length === 0 && untagged.length === 0) throw new NotFoundError(`id: no repository ${input.id}`);
      const result = await onBackend(() => deleteRepository(backend.client, path, untagged));
      await recordDeletions(ctx, registry, path, result.deletedTagNames, result.deletedDigests);
      return { deletedId: input.id, ...result };
    },
  },
  {
    outputFields: (t) => ({
      deletedId: t.id({ resolve: (result) => result.deletedId }),
      deletedTagNames: t.exposeStringList('deletedTagNames'),
      deletedDigests: t.exposeStringList('deletedDigests'),
      failed: t.field({ type: [DeletionFailureRef], resolve: (result) => result.failed }),
    }),
  },
);

/**
 * berth records its own deletions (the hosted hook skips them: the registry would report a shared
 * image's surviving tags as deleted and pushed anew, losing their push times), and tells the
 * registry's event subscribers.
 */
async function recordDeletions(ctx: Context, registry: Registry, path: string, tags: string[], digests: string[]): Promise<void> {
  const backend = backendOf(ctx, registry);
  await backend.recordDeletion(path, tags, digests);
  publishDeletions(ctx.pubsub, registry.id, backend.nameOf(path), tags, digests);
}
