import type { Context } from '../context.js';
import type { LayerFacts, ManifestFacts, PlatformFacts } from '../registry/content.js';
import { isDigest } from '../registry/v2/reference.js';
import { builder } from './builder.js';
import { OrderDirection } from './ordering.js';
import { contentOf, parseContentId, type RepositoryRecord, RepositoryRef, repositoryRecord } from './repository.js';
import { TagRef } from './tag.js';

/** One manifest (image or index) of a repository, by digest. */
export interface ImageRecord {
  repository: RepositoryRecord;
  digest: string;
}

export const ImageRef = builder.objectRef<ImageRecord>('Image');

/** The image a digest or tag names, or null when the repository has no such manifest. */
export async function loadImage(ctx: Context, repository: RepositoryRecord, reference: string): Promise<ImageRecord | null> {
  const digest = await contentOf(ctx, repository).resolve(repository.path, reference);
  return digest === null ? null : { repository, digest };
}

const ImageOrderField = builder.enumType('ImageOrderField', { values: ['DIGEST', 'PUSHED_AT'] as const });

export const ImageOrder = builder.inputType('ImageOrder', {
  fields: (t) => ({
    field: t.field({ type: ImageOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const Layer = builder.objectRef<LayerFacts>('Layer').implement({
  fields: (t) => ({
    digest: t.exposeString('digest'),
    mediaType: t.exposeString('mediaType'),
    sizeBytes: t.field({ type: 'SafeInt', description: 'Compressed, as stored.', resolve: (layer) => layer.size }),
  }),
});

const Platform = builder.objectRef<{ repository: RepositoryRecord; platform: PlatformFacts }>('Platform').implement({
  description: 'A runnable child of an index.',
  fields: (t) => ({
    digest: t.string({ resolve: ({ platform }) => platform.digest }),
    os: t.string({ resolve: ({ platform }) => platform.os }),
    architecture: t.string({ resolve: ({ platform }) => platform.architecture }),
    variant: t.string({ nullable: true, resolve: ({ platform }) => platform.variant }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: "The child image's config and layers.",
      resolve: ({ repository, platform }, _args, ctx) => contentOf(ctx, repository).imageBytes(repository.path, platform.digest),
    }),
  }),
});

/** Lists built from the manifest already in hand cost nothing more: they are priced as one field. */
const IN_HAND = { field: 1, multiplier: 1 };

/** The image's manifest; an image record only exists for a manifest its repository holds. */
async function manifestOf(ctx: Context, { repository, digest }: ImageRecord): Promise<ManifestFacts> {
  const manifest = await contentOf(ctx, repository).manifest(repository.path, digest);
  if (!manifest) throw new Error(`${repository.path}@${digest}: the manifest is not readable`);
  return manifest;
}
const configOf = (ctx: Context, { repository, digest }: ImageRecord) => contentOf(ctx, repository).config(repository.path, digest);
const activityOf = (ctx: Context, { repository, digest }: ImageRecord) => contentOf(ctx, repository).imageActivity(repository.path, digest);

builder.node(ImageRef, {
  description: 'A manifest or index of a repository, by digest.',
  id: { resolve: ({ repository, digest }) => `${repository.registry.id}/${repository.name}@${digest}` },
  loadOne: async (id, ctx) => {
    const parsed = await parseContentId(ctx, id);
    const at = parsed?.rest.lastIndexOf('@') ?? -1;
    if (!parsed || at <= 0) return null;
    const repository = repositoryRecord(ctx, parsed.registry, parsed.rest.slice(0, at));
    const digest = parsed.rest.slice(at + 1);
    return repository && isDigest(digest) ? loadImage(ctx, repository, digest) : null;
  },
  // Reached only through a Registry or Repository the viewer may see, or node(id), whose lookup is scoped to the viewer.
  fields: (t) => ({
    repository: t.field({ type: RepositoryRef, resolve: (image) => image.repository }),
    digest: t.exposeString('digest'),
    mediaType: t.string({ resolve: async (image, _args, ctx) => (await manifestOf(ctx, image)).mediaType }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Config and layers, compressed as stored; for an index, the sum of its platform images.',
      resolve: ({ repository, digest }, _args, ctx) => contentOf(ctx, repository).imageBytes(repository.path, digest),
    }),
    exclusiveBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        'What deleting the image with its tags, then a garbage collection, would free now: blobs no other manifest anywhere on the backend references. Null for an outside registry.',
      resolve: ({ repository, digest }, _args, ctx) => contentOf(ctx, repository).imageExclusiveBytes(repository.path, digest),
    }),
    tags: t.field({
      type: [TagRef],
      nullable: true,
      complexity: IN_HAND,
      description: 'The tags pointing at it, by name.',
      resolve: async ({ repository, digest }, _args, ctx) => {
        const names = await contentOf(ctx, repository).imageTags(repository.path, digest);
        const tags = await Promise.all(names.map((name) => contentOf(ctx, repository).tag(repository.path, name)));
        return tags.flatMap((tag) => (tag ? [{ repository, tag }] : []));
      },
    }),
    pushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Its first push into the repository; null for an outside registry.',
      resolve: async (image, _args, ctx) => (await activityOf(ctx, image)).pushedAt,
    }),
    pulledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last pull by tag or digest (berth’s own reads do not count); null for an outside registry.',
      resolve: async (image, _args, ctx) => (await activityOf(ctx, image)).pulledAt,
    }),
    signed: t.boolean({
      nullable: true,
      description: 'A cosign signature tag (`sha256-<hex>.sig`), or a manifest naming it as its subject, exists for it.',
      resolve: ({ repository, digest }, _args, ctx) => contentOf(ctx, repository).signed(repository.path, digest),
    }),
    createdAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'From the image config; null for an index.',
      resolve: async (image, _args, ctx) => (await configOf(ctx, image))?.created ?? null,
    }),
    os: t.string({ nullable: true, resolve: async (image, _args, ctx) => (await configOf(ctx, image))?.os ?? null }),
    architecture: t.string({ nullable: true, resolve: async (image, _args, ctx) => (await configOf(ctx, image))?.architecture ?? null }),
    configDigest: t.string({
      nullable: true,
      description: 'Null for an index.',
      resolve: async (image, _args, ctx) => (await manifestOf(ctx, image)).configDigest,
    }),
    layers: t.field({
      type: [Layer],
      complexity: IN_HAND,
      description: 'Empty for an index.',
      resolve: async (image, _args, ctx) => (await manifestOf(ctx, image)).layers,
    }),
    platforms: t.field({
      type: [Platform],
      complexity: IN_HAND,
      description: 'The runnable children of an index (attestations left out); empty for an image.',
      resolve: async (image, _args, ctx) => (await manifestOf(ctx, image)).platforms.map((platform) => ({ repository: image.repository, platform })),
    }),
  }),
});
