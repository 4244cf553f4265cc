import { visibleUsers } from '../auth/access.js';
import { issueApiToken } from '../auth/api-tokens.js';
import { isUniqueViolation } from '../db/errors.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { requireDisplayName } from '../validation.js';
import { builder } from './builder.js';
import { decodeIdOf } from './global-id.js';

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

const USER_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

function requireUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new ValidationError('a user name is 1 to 64 lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit', 'name');
  }
  return name;
}

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
    resolve: async (_root, { input }, ctx) => {
      const name = requireUserName(input.name);
      try {
        return await ctx.db.$transaction(async (tx) => {
          const user = await tx.user.create({ data: { name, isAdmin: input.isAdmin ?? false } });
          return { user, token: await issueApiToken(tx, user.id, 'initial') };
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new ConflictError(`a user named "${name}" already exists`);
        throw error;
      }
    },
  },
  {
    outputFields: (t) => ({
      user: t.field({ type: User, resolve: (payload) => payload.user }),
      token: t.string({ description: 'The API token; it cannot be read again.', resolve: (payload) => payload.token }),
    }),
  },
);

builder.relayMutationField(
  'createApiToken',
  {
    inputFields: (t) => ({
      name: t.string({ required: true, description: 'What the token is for, e.g. "ci".' }),
      userId: t.id({ description: 'Admins only: create the token for this user instead of the viewer.' }),
    }),
  },
  {
    description: 'Creates an API token for the viewer (or, for admins, another user); it is shown once.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const viewer = ctx.viewer!;
      const name = requireDisplayName(input.name, 'name');
      let userId = viewer.id;
      if (input.userId != null) {
        userId = decodeIdOf('User', input.userId, 'userId');
        if (userId !== viewer.id && !viewer.isAdmin) throw new ForbiddenError('only admins create tokens for other users');
        if (!(await ctx.db.user.findUnique({ where: { id: userId }, select: { id: true } }))) {
          throw new NotFoundError(`userId: no user ${input.userId}`);
        }
      }
      return { token: await issueApiToken(ctx.db, userId, name) };
    },
  },
  {
    outputFields: (t) => ({
      token: t.string({ description: 'The API token; it cannot be read again.', resolve: (payload) => payload.token }),
    }),
  },
);
