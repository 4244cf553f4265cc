import { visibleRegistries } from '../auth/access.js';
import { roleIn } from '../auth/viewer.js';
import { isUniqueViolation } from '../db/errors.js';
import { BackendUnavailableError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { Registry as RegistryRow } from '../generated/prisma/client.js';
import { deleteRegistryContent } from '../registry/content-deletion.js';
import { RegistryReadOnlyError, RegistryUnavailableError } from '../registry/v2/errors.js';
import { quotaExceeded } from '../registry/hosted/quota.js';
import type { Context } from '../context.js';
import type { Db } from '../db/client.js';
import { generateRobotCredentials } from '../registry/hosted/robot-accounts.js';
import { slugProblem } from '../registry/hosted/slug.js';
import { listRepositories, registryUsage } from '../registry/usage.js';
import { requireDisplayName, requirePositiveBytes } from '../validation.js';
import { builder } from './builder.js';
import { findNamespaceForAction, findRegistryForAction } from './authorized-lookups.js';
import { onBackend } from './backend-errors.js';
import { IssuedCredentials } from './credentials.js';
import { OrderDirection, prismaDirection } from './ordering.js';
import { connectionComplexity, findRepository, RepositoryOrder, RepositoryRef, repositoryConnection } from './repository.js';

export const RegistryKindEnum = builder.enumType('RegistryKind', {
  description: 'HOSTED: berth runs it on its backend. EXTERNAL: a connection to an outside V2 registry.',
  values: ['HOSTED', 'EXTERNAL'] as const,
});

const RegistryStateEnum = builder.enumType('RegistryState', {
  values: ['CREATING', 'ACTIVE', 'READ_ONLY', 'DELETING', 'ERROR'] as const,
});

const RegistryOrderField = builder.enumType('RegistryOrderField', { values: ['NAME', 'CREATED_AT'] as const });

export const RegistryOrder = builder.inputType('RegistryOrder', {
  fields: (t) => ({
    field: t.field({ type: RegistryOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

export function registryOrderBy(order: { field: 'NAME' | 'CREATED_AT'; direction?: 'ASC' | 'DESC' | null } | null | undefined) {
  const direction = prismaDirection(order?.direction ?? 'ASC');
  const column = order?.field === 'CREATED_AT' ? 'createdAt' : 'name';
  return [{ [column]: direction }, { id: direction }];
}

const Quota = builder.objectRef<{ limitBytes: bigint; slug: string | null }>('Quota').implement({
  fields: (t) => ({
    limitBytes: t.field({ type: 'SafeInt', resolve: (quota) => quota.limitBytes }),
    usedBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'What the registry stores now (see Registry.storageBytes).',
      resolve: async (quota, _args, ctx) => (quota.slug === null ? null : (await registryUsage(ctx.loaders, quota.slug)).bytes),
    }),
  }),
});

/** Hosted content only: berth does not read EXTERNAL registries' content yet. */
function hostedUsage(registry: { kind: 'HOSTED' | 'EXTERNAL'; slug: string | null }, ctx: Context) {
  return registry.kind === 'HOSTED' && registry.slug !== null ? registryUsage(ctx.loaders, registry.slug) : null;
}

export const Registry = builder.prismaNode('Registry', {
  id: { field: 'id' },
  // node(id) answers null for an ID that is missing or hidden, like any lookup.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [visibleRegistries(ctx.viewer)] }),
  authScopes: (registry, ctx) => roleIn(ctx.viewer, registry.namespaceId) !== null,
  fields: (t) => ({
    namespace: t.relation('namespace'),
    kind: t.expose('kind', { type: RegistryKindEnum }),
    name: t.exposeString('name'),
    slug: t.exposeString('slug', { nullable: true, description: 'HOSTED: the path prefix of every repository in it.' }),
    endpoint: t.string({
      description: 'Where docker clients reach it: "<public registry host>/<slug>" for HOSTED.',
      select: { slug: true },
      resolve: (registry, _args, ctx) => registryEndpoint(ctx.config.registry.publicHost, registry.slug),
    }),
    public: t.exposeBoolean('public', { description: 'Anyone may pull without credentials.' }),
    state: t.expose('state', { type: RegistryStateEnum }),
    isDefault: t.exposeBoolean('isDefault'),
    quota: t.field({
      type: Quota,
      nullable: true,
      description: 'Null when the registry has no storage limit.',
      select: { quotaBytes: true, kind: true, slug: true },
      resolve: (registry) =>
        registry.quotaBytes === null ? null : { limitBytes: registry.quotaBytes, slug: registry.kind === 'HOSTED' ? registry.slug : null },
    }),
    storageBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Everything stored under its slug, each blob counted once. Null for EXTERNAL.',
      resolve: async (registry, _args, ctx) => (await hostedUsage(registry, ctx))?.bytes ?? null,
    }),
    repositoryCount: t.int({
      nullable: true,
      description: 'Repositories holding at least one tag. Null for EXTERNAL.',
      resolve: async (registry, _args, ctx) => (await hostedUsage(registry, ctx))?.repositories ?? null,
    }),
    imageCount: t.int({
      nullable: true,
      description: 'Distinct tagged manifests, counted per repository. Null for EXTERNAL.',
      resolve: async (registry, _args, ctx) => (await hostedUsage(registry, ctx))?.images ?? null,
    }),
    lastPushedAt: t.expose('lastPushedAt', { type: 'DateTime', nullable: true, description: 'The newest push into any of its repositories.' }),
    repositories: t.connection(
      {
        type: RepositoryRef,
        nullable: true,
        complexity: connectionComplexity,
        description: 'Its repositories that hold a tag. Null with a NOT_SUPPORTED error for EXTERNAL.',
        args: {
          query: t.arg.string({ description: 'Keeps names containing this text, in any case.' }),
          orderBy: t.arg({ type: RepositoryOrder }),
        },
        resolve: (registry, args, ctx) => repositoryConnection(ctx, registry, args),
      },
      { name: 'RepositoryConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount }) }) },
      { name: 'RepositoryEdge' },
    ),
    repository: t.field({
      type: RepositoryRef,
      nullable: true,
      description: 'A repository by its name inside the registry. Null with a NOT_SUPPORTED error for EXTERNAL.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (registry, { name }, ctx) => findRepository(ctx, registry, name),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export function registryEndpoint(publicHost: string, slug: string | null): string {
  return slug === null ? publicHost : `${publicHost}/${slug}`;
}

const SlugUnavailableReason = builder.enumType('SlugUnavailableReason', { values: ['TAKEN', 'INVALID', 'RESERVED'] as const });

builder.queryField('registrySlugAvailability', (t) =>
  t.field({
    type: builder
      .objectRef<{ slug: string; available: boolean; reason: 'TAKEN' | 'INVALID' | 'RESERVED' | null; message: string | null }>('SlugAvailability')
      .implement({
        fields: (f) => ({
          slug: f.exposeString('slug'),
          available: f.exposeBoolean('available'),
          reason: f.field({ type: SlugUnavailableReason, nullable: true, resolve: (a) => a.reason }),
          message: f.exposeString('message', { nullable: true }),
        }),
      }),
    description: 'Whether a slug can be used for a new hosted registry. Slugs are unique across all namespaces.',
    authScopes: { authenticated: true },
    args: { slug: t.arg.string({ required: true }) },
    resolve: async (_root, { slug }, ctx) => {
      const problem = slugProblem(slug);
      if (problem) return { slug, available: false, ...problem };
      const taken = await ctx.db.registry.findUnique({ where: { slug }, select: { id: true } });
      return taken ? { slug, available: false, reason: 'TAKEN' as const, message: `"${slug}" is taken` } : { slug, available: true, reason: null, message: null };
    },
  }),
);

async function requireFreeSlug(db: Db, slug: string) {
  const problem = slugProblem(slug);
  if (problem) throw new ValidationError(problem.message, 'slug');
  if (await db.registry.findUnique({ where: { slug }, select: { id: true } })) throw new ConflictError(`the slug "${slug}" is taken`);
}

function conflictOnDuplicate(error: unknown, name: string, slug?: string): never {
  if (isUniqueViolation(error)) {
    throw new ConflictError(slug ? `the slug "${slug}" or the name "${name}" is taken` : `the namespace already has a registry named "${name}"`);
  }
  throw error;
}

builder.relayMutationField(
  'createRegistry',
  {
    inputFields: (t) => ({
      namespaceId: t.id({ required: true }),
      name: t.string({ required: true }),
      slug: t.string({ required: true, description: 'Path prefix in the backend: <slug>/<repository>.' }),
      public: t.boolean({ defaultValue: false }),
      quotaBytes: t.field({ type: 'SafeInt', description: 'Storage limit; omit for unlimited.' }),
    }),
  },
  {
    description: 'Creates a hosted registry (MAINTAINER).',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const { id: namespaceId } = await findNamespaceForAction(ctx, input.namespaceId, 'namespaceId', 'MAINTAINER');
      const name = requireDisplayName(input.name, 'name');
      const quotaBytes = input.quotaBytes == null ? null : requirePositiveBytes(input.quotaBytes, 'quotaBytes');
      await requireFreeSlug(ctx.db, input.slug);
      if (await ctx.db.registry.findFirst({ where: { namespaceId, name }, select: { id: true } })) {
        throw new ConflictError(`the namespace already has a registry named "${name}"`);
      }
      const { issued, secretHash } = await generateRobotCredentials(input.slug, ctx.config.registry.publicHost);
      try {
        const registry = await ctx.db.registry.create({
          data: {
            namespaceId,
            kind: 'HOSTED',
            name,
            slug: input.slug,
            public: input.public ?? false,
            quotaBytes,
            robot: { create: { username: issued.username, secretHash } },
          },
        });
        return { registry, credentials: issued };
      } catch (error) {
        return conflictOnDuplicate(error, name, input.slug);
      }
    },
  },
  {
    outputFields: (t) => ({
      registry: t.field({ type: Registry, resolve: (payload) => payload.registry }),
      credentials: t.field({
        type: IssuedCredentials,
        description: "The robot account's credentials; the password is shown only here.",
        resolve: (payload) => payload.credentials,
      }),
    }),
  },
);

builder.relayMutationField(
  'updateRegistry',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      name: t.string(),
      public: t.boolean(),
      quotaBytes: t.field({ type: 'SafeInt', description: 'New storage limit; null removes the limit, omitted keeps it.' }),
    }),
  },
  {
    description: 'Changes a registry (MAINTAINER). Omitted fields keep their value.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.id, 'id', 'MAINTAINER');
      const name = input.name == null ? undefined : requireDisplayName(input.name, 'name');
      const quotaBytes = input.quotaBytes === undefined ? undefined : input.quotaBytes === null ? null : requirePositiveBytes(input.quotaBytes, 'quotaBytes');
      if (input.public === null) throw new ValidationError('must be true or false when given', 'public');
      let updated: RegistryRow;
      try {
        updated = await ctx.db.registry.update({ where: { id: registry.id }, data: { name, public: input.public, quotaBytes } });
      } catch (error) {
        return conflictOnDuplicate(error, name ?? registry.name);
      }
      return { registry: updated, warnings: quotaBytes && updated.slug ? await quotaWarnings(ctx, updated.slug, quotaBytes) : [] };
    },
  },
  {
    outputFields: (t) => ({
      registry: t.field({ type: Registry, resolve: (payload) => payload.registry }),
      warnings: t.stringList({
        description: 'What the change means but did not prevent, e.g. a quota set below what the registry already stores.',
        resolve: (payload) => payload.warnings,
      }),
    }),
  },
);

builder.relayMutationField(
  'deleteRegistry',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      force: t.boolean({ defaultValue: false, description: 'Also delete the repositories and images it holds.' }),
    }),
  },
  {
    description: 'Deletes a registry (OWNER). A registry that holds content is kept unless `force` is set.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError, BackendUnavailableError, RegistryReadOnlyError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.id, 'id', 'OWNER');
      const { slug } = registry;
      const deletedRepositories = registry.kind === 'HOSTED' && slug !== null ? await deleteHostedContent(ctx, { ...registry, slug }, input.force ?? false) : [];
      await ctx.db.registry.delete({ where: { id: registry.id } });
      return { deletedId: input.id, deletedRepositories };
    },
  },
  {
    outputFields: (t) => ({
      deletedId: t.id({ resolve: (payload) => payload.deletedId }),
      deletedRepositories: t.stringList({
        description: 'The repositories whose content `force` deleted (names inside the registry).',
        resolve: (payload) => payload.deletedRepositories,
      }),
    }),
  },
);


/**
 * Whether a hosted registry may go: with content it needs `force`, which deletes the content first
 * (the registry row stays while anything is left, so nothing is lost unseen). Returns the names of
 * the repositories emptied.
 */
async function deleteHostedContent(ctx: Context, registry: RegistryRow & { slug: string }, force: boolean): Promise<string[]> {
  const repositories = await onBackend(() => listRepositories(ctx.loaders, registry.slug));
  if (repositories.length === 0) return [];
  if (!force) {
    throw new ConflictError(`the registry holds ${repositories.length} repositor${repositories.length === 1 ? 'y' : 'ies'}; delete them first, or pass force: true`);
  }
  await ctx.db.registry.update({ where: { id: registry.id }, data: { state: 'DELETING' } });
  const result = await onBackend(() => deleteRegistryContent(ctx.registry.client, registry.slug)).catch(async (error: unknown) => {
    await ctx.db.registry.update({ where: { id: registry.id }, data: { state: registry.state } });
    throw error;
  });
  if (result.failed.length > 0) {
    await ctx.db.registry.update({ where: { id: registry.id }, data: { state: registry.state } });
    throw new BackendUnavailableError(`the registry is kept: ${result.failed.length} repositories could not be deleted (${result.failed.map((f) => f.name).join(', ')})`);
  }
  return result.repositories.map((r) => r.repository.slice(registry.slug.length + 1));
}

/** A quota below current usage is allowed (it stops pushes, nothing is deleted), but said. */
async function quotaWarnings(ctx: Context, slug: string, quotaBytes: bigint): Promise<string[]> {
  try {
    const exceeded = await quotaExceeded(ctx.loaders, slug, quotaBytes);
    return exceeded ? [`${exceeded}: pushes are refused until usage drops below the quota`] : [];
  } catch (error) {
    if (error instanceof RegistryUnavailableError) return ['the quota is saved, but usage could not be checked: the registry backend is unavailable'];
    throw error;
  }
}
