import { visibleApiTokens, visibleUsers } from '../auth/access.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { createApiToken, revokeApiToken } from '../tenancy/api-tokens.js';
import { createUser, deleteUser } from '../tenancy/users.js';
import { builder } from './builder.js';
import { decodeIdOf } from './global-id.js';

export const ApiToken = builder.prismaNode('ApiToken', {
  id: { field: 'id' },
  // node(id) answers null for an ID that is missing or hidden, like any lookup.
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [visibleApiTokens(ctx.viewer)] }),
  description: 'An API token, without its secret (shown once, when created).',
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Recorded to the minute.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'Null: it never expires.' }),
  }),
});

export const User = builder.prismaNode('User', {
  id: { field: 'id' },
  // node(id) answers null for an ID that is missing or hidden, like any lookup.
  nullable: true,
  // By ID, a user is visible to itself, to admins, and to the members of a namespace it belongs to.
  findUnique: (id, ctx) => ({ id, AND: [visibleUsers(ctx.viewer)] }),
  authScopes: { authenticated: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    isAdmin: t.exposeBoolean('isAdmin'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    apiTokens: t.relatedConnection(
      'apiTokens',
      {
        cursor: 'id',
        totalCount: true,
        description: "The user's API tokens, newest first: the viewer's own, and anyone's for admins (empty otherwise).",
        query: (_args, ctx) => ({ where: visibleApiTokens(ctx.viewer), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
      },
      { name: 'ApiTokenConnection' },
      { name: 'ApiTokenEdge' },
    ),
  }),
});

builder.queryField('viewer', (t) =>
  t.prismaField({
    type: User,
    nullable: true,
    description: 'The user whose API token authenticated this request; null when anonymous.',
    resolve: (query, _root, _args, ctx) => (ctx.viewer ? ctx.db.user.findUnique({ ...query, where: { id: ctx.viewer.id } }) : null),
  }),
);

builder.relayMutationField(
  'createUser',
  {
    inputFields: (t) => ({
      name: t.string({ required: true, description: 'Login name, also the username for `docker login` with an API token.' }),
      isAdmin: t.boolean({ defaultValue: false }),
    }),
  },
  {
    description: 'Admins only. Creates a user and its first API token (shown once).',
    authScopes: { admin: true },
    errors: { types: [ValidationError, ConflictError, ForbiddenError] },
    resolve: (_root, { input }, ctx) => createUser(ctx, { name: input.name, isAdmin: input.isAdmin ?? false }),
  },
  {
    outputFields: (t) => ({
      user: t.field({ type: User, resolve: (payload) => payload.user }),
      token: t.string({ description: 'The API token; it cannot be read again.', resolve: (payload) => payload.token }),
    }),
  },
);

builder.relayMutationField(
  'deleteUser',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description:
      'Admins only. Deletes a user with its API tokens and memberships; nothing it held works from the next request on. ' +
      'Not yourself, and not the last OWNER of a namespace (ConflictError).',
    authScopes: { admin: true },
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    resolve: async (_root, { input }, ctx) => {
      await deleteUser(ctx, decodeIdOf('User', input.id, 'id'));
      return { deletedId: input.id };
    },
  },
  { outputFields: (t) => ({ deletedId: t.id({ resolve: (payload) => payload.deletedId }) }) },
);

builder.relayMutationField(
  'createApiToken',
  {
    inputFields: (t) => ({
      name: t.string({ required: true, description: 'What the token is for, e.g. "ci".' }),
      userId: t.id({ description: 'Admins only: create the token for this user instead of the viewer.' }),
      expiresAt: t.field({ type: 'DateTime', description: 'When it stops working (in the future); never when omitted.' }),
    }),
  },
  {
    description: 'Creates an API token for the viewer (or, for admins, another user); it is shown once.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const userId = input.userId == null ? null : decodeIdOf('User', input.userId, 'userId');
      const { apiToken, secret } = await createApiToken(ctx, { name: input.name, userId, expiresAt: input.expiresAt ?? null });
      return { apiToken, token: secret };
    },
  },
  {
    outputFields: (t) => ({
      token: t.string({ description: 'The API token; it cannot be read again.', resolve: (payload) => payload.token }),
      apiToken: t.field({ type: ApiToken, resolve: (payload) => payload.apiToken }),
    }),
  },
);

builder.relayMutationField(
  'revokeApiToken',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    description: "Revokes one of the viewer's API tokens (admins: anyone's); it stops working at the next request, everywhere.",
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      await revokeApiToken(ctx, decodeIdOf('ApiToken', input.id, 'id'));
      return { revokedId: input.id };
    },
  },
  { outputFields: (t) => ({ revokedId: t.id({ resolve: (payload) => payload.revokedId }) }) },
);
