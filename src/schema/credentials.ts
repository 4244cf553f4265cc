import { NotFoundError, ForbiddenError, ValidationError } from '../errors.js';
import type { IssuedCredentials as IssuedCredentialsShape } from '../registry/hosted/robot-accounts.js';
import { rotateRobotCredentials } from '../tenancy/registries.js';
import { findRegistryForAction } from './authorized-lookups.js';
import { builder } from './builder.js';

export const IssuedCredentials = builder.objectRef<IssuedCredentialsShape>('IssuedCredentials').implement({
  description: 'Push/pull credentials, shown once: berth keeps only a hash of the password.',
  fields: (t) => ({
    username: t.exposeString('username'),
    password: t.exposeString('password'),
    endpoint: t.exposeString('endpoint', { description: 'The registry host for `docker login`.' }),
    dockerConfig: t.exposeString('dockerConfig', {
      description: 'A docker config.json document with the `auths` entry for the registry host; usable as-is with `skopeo --authfile`.',
    }),
  }),
});

const RegistryCredentials = builder.prismaObject('RobotAccount', {
  name: 'RegistryCredentials',
  description: "A hosted registry's robot account: it may pull and push `<slug>/*` of its registry, nothing else.",
  fields: (t) => ({
    username: t.exposeString('username'),
    endpoint: t.string({ resolve: (_robot, _args, ctx) => ctx.config.registry.publicHost }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    rotatedAt: t.expose('rotatedAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.prismaObjectField('Registry', 'credentials', (t) =>
  t.relation('robot', {
    type: RegistryCredentials,
    nullable: true,
    description: 'HOSTED: the robot account for docker clients and CI (never its password). Null for EXTERNAL registries.',
  }),
);

builder.relayMutationField(
  'rotateRegistryCredentials',
  { inputFields: (t) => ({ registryId: t.id({ required: true }) }) },
  {
    description: "Replaces a hosted registry's robot password (MAINTAINER). The old one stops working for new registry tokens at once.",
    authScopes: { authenticated: true },
    errors: { types: [NotFoundError, ForbiddenError, ValidationError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.registryId, 'registryId', 'MAINTAINER');
      return { registryId: registry.id, credentials: await rotateRobotCredentials(ctx, registry) };
    },
  },
  {
    outputFields: (t) => ({
      registry: t.prismaField({
        type: 'Registry',
        resolve: (query, payload, _args, ctx) => ctx.db.registry.findUniqueOrThrow({ ...query, where: { id: payload.registryId } }),
      }),
      credentials: t.field({ type: IssuedCredentials, resolve: (payload) => payload.credentials }),
    }),
  },
);
