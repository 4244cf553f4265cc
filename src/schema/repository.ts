import { type DefaultConnectionArguments, resolveArrayConnection } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { visibleRegistries } from '../auth/access.js';
import { roleIn } from '../auth/viewer.js';
import type { Context } from '../context.js';
import type { Registry as RegistryRow } from '../generated/prisma/client.js';
import { isRepositoryName } from '../registry/v2/reference.js';
import { listRepositories, repositoryBytes, taggedManifests } from '../registry/usage.js';
import { builder } from './builder.js';
import { ImageOrder, type ImageRecord, ImageRef, loadImage } from './image.js';
import { OrderDirection } from './ordering.js';
import { Registry } from './registry.js';
import { loadTag, TagOrder, type TagRecord, TagRef } from './tag.js';

/** A repository of a hosted registry: `name` inside the registry, `path` in the backend (`<slug>/<name>`). */
export interface RepositoryRecord {
  registry: RegistryRow;
  name: string;
  path: string;
}

export const RepositoryRef = builder.objectRef<RepositoryRecord>('Repository');

/**
 * The content fields of an EXTERNAL registry answer null with this error: berth does not read
 * outside registries' content yet, and an empty list would claim they hold nothing.
 */
function hostedSlug(registry: Pick<RegistryRow, 'kind' | 'slug'>): string {
  if (registry.kind === 'HOSTED' && registry.slug !== null) return registry.slug;
  throw new GraphQLError('berth does not browse the content of EXTERNAL registries yet', { extensions: { code: 'NOT_SUPPORTED' } });
}

/** A hosted registry by database ID, if the viewer may see it; the entry point of node(id) for content. */
async function visibleHostedRegistry(ctx: Context, registryId: string): Promise<RegistryRow | null> {
  return ctx.db.registry.findFirst({ where: { id: registryId, kind: 'HOSTED', ...visibleRegistries(ctx.viewer) } });
}

/** The repository if the name is valid, without asking the backend whether it exists. */
export function repositoryRecord(registry: RegistryRow, name: string): RepositoryRecord | null {
  const path = `${hostedSlug(registry)}/${name}`;
  return isRepositoryName(path) ? { registry, name, path } : null;
}

/** A repository that holds at least one tag; repositories emptied of tags stay in the registry's catalog but not in berth. */
export async function findRepository(ctx: Context, registry: RegistryRow, name: string): Promise<RepositoryRecord | null> {
  const repository = repositoryRecord(registry, name);
  if (!repository) return null;
  const tags = await ctx.loaders.tags.load(repository.path);
  return tags.length > 0 ? repository : null;
}

/** `<registryId>/<rest>` of a content node's ID: the registry (if visible) and what follows the slash. */
export async function parseContentId(ctx: Context, id: string): Promise<{ registry: RegistryRow; rest: string } | null> {
  const slash = id.indexOf('/');
  if (slash <= 0) return null;
  const registry = await visibleHostedRegistry(ctx, id.slice(0, slash));
  return registry && { registry, rest: id.slice(slash + 1) };
}

/** Content is visible to the members of the registry's namespace, like the registry itself. */
export function canSeeRegistry(ctx: Context, registry: RegistryRow): boolean {
  return roleIn(ctx.viewer, registry.namespaceId) !== null;
}

type Direction = 'ASC' | 'DESC';

/**
 * Sorts by `value` in `direction`, unknown values (null) last either way, ties by `name` ascending,
 * so that pages stay stable between requests.
 */
function sortedBy<T>(items: readonly T[], direction: Direction, value: (item: T) => string | number | null, name: (item: T) => string): T[] {
  const sign = direction === 'ASC' ? 1 : -1;
  const keyed = items.map((item) => ({ item, value: value(item), name: name(item) }));
  keyed.sort((a, b) => {
    if (a.value !== b.value) {
      if (a.value === null) return 1;
      if (b.value === null) return -1;
      return (a.value < b.value ? -1 : 1) * sign;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return keyed.map(({ item }) => item);
}

/**
 * One page of a list berth sorted itself (the V2 API neither sorts nor pages), with totalCount.
 * `toNode` turns the page's items into nodes; an item that turns into null (deleted meanwhile) is left out.
 */
async function pageOf<T, N>(args: DefaultConnectionArguments, sorted: readonly T[], toNode: (item: T) => Promise<N | null> | N | null) {
  const page = resolveArrayConnection({ args }, sorted);
  const edges = await Promise.all(
    page.edges.map(async (edge) => {
      const node = edge && (await toNode(edge.node));
      return edge && node ? { cursor: edge.cursor, node } : null;
    }),
  );
  return { pageInfo: page.pageInfo, edges: edges.filter((edge) => edge !== null), totalCount: sorted.length };
}

/** Page sizes stand in for the node count, so a nested query is priced by what it asks for. */
export function connectionComplexity(args: DefaultConnectionArguments) {
  return { field: 1, multiplier: (args.first ?? args.last ?? 20) / 10 };
}

const RepositoryOrderField = builder.enumType('RepositoryOrderField', { values: ['NAME', 'LAST_PUSHED_AT'] as const });

export const RepositoryOrder = builder.inputType('RepositoryOrder', {
  fields: (t) => ({
    field: t.field({ type: RepositoryOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

/** Registry.repositories: the repositories with tags, filtered by `query` (part of the name, any case), sorted, paged. */
export async function repositoryConnection(
  ctx: Context,
  registry: RegistryRow,
  args: DefaultConnectionArguments & { query?: string | null; orderBy?: { field: 'NAME' | 'LAST_PUSHED_AT'; direction?: Direction | null } | null },
) {
  const slug = hostedSlug(registry);
  const query = args.query?.toLowerCase() ?? '';
  const names = (await listRepositories(ctx.loaders, slug)).map((path) => path.slice(slug.length + 1)).filter((name) => name.toLowerCase().includes(query));
  const direction = args.orderBy?.direction ?? 'ASC';
  let sorted = sortedBy(names, direction, (name) => name, (name) => name);
  if (args.orderBy?.field === 'LAST_PUSHED_AT') {
    const activity = await ctx.activity.repositories.loadMany(names.map((name) => `${slug}/${name}`));
    const pushedAt = new Map(names.map((name, i) => [name, lastPushedAt(activity[i])]));
    sorted = sortedBy(names, direction, (name) => pushedAt.get(name) ?? null, (name) => name);
  }
  return pageOf(args, sorted, (name) => repositoryRecord(registry, name));
}

function lastPushedAt(activity: { lastPushedAt: Date | null } | Error | null | undefined): number | null {
  return activity && !(activity instanceof Error) && activity.lastPushedAt ? activity.lastPushedAt.getTime() : null;
}

builder.node(RepositoryRef, {
  description: 'A repository of a hosted registry, read from the V2 backend. Fields backed by the backend are null while it is down.',
  id: { resolve: (repository) => `${repository.registry.id}/${repository.name}` },
  loadOne: async (id, ctx) => {
    const parsed = await parseContentId(ctx, id);
    return parsed && findRepository(ctx, parsed.registry, parsed.rest);
  },
  authScopes: (repository, ctx) => canSeeRegistry(ctx, repository.registry),
  fields: (t) => ({
    registry: t.field({ type: Registry, resolve: (repository) => repository.registry }),
    name: t.exposeString('name', { description: 'Inside the registry, e.g. "alpine".' }),
    path: t.exposeString('path', { description: 'In the backend, e.g. "csaw/alpine": what docker clients push to, after the host.' }),
    tagCount: t.int({
      nullable: true,
      resolve: async (repository, _args, ctx) => (await ctx.loaders.tags.load(repository.path)).length,
    }),
    imageCount: t.int({
      nullable: true,
      description: 'Distinct manifests its tags point at.',
      resolve: async (repository, _args, ctx) => (await taggedManifests(ctx.loaders, repository.path)).size,
    }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Storage of everything its tags reach, each blob counted once.',
      resolve: (repository, _args, ctx) => repositoryBytes(ctx.loaders, repository.path),
    }),
    lastPushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The newest push into it, from the activity index.',
      resolve: async (repository, _args, ctx) => (await ctx.activity.repositories.load(repository.path))?.lastPushedAt ?? null,
    }),
    tags: t.connection(
      {
        type: TagRef,
        nullable: true,
        complexity: connectionComplexity,
        args: { orderBy: t.arg({ type: TagOrder }) },
        resolve: async (repository, args, ctx) => {
          const names = await ctx.loaders.tags.load(repository.path);
          const direction = args.orderBy?.direction ?? 'ASC';
          let sorted = sortedBy(names, direction, (name) => name, (name) => name);
          if (args.orderBy?.field === 'PUSHED_AT') {
            const activity = await ctx.activity.tags.load(repository.path);
            sorted = sortedBy(names, direction, (name) => activity.get(name)?.pushedAt?.getTime() ?? null, (name) => name);
          }
          return pageOf(args, sorted, (name) => loadTag(ctx, repository, name));
        },
      },
      { name: 'TagConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount }) }) },
      { name: 'TagEdge' },
    ),
    tag: t.field({
      type: TagRef,
      nullable: true,
      args: { name: t.arg.string({ required: true }) },
      resolve: (repository, { name }, ctx): Promise<TagRecord | null> => loadTag(ctx, repository, name),
    }),
    images: t.connection(
      {
        type: ImageRef,
        nullable: true,
        complexity: connectionComplexity,
        description: 'The distinct manifests its tags point at.',
        args: { orderBy: t.arg({ type: ImageOrder }) },
        resolve: async (repository, args, ctx) => {
          const images = [...(await taggedManifests(ctx.loaders, repository.path)).values()].map(({ loaded }): ImageRecord => ({ repository, loaded }));
          const direction = args.orderBy?.direction ?? 'ASC';
          let sorted = sortedBy(images, direction, (image) => image.loaded.digest, (image) => image.loaded.digest);
          if (args.orderBy?.field === 'PUSHED_AT') {
            const activity = await ctx.activity.images.load(repository.path);
            sorted = sortedBy(images, direction, (image) => activity.get(image.loaded.digest)?.pushedAt?.getTime() ?? null, (image) => image.loaded.digest);
          }
          return pageOf(args, sorted, (image) => image);
        },
      },
      { name: 'ImageConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount }) }) },
      { name: 'ImageEdge' },
    ),
    image: t.field({
      type: ImageRef,
      nullable: true,
      description: 'A manifest by digest or by tag.',
      args: { reference: t.arg.string({ required: true }) },
      resolve: (repository, { reference }, ctx) => loadImage(ctx, repository, reference),
    }),
  }),
});
