import type { Context } from '../context.js';
import type { LoadedManifest } from '../registry/loaders.js';
import { isTag } from '../registry/v2/reference.js';
import { imageBytes, loadManifest } from '../registry/usage.js';
import { builder } from './builder.js';
import { ImageRef, signatureTag } from './image.js';
import { OrderDirection } from './ordering.js';
import { canSeeRegistry, parseContentId, type RepositoryRecord, RepositoryRef, repositoryRecord } from './repository.js';

/** A tag with the manifest it points at, read when the tag is listed or looked up. */
export interface TagRecord {
  repository: RepositoryRecord;
  name: string;
  loaded: LoadedManifest;
}

export const TagRef = builder.objectRef<TagRecord>('Tag');

/** The tag, or null when the name is invalid or the repository has no such tag. */
export async function loadTag(ctx: Context, repository: RepositoryRecord, name: string): Promise<TagRecord | null> {
  if (!isTag(name)) return null;
  const loaded = await loadManifest(ctx.loaders, { repository: repository.path, reference: name });
  return loaded && { repository, name, loaded };
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
  id: { resolve: (tag) => `${tag.repository.registry.id}/${tag.repository.name}:${tag.name}` },
  loadOne: async (id, ctx) => {
    const parsed = await parseContentId(ctx, id);
    const colon = parsed?.rest.lastIndexOf(':') ?? -1;
    if (!parsed || colon <= 0) return null;
    const repository = repositoryRecord(parsed.registry, parsed.rest.slice(0, colon));
    return repository && loadTag(ctx, repository, parsed.rest.slice(colon + 1));
  },
  authScopes: (tag, ctx) => canSeeRegistry(ctx, tag.repository.registry),
  fields: (t) => ({
    name: t.exposeString('name'),
    repository: t.field({ type: RepositoryRef, resolve: (tag) => tag.repository }),
    digest: t.string({ resolve: (tag) => tag.loaded.digest }),
    image: t.field({ type: ImageRef, resolve: (tag) => ({ repository: tag.repository, loaded: tag.loaded }) }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: "Its image's size (see Image.sizeBytes).",
      resolve: (tag, _args, ctx) => imageBytes(ctx.loaders, tag.repository.path, tag.loaded),
    }),
    pushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the tag came to point at its digest, from the registry’s notifications (or when berth first saw it, for a push it was not told about).',
      resolve: async (tag, _args, ctx) => (await ctx.activity.tags.load(tag.repository.path)).get(tag.name)?.pushedAt ?? null,
    }),
    pulledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last pull through the tag (berth’s own reads do not count).',
      resolve: async (tag, _args, ctx) => (await ctx.activity.tags.load(tag.repository.path)).get(tag.name)?.pulledAt ?? null,
    }),
    signed: t.boolean({
      nullable: true,
      description: 'A cosign signature tag (`sha256-<hex>.sig`) exists for its digest.',
      resolve: async (tag, _args, ctx) => (await ctx.loaders.tags.load(tag.repository.path)).includes(signatureTag(tag.loaded.digest)),
    }),
  }),
});
