import type { Context } from '../context.js';
import type { TagFacts } from '../registry/content.js';
import { isTag } from '../registry/v2/reference.js';
import { builder } from './builder.js';
import { ImageRef } from './image.js';
import { OrderDirection } from './ordering.js';
import { contentOf, parseContentId, type RepositoryRecord, RepositoryRef, repositoryRecord } from './repository.js';

/** A tag and the digest it points at, as read when the tag was listed or looked up. */
export interface TagRecord {
  repository: RepositoryRecord;
  tag: TagFacts;
}

export const TagRef = builder.objectRef<TagRecord>('Tag');

/** The tag, or null when the name is invalid or the repository has no such tag. */
export async function loadTag(ctx: Context, repository: RepositoryRecord, name: string): Promise<TagRecord | null> {
  if (!isTag(name)) return null;
  const tag = await contentOf(ctx, repository).tag(repository.path, name);
  return tag && { repository, tag };
}

const TagOrderField = builder.enumType('TagOrderField', { values: ['NAME', 'PUSHED_AT'] as const });

export const TagOrder = builder.inputType('TagOrder', {
  fields: (t) => ({
    field: t.field({ type: TagOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

builder.node(TagRef, {
  description: 'A tag of a repository and the manifest it points at now.',
  id: { resolve: ({ repository, tag }) => `${repository.registry.id}/${repository.name}:${tag.name}` },
  loadOne: async (id, ctx) => {
    const parsed = await parseContentId(ctx, id);
    const colon = parsed?.rest.lastIndexOf(':') ?? -1;
    if (!parsed || colon <= 0) return null;
    const repository = repositoryRecord(ctx, parsed.registry, parsed.rest.slice(0, colon));
    return repository && loadTag(ctx, repository, parsed.rest.slice(colon + 1));
  },
  // Reached only through a Registry or Repository the viewer may see, or node(id), whose lookup is scoped to the viewer.
  fields: (t) => ({
    name: t.string({ resolve: ({ tag }) => tag.name }),
    repository: t.field({ type: RepositoryRef, resolve: ({ repository }) => repository }),
    digest: t.string({ resolve: ({ tag }) => tag.digest }),
    image: t.field({ type: ImageRef, resolve: ({ repository, tag }) => ({ repository, digest: tag.digest }) }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: "Its image's size (see Image.sizeBytes).",
      resolve: ({ repository, tag }, _args, ctx) => contentOf(ctx, repository).imageBytes(repository.path, tag.digest),
    }),
    exclusiveBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        'What deleting this tag, then a garbage collection, would free now: 0 while another tag keeps its image. Null for an outside registry.',
      resolve: ({ repository, tag }, _args, ctx) => contentOf(ctx, repository).tagExclusiveBytes(repository.path, tag.name),
    }),
    pushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the tag came to point at its digest (or when berth first saw it, for a push it was not told about). Null for an outside registry.',
      resolve: ({ tag }) => tag.pushedAt,
    }),
    pulledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last pull through the tag (berth’s own reads do not count). Null for an outside registry.',
      resolve: ({ tag }) => tag.pulledAt,
    }),
    signed: t.boolean({
      nullable: true,
      description: 'A cosign signature tag (`sha256-<hex>.sig`), or a manifest naming it as its subject, exists for its digest.',
      resolve: ({ repository, tag }, _args, ctx) => contentOf(ctx, repository).signed(repository.path, tag.digest),
    }),
  }),
});
