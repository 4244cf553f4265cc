import { visibleNamespaces } from '../auth/access.js';
import { roleIn } from '../auth/viewer.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { addMember, removeMember, updateMember } from '../tenancy/members.js';
import { countVisibleNamespaces, firstNamespaces, type NamespaceSortColumn } from '../tenancy/namespace-list.js';
import { createNamespace, deleteNamespace, renameNamespace } from '../tenancy/namespaces.js';
import { builder } from './builder.js';
import { connectionComplexity, selectsSubfield } from './pagination.js';
import { decodeIdOf } from './global-id.js';
import { OrderDirection, prismaDirection } from './ordering.js';
import { RegistryKindEnum, RegistryOrder, registryOrderBy } from './registry.js';

export const NamespaceRoleEnum = builder.enumType('NamespaceRole', {
  description: 'OWNER: everything, including members and deletion. MAINTAINER: registries, content and GC. VIEWER: read.',
  values: ['OWNER', 'MAINTAINER', 'VIEWER'] as const,
});

export const Namespace = builder.prismaNode('Namespace', {
  id: { field: 'id' },
  // node(id) answers null for an ID that is missing or hidden, like any lookup.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [visibleNamespaces(ctx.viewer)] }),
  authScopes: (namespace, ctx) => roleIn(ctx.viewer, namespace.id) !== null,
  fields: (t) => ({
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    viewerRole: t.field({
      type: NamespaceRoleEnum,
      description: "The viewer's role here (admins act as OWNER).",
      resolve: (namespace, _args, ctx) => roleIn(ctx.viewer, namespace.id)!,
    }),
    registries: t.relatedConnection('registries', {
      cursor: 'id',
      totalCount: true,
      complexity: connectionComplexity,
      args: {
        kind: t.arg({ type: RegistryKindEnum }),
        orderBy: t.arg({ type: RegistryOrder }),
      },
      query: ({ kind, orderBy }) => ({ where: kind ? { kind } : {}, orderBy: registryOrderBy(orderBy) }),
    }, { name: 'RegistryConnection' }, { name: 'RegistryEdge' }),
    storageBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'The sum of its hosted registries’ storage (each deduplicated within its registry).',
      select: { registries: { where: { kind: 'HOSTED' } } },
      resolve: async (namespace, _args, ctx) => {
        const usages = await Promise.all(namespace.registries.map((registry) => ctx.backends.open(registry).content.usage()));
        return usages.reduce((total, usage) => total + usage.bytes, 0);
      },
    }),
    members: t.relatedConnection('memberships', {
      cursor: 'id',
      totalCount: true,
      type: NamespaceMember,
      query: () => ({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    }, { name: 'NamespaceMemberConnection' }, { name: 'NamespaceMemberEdge' }),
  }),
});

export const NamespaceMember = builder.prismaObject('Membership', {
  name: 'NamespaceMember',
  fields: (t) => ({
    user: t.relation('user'),
    role: t.expose('role', { type: NamespaceRoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const NamespaceOrderField = builder.enumType('NamespaceOrderField', { values: ['SLUG', 'NAME', 'CREATED_AT'] as const });
const NamespaceOrder = builder.inputType('NamespaceOrder', {
  fields: (t) => ({
    field: t.field({ type: NamespaceOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const SORT_COLUMNS = { SLUG: 'slug', NAME: 'name', CREATED_AT: 'createdAt' } as const satisfies Record<string, NamespaceSortColumn>;

/**
 * The first page of a list whose nodes need only the namespaces' own columns: no cursor, and no
 * relation for Prisma to include. That is the common request, and it takes the direct statement;
 * any other page goes through Prisma as before.
 */
function isFirstPageOfRows(query: { take: number; skip: number; cursor?: unknown; include?: object; select?: object }): boolean {
  return query.cursor === undefined && query.skip === 0 && query.take > 0 && !query.select && (!query.include || Object.keys(query.include).length === 0);
}

/**
 * The count a first page's statement returned, for totalCount: Pothos hands the field's resolve
 * and its totalCount the same arguments object, one per execution of the field.
 */
const pageTotals = new WeakMap<object, Promise<number>>();

builder.queryFields((t) => ({
  namespaces: t.prismaConnection({
    type: Namespace,
    cursor: 'id',
    totalCount: (_parent, args, ctx) => pageTotals.get(args) ?? countVisibleNamespaces(ctx.db, ctx.viewer),
    description: 'The namespaces the viewer is a member of (every namespace for admins).',
    args: { orderBy: t.arg({ type: NamespaceOrder }) },
    resolve: (query, _root, args, ctx, info) => {
      const { orderBy } = args;
      const sort = { column: SORT_COLUMNS[orderBy?.field ?? 'SLUG'], direction: orderBy?.direction ?? 'ASC' } as const;
      if (isFirstPageOfRows(query)) {
        const withTotal = selectsSubfield(info, 'totalCount');
        const page = firstNamespaces(ctx.db, ctx.viewer, sort, query.take, withTotal);
        if (withTotal) {
          const total = page.then(({ total }) => total!);
          // The page's own error is the connection's; this copy of it must not go unhandled.
          total.catch(() => {});
          pageTotals.set(args, total);
        }
        return page.then(({ rows }) => rows);
      }
      const direction = prismaDirection(sort.direction);
      return ctx.db.namespace.findMany({ ...query, where: visibleNamespaces(ctx.viewer), orderBy: [{ [sort.column]: direction }, { id: direction }] });
    },
  }, { name: 'NamespaceConnection' }, { name: 'NamespaceEdge' }),
  namespace: t.prismaField({
    type: Namespace,
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, { slug }, ctx) => ctx.db.namespace.findFirst({ ...query, where: { slug, ...visibleNamespaces(ctx.viewer) } }),
  }),
}));

builder.relayMutationField(
  'createNamespace',
  {
    inputFields: (t) => ({
      slug: t.string({ required: true, description: 'Unique, lowercase; follows the same rules as registry slugs.' }),
      name: t.string({ required: true }),
    }),
  },
  {
    description: 'Creates a namespace; the viewer becomes its OWNER.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, ConflictError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => ({ namespace: await createNamespace(ctx, input) }),
  },
  { outputFields: (t) => ({ namespace: t.field({ type: Namespace, resolve: (payload) => payload.namespace }) }) },
);

builder.relayMutationField(
  'updateNamespace',
  { inputFields: (t) => ({ id: t.id({ required: true }), name: t.string() }) },
  {
    description: 'Renames a namespace (OWNER). The slug never changes: it is part of every registry endpoint.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => ({
      namespace: await renameNamespace(ctx, decodeIdOf('Namespace', input.id, 'id'), input.name ?? null),
    }),
  },
  { outputFields: (t) => ({ namespace: t.field({ type: Namespace, resolve: (payload) => payload.namespace }) }) },
);

builder.relayMutationField(
  'deleteNamespace',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: 'Deletes a namespace (OWNER). It must hold no registries: delete those first, so nothing goes by accident.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      await deleteNamespace(ctx, decodeIdOf('Namespace', input.id, 'id'));
      return { deletedId: input.id };
    },
  },
  { outputFields: (t) => ({ deletedId: t.id({ resolve: (payload) => payload.deletedId }) }) },
);

function memberRef(input: { namespaceId: string; userId: string }) {
  return { namespaceId: decodeIdOf('Namespace', input.namespaceId, 'namespaceId'), userId: decodeIdOf('User', input.userId, 'userId') };
}

builder.relayMutationField(
  'addNamespaceMember',
  { inputFields: (t) => ({ namespaceId: t.id({ required: true }), userId: t.id({ required: true }), role: t.field({ type: NamespaceRoleEnum, required: true }) }) },
  {
    description: 'Gives a user a role in a namespace (OWNER).',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => ({ member: await addMember(ctx, { ...memberRef(input), role: input.role }) }),
  },
  { outputFields: (t) => ({ member: t.field({ type: NamespaceMember, resolve: (payload) => payload.member }) }) },
);

builder.relayMutationField(
  'updateNamespaceMember',
  { inputFields: (t) => ({ namespaceId: t.id({ required: true }), userId: t.id({ required: true }), role: t.field({ type: NamespaceRoleEnum, required: true }) }) },
  {
    description: "Changes a member's role (OWNER). The last OWNER cannot be demoted: ConflictError.",
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => ({ member: await updateMember(ctx, { ...memberRef(input), role: input.role }) }),
  },
  { outputFields: (t) => ({ member: t.field({ type: NamespaceMember, resolve: (payload) => payload.member }) }) },
);

builder.relayMutationField(
  'removeNamespaceMember',
  { inputFields: (t) => ({ namespaceId: t.id({ required: true }), userId: t.id({ required: true }) }) },
  {
    description:
      'Removes a member from a namespace (OWNER; any member may remove itself). The last OWNER cannot be removed: ConflictError. ' +
      'It takes effect at the next request.',
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      await removeMember(ctx, memberRef(input));
      return { removedUserId: input.userId };
    },
  },
  { outputFields: (t) => ({ removedUserId: t.id({ resolve: (payload) => payload.removedUserId }) }) },
);
