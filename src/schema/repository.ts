import { visibleRegistries } from '../auth/access.js';
import { roleIn } from '../auth/viewer.js';
import type { Context } from '../context.js';
import type { Registry as RegistryRow } from '../generated/prisma/client.js';
import type { RegistryBackend } from '../registry/backend.js';
import type { ContentReader } from '../registry/content.js';
import { builder } from './builder.js';
import { ImageOrder, ImageRef, loadImage } from './image.js';
import { OrderDirection } from './ordering.js';
import { connectionComplexity, connectionOf, pageArgs } from './pagination.js';
import { Registry } from './registry.js';
import { loadTag, TagOrder, TagRef } from './tag.js';

/** A repository of a registry: `name` inside the registry, `path` in its backend (`<slug>/<name>` when hosted). */
export interface RepositoryRecord {
  registry: RegistryRow;
  name: string;
  path: string;
}

export const RepositoryRef = builder.objectRef<RepositoryRecord>('Repository');

export function backendOf(ctx: Context, registry: RegistryRow): RegistryBackend {
  return ctx.backends.open(registry);
}

export function contentOf(ctx: Context, repository: { registry: RegistryRow }): ContentReader {
  return ctx.backends.open(repository.registry).content;
}

/** The repository if the name is valid there, without asking whether it exists. */
export function repositoryRecord(ctx: Context, registry: RegistryRow, name: string): RepositoryRecord | null {
  const path = backendOf(ctx, registry).pathOf(name);
  return path === null ? null : { registry, name, path };
}

/** A repository that holds something; emptied repositories stay in registries' catalogs but not in berth. */
export async function findRepository(ctx: Context, registry: RegistryRow, name: string): Promise<RepositoryRecord | null> {
  const repository = repositoryRecord(ctx, registry, name);
  return repository && (await contentOf(ctx, repository).hasRepository(repository.path)) ? repository : null;
}

/** `<registryId>/<rest>` of a content node's ID: the registry (if visible) and what follows the slash. */
export async function parseContentId(ctx: Context, id: string): Promise<{ registry: RegistryRow; rest: string } | null> {
  const slash = id.indexOf('/');
  if (slash <= 0) return null;
  const registry = await ctx.db.registry.findFirst({ where: { id: id.slice(0, slash), ...visibleRegistries(ctx.viewer) } });
  return registry && { registry, rest: id.slice(slash + 1) };
}

/** Content is visible to the members of the registry's namespace, like the registry itself. */
export function canSeeRegistry(ctx: Context, registry: RegistryRow): boolean {
  return roleIn(ctx.viewer, registry.namespaceId) !== null;
}

const RepositoryOrderField = builder.enumType('RepositoryOrderField', { values: ['NAME', 'LAST_PUSHED_AT'] as const });

export const RepositoryOrder = builder.inputType('RepositoryOrder', {
  fields: (t) => ({
    field: t.field({ type: RepositoryOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

builder.node(RepositoryRef, {
  description:
    'A repository of a registry. Hosted content is read from berth’s content index; an outside registry’s is read live, and its fields are null while it is unreachable.',
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
    tagCount: t.int({ nullable: true, resolve: (repository, _args, ctx) => contentOf(ctx, repository).tagCount(repository.path) }),
    imageCount: t.int({
      nullable: true,
      description: 'Its images: the manifests in it that are not platforms of another one there (tagged or not, for hosted registries).',
      resolve: (repository, _args, ctx) => contentOf(ctx, repository).imageCount(repository.path),
    }),
    sizeBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Storage of everything its manifests reference, each blob counted once.',
      resolve: (repository, _args, ctx) => contentOf(ctx, repository).repositoryBytes(repository.path),
    }),
    exclusiveBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        'What deleting the repository, then a garbage collection, would free now: blobs no other manifest anywhere on the backend references. Null for an outside registry.',
      resolve: (repository, _args, ctx) => contentOf(ctx, repository).repositoryExclusiveBytes(repository.path),
    }),
    lastPushedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The newest push into it; null for an outside registry.',
      resolve: (repository, _args, ctx) => contentOf(ctx, repository).lastPushedAt(repository.path),
    }),
    tags: t.connection(
      {
        type: TagRef,
        nullable: true,
        complexity: connectionComplexity,
        args: { orderBy: t.arg({ type: TagOrder }) },
        resolve: async (repository, args, ctx) => {
          const orderBy = { field: args.orderBy?.field ?? 'NAME', direction: args.orderBy?.direction ?? 'ASC' } as const;
          const page = await contentOf(ctx, repository).tags(repository.path, { ...pageArgs(args), orderBy });
          return connectionOf(page, (tag) => ({ repository, tag }));
        },
      },
      { name: 'TagConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }) },
      { name: 'TagEdge' },
    ),
    tag: t.field({
      type: TagRef,
      nullable: true,
      args: { name: t.arg.string({ required: true }) },
      resolve: (repository, { name }, ctx) => loadTag(ctx, repository, name),
    }),
    images: t.connection(
      {
        type: ImageRef,
        nullable: true,
        complexity: connectionComplexity,
        description: 'Its images: for a hosted registry every manifest that is not a platform of another one there, tagged or not; for an outside registry the tagged ones.',
        args: { orderBy: t.arg({ type: ImageOrder }) },
        resolve: async (repository, args, ctx) => {
          const orderBy = { field: args.orderBy?.field ?? 'DIGEST', direction: args.orderBy?.direction ?? 'ASC' } as const;
          const page = await contentOf(ctx, repository).images(repository.path, { ...pageArgs(args), orderBy });
          return connectionOf(page, (digest) => ({ repository, digest }));
        },
      },
      { name: 'ImageConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }) },
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

/** Registry.repositories: filtered by part of the name (any case), ordered, one page. */
export async function repositoryConnection(
  ctx: Context,
  registry: RegistryRow,
  args: Parameters<typeof pageArgs>[0] & { query?: string | null; orderBy?: { field: 'NAME' | 'LAST_PUSHED_AT'; direction?: 'ASC' | 'DESC' | null } | null },
) {
  const orderBy = { field: args.orderBy?.field ?? 'NAME', direction: args.orderBy?.direction ?? 'ASC' } as const;
  const backend = backendOf(ctx, registry);
  const page = await backend.content.repositories({ ...pageArgs(args), query: args.query ?? null, orderBy });
  return connectionOf(page, (path) => ({ registry, name: backend.nameOf(path), path }));
}

