import { visibleRegistries } from '../auth/access.js';
import { roleIn } from '../auth/viewer.js';
import { BackendUnavailableError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { RegistryConnectionError } from '../registry/remote/errors.js';
import { RegistryReadOnlyError } from '../registry/v2/errors.js';
import {
  connectExternalRegistry,
  createHostedRegistry,
  deleteRegistry,
  registryEndpoint,
  slugAvailability,
  testConnection,
  updateRegistry,
} from '../tenancy/registries.js';
import { findNamespaceForAction, findRegistryForAction } from './authorized-lookups.js';
import { onBackend } from './backend-errors.js';
import { builder } from './builder.js';
import { ConnectionFailureEnum } from './connection-errors.js';
import { IssuedCredentials } from './credentials.js';
import { OrderDirection, prismaDirection } from './ordering.js';
import { connectionComplexity } from './pagination.js';
import { backendOf, findRepository, RepositoryOrder, RepositoryRef, repositoryConnection } from './repository.js';

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

const Quota = builder.objectRef<{ limitBytes: bigint; usedBytes: () => Promise<number> }>('Quota').implement({
  fields: (t) => ({
    limitBytes: t.field({ type: 'SafeInt', resolve: (quota) => quota.limitBytes }),
    usedBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'What the registry stores now (see Registry.storageBytes).',
      resolve: (quota) => quota.usedBytes(),
    }),
  }),
});

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
      description: 'Where docker clients reach it: "<public registry host>/<slug>" for HOSTED, the URL for EXTERNAL.',
      resolve: (registry, _args, ctx) => registry.url ?? registryEndpoint(ctx.config.registry.publicHost, registry.slug),
    }),
    url: t.exposeString('url', { nullable: true, description: 'EXTERNAL: scheme, host and port of the outside registry.' }),
    username: t.exposeString('username', { nullable: true, description: 'EXTERNAL: who berth signs in as. The password is never readable.' }),
    hasPassword: t.boolean({ description: 'EXTERNAL: a password is stored (encrypted).', resolve: (registry) => registry.passwordCiphertext !== null }),
    insecure: t.exposeBoolean('insecure', { description: 'EXTERNAL: plain http is allowed for a host that is not loopback.' }),
    public: t.exposeBoolean('public', { description: 'Anyone may pull without credentials.' }),
    state: t.expose('state', { type: RegistryStateEnum }),
    isDefault: t.exposeBoolean('isDefault', { description: 'EXTERNAL: the namespace’s default source for image imports (at most one).' }),
    quota: t.field({
      type: Quota,
      nullable: true,
      description: 'Null when the registry has no storage limit.',
      resolve: (registry, _args, ctx) =>
        registry.quotaBytes === null ? null : { limitBytes: registry.quotaBytes, usedBytes: async () => (await backendOf(ctx, registry).content.usage()).bytes },
    }),
    storageBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Everything its manifests reference, each blob counted once.',
      resolve: async (registry, _args, ctx) => (await backendOf(ctx, registry).content.usage()).bytes,
    }),
    reclaimableBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        'What a garbage collection would free now of the blobs stored in its repositories: those no manifest anywhere on the backend references. Null for EXTERNAL.',
      resolve: (registry, _args, ctx) => backendOf(ctx, registry).content.reclaimableBytes(),
    }),
    repositoryCount: t.int({
      nullable: true,
      description: 'Repositories holding at least one manifest.',
      resolve: async (registry, _args, ctx) => (await backendOf(ctx, registry).content.usage()).repositories,
    }),
    imageCount: t.int({
      nullable: true,
      description: 'Images, counted per repository (see Repository.imageCount).',
      resolve: async (registry, _args, ctx) => (await backendOf(ctx, registry).content.usage()).images,
    }),
    lastPushedAt: t.expose('lastPushedAt', { type: 'DateTime', nullable: true, description: 'The newest push into any of its repositories; null for EXTERNAL.' }),
    repositories: t.connection(
      {
        type: RepositoryRef,
        nullable: true,
        complexity: connectionComplexity,
        description: 'Its repositories. Null with a CATALOG_REFUSED error for a registry that will not list them (repository(name:) still works).',
        args: {
          query: t.arg.string({ description: 'Keeps names containing this text, in any case.' }),
          orderBy: t.arg({ type: RepositoryOrder }),
        },
        resolve: (registry, args, ctx) => repositoryConnection(ctx, registry, args),
      },
      { name: 'RepositoryConnection', fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }) },
      { name: 'RepositoryEdge' },
    ),
    repository: t.field({
      type: RepositoryRef,
      nullable: true,
      description: 'A repository by its name inside the registry.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (registry, { name }, ctx) => findRepository(ctx, registry, name),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

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
      const availability = await slugAvailability(ctx.db, slug);
      return availability.available ? { slug, available: true, reason: null, message: null } : { slug, ...availability };
    },
  }),
);

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
      return createHostedRegistry(ctx, namespaceId, input);
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
  'connectExternalRegistry',
  {
    inputFields: (t) => ({
      namespaceId: t.id({ required: true }),
      name: t.string({ required: true }),
      url: t.string({ required: true, description: 'host[:port] or https://host[:port]; http only for loopback or with insecure.' }),
      username: t.string(),
      password: t.string({ description: 'Stored encrypted; never returned.' }),
      isDefault: t.boolean({ defaultValue: false, description: 'Make it the namespace’s default import source (the previous one stops being it).' }),
      insecure: t.boolean({ defaultValue: false, description: 'Allow plain http for a host that is not loopback.' }),
    }),
  },
  {
    description:
      'Connects an outside V2 registry (MAINTAINER): Docker Hub, Harbor, GHCR, distribution or another berth. berth first signs in the way docker does (Basic or the token flow) and refuses what fails.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RegistryConnectionError] },
    resolve: async (_root, { input }, ctx) => {
      const { id: namespaceId } = await findNamespaceForAction(ctx, input.namespaceId, 'namespaceId', 'MAINTAINER');
      return { registry: await connectExternalRegistry(ctx, namespaceId, input) };
    },
  },
  { outputFields: (t) => ({ registry: t.field({ type: Registry, resolve: (payload) => payload.registry }) }) },
);

builder.relayMutationField(
  'updateRegistry',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      name: t.string(),
      public: t.boolean({ description: 'HOSTED only.' }),
      quotaBytes: t.field({ type: 'SafeInt', description: 'HOSTED only. New storage limit; null removes the limit, omitted keeps it.' }),
      url: t.string({ description: 'EXTERNAL only. A new URL without a new password drops the stored one.' }),
      username: t.string({ description: 'EXTERNAL only; null or "" signs in anonymously.' }),
      password: t.string({ description: 'EXTERNAL only; null or "" removes it.' }),
      isDefault: t.boolean({ description: 'EXTERNAL only.' }),
      insecure: t.boolean({ description: 'EXTERNAL only.' }),
    }),
  },
  {
    description: 'Changes a registry (MAINTAINER). Omitted fields keep their value; a connection whose address or credentials change is signed in to again first.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RegistryConnectionError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.id, 'id', 'MAINTAINER');
      const { id: _id, ...changes } = input;
      return updateRegistry(ctx, registry, changes);
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
      force: t.boolean({ defaultValue: false, description: 'HOSTED: also delete the repositories and images it holds.' }),
    }),
  },
  {
    description:
      'Deletes a registry (OWNER; MAINTAINER for a connection). A hosted registry that holds content is kept unless `force` is set. Deleting a connection leaves the outside registry, and images imported from it, as they are.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError, BackendUnavailableError, RegistryReadOnlyError] },
    resolve: async (_root, { input }, ctx) => {
      const found = await findRegistryForAction(ctx, input.id, 'id', 'MAINTAINER');
      const registry = found.kind === 'HOSTED' ? await findRegistryForAction(ctx, input.id, 'id', 'OWNER') : found;
      const deletedRepositories = await onBackend(() => deleteRegistry(ctx, registry, backendOf(ctx, registry), input.force ?? false));
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

builder.relayMutationField(
  'testRegistryConnection',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: 'Signs in to a registry the way docker does, now, and says how it went (members). For a hosted registry it checks berth’s backend.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.id, 'id', 'VIEWER');
      return { registry, result: await testConnection(backendOf(ctx, registry)) };
    },
  },
  {
    outputFields: (t) => ({
      registry: t.field({ type: Registry, resolve: (payload) => payload.registry }),
      ok: t.boolean({ resolve: (payload) => payload.result.ok }),
      latencyMs: t.int({ nullable: true, description: 'How long the sign-in took.', resolve: (payload) => payload.result.latencyMs }),
      reason: t.field({ type: ConnectionFailureEnum, nullable: true, resolve: (payload) => (payload.result.ok ? null : payload.result.reason) }),
      message: t.string({ nullable: true, description: 'What the registry answered.', resolve: (payload) => (payload.result.ok ? null : payload.result.message) }),
    }),
  },
);
