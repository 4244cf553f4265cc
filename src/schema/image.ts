import type { Context } from '../context.js';
import type { LoadedManifest } from '../registry/loaders.js';
import { type Descriptor, type ImageConfig, indexPlatforms, type PlatformManifest } from '../registry/v2/manifest.js';
import { isDigest, isTag } from '../registry/v2/reference.js';
import { imageBytes, loadManifest, taggedManifests } from '../registry/usage.js';
import { builder } from './builder.js';
import { OrderDirection } from './ordering.js';
import { canSeeRegistry, parseContentId, type RepositoryRecord, RepositoryRef, repositoryRecord } from './repository.js';
import { TagRef } from './tag.js';

/** One manifest (image or index) of a repository, by digest. */
export interface ImageRecord {
  repository: RepositoryRecord;
  loaded: LoadedManifest;
}

export const ImageRef = builder.objectRef<ImageRecord>('Image');

/** The image a digest or tag names, or null when the repository has no such manifest. */
export async function loadImage(ctx: Context, repository: RepositoryRecord, reference: string): Promise<ImageRecord | null> {
  if (!isDigest(reference) && !isTag(reference)) return null;
  const loaded = await loadManifest(ctx.loaders, { repository: repository.path, reference });
  return loaded && { repository, loaded };
}

/** The tag under which cosign stores the signature of `digest`: `sha256:<hex>` → `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

const ImageOrderField = builder.enumType('ImageOrderField', { values: ['DIGEST', 'PUSHED_AT'] as const });

export const ImageOrder = builder.inputType('ImageOrder', {
  fields: (t) => ({
    field: t.field({ type: ImageOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const Layer = builder.objectRef<Descriptor>('Layer').implement({
  fields: (t) => ({
    digest: t.exposeString('digest'),
    mediaType: t.exposeString('mediaType'),
    sizeBytes: t.field({ type: 'SafeInt', description: 'Compressed, as stored.', resolve: (layer) => layer.size }),
  }),
});

const Platform = builder.objectRef<{ repository: RepositoryRecord; platform: PlatformManifest }>('Platform').implement({
  description: 'A runnable child of an index.',
  fields: (t) => ({
    digest: t.string({ resolve: ({ platform }) => platform.digest }),
    os: t.string({ resolve: ({ platform }) => platform.os }),
    architecture: t.string({ resolve: ({ platform }) => platform.architecture }),
    variant: t.string({ nullable: true, resolve: ({ platform }) => platform.variant ?? null }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: "The child image's config and layers.",
      resolve: async ({ repository, platform }, _args, ctx) => {
        const child = await loadManifest(ctx.loaders, { repository: repository.path, reference: platform.digest });
        return child && imageBytes(ctx.loaders, repository.path, child);
      },
    }),
  }),
});

/** The image's config, or null for an index (its platforms have one each). */
async function configOf(ctx: Context, image: ImageRecord): Promise<ImageConfig | null> {
  const { manifest } = image.loaded;
  if (manifest.kind !== 'image') return null;
  return ctx.loaders.configs.load({ repository: image.repository.path, digest: manifest.config.digest });
}

/** Lists built from the manifest already in hand cost nothing more: they are priced as one field. */
const IN_HAND = { field: 1, multiplier: 1 };

builder.node(ImageRef, {
  description: 'A manifest or index of a repository, by digest.',
  id: { resolve: (image) => `${image.repository.registry.id}/${image.repository.name}@${image.loaded.digest}` },
  loadOne: async (id, ctx) => {
    const parsed = await parseContentId(ctx, id);
    const at = parsed?.rest.lastIndexOf('@') ?? -1;
    if (!parsed || at <= 0) return null;
    const repository = repositoryRecord(parsed.registry, parsed.rest.slice(0, at));
    const digest = parsed.rest.slice(at + 1);
    return repository && isDigest(digest) ? loadImage(ctx, repository, digest) : null;
  },
  authScopes: (image, ctx) => canSeeRegistry(ctx, image.repository.registry),
  fields: (t) => ({
    repository: t.field({ type: RepositoryRef, resolve: (image) => image.repository }),
    digest: t.string({ resolve: (image) => image.loaded.digest }),
    mediaType: t.string({ resolve: (image) => image.loaded.mediaType }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Config and layers, compressed as stored; for an index, the sum of its platform images.',
      resolve: (image, _args, ctx) => imageBytes(ctx.loaders, image.repository.path, image.loaded),
    }),
    tags: t.field({
      type: [TagRef],
      nullable: true,
      complexity: IN_HAND,
      description: 'The tags pointing at it, by name.',
      resolve: async (image, _args, ctx) => {
        const tagged = (await taggedManifests(ctx.loaders, image.repository.path)).get(image.loaded.digest);
        return (tagged?.tags ?? []).map((name) => ({ repository: image.repository, name, loaded: image.loaded }));
      },
    }),
    pushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Its first push into the repository, from the activity index.',
      resolve: async (image, _args, ctx) => (await ctx.activity.images.load(image.repository.path)).get(image.loaded.digest)?.pushedAt ?? null,
    }),
    pulledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last pull by tag or digest (berth’s own reads do not count).',
      resolve: async (image, _args, ctx) => (await ctx.activity.images.load(image.repository.path)).get(image.loaded.digest)?.pulledAt ?? null,
    }),
    signed: t.boolean({
      nullable: true,
      description: 'A cosign signature tag (`sha256-<hex>.sig`) exists for it.',
      resolve: async (image, _args, ctx) => (await ctx.loaders.tags.load(image.repository.path)).includes(signatureTag(image.loaded.digest)),
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
      resolve: ({ loaded: { manifest } }) => (manifest.kind === 'image' ? manifest.config.digest : null),
    }),
    layers: t.field({
      type: [Layer],
      complexity: IN_HAND,
      description: 'Empty for an index.',
      resolve: ({ loaded: { manifest } }) => (manifest.kind === 'image' ? manifest.layers : []),
    }),
    platforms: t.field({
      type: [Platform],
      complexity: IN_HAND,
      description: 'The runnable children of an index (attestations left out); empty for an image.',
      resolve: (image) => (image.loaded.manifest.kind === 'index' ? indexPlatforms(image.loaded.manifest).map((platform) => ({ repository: image.repository, platform })) : []),
    }),
  }),
});
