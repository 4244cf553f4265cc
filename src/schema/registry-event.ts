import { decodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { visibleRegistries } from '../auth/access.js';
import type { Context } from '../context.js';
import type { RegistryEventPayload } from '../pubsub.js';
import { builder } from './builder.js';

const RegistryEvent = builder.objectRef<RegistryEventPayload>('RegistryEvent').implement({
  description: 'A push, pull or delete the registry reported for one of its repositories.',
  fields: (t) => ({
    action: t.exposeString('action', { description: 'push, pull or delete.' }),
    repository: t.exposeString('repository', { description: 'The repository name inside the registry.' }),
    tag: t.exposeString('tag', { nullable: true }),
    digest: t.exposeString('digest', { nullable: true, description: 'Null when a tag was deleted (the registry reports its digest separately).' }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

/** The registry's database ID when the ID names a registry the viewer is a member of. */
async function memberRegistryId(ctx: Context, globalId: string): Promise<string | null> {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    return null;
  }
  if (decoded.typename !== 'Registry') return null;
  const registry = await ctx.db.registry.findFirst({ where: { id: decoded.id, ...visibleRegistries(ctx.viewer) }, select: { id: true } });
  return registry?.id ?? null;
}

builder.subscriptionField('registryEvents', (t) =>
  t.field({
    type: RegistryEvent,
    description: 'Pushes, pulls and deletes in a registry as the registry reports them (members of its namespace only).',
    args: { registryId: t.arg.id({ required: true }) },
    // Checked once, when the subscription starts (authorizeOnSubscribe).
    authScopes: async (_root, { registryId }, ctx) => (await memberRegistryId(ctx, registryId)) !== null,
    unauthorizedError: (_root, { registryId }) =>
      new GraphQLError(`registryId: no registry ${registryId} among the viewer's namespaces`, { extensions: { code: 'FORBIDDEN' } }),
    subscribe: (_root, { registryId }, ctx) => ctx.pubsub.subscribe('registry:event', decodeGlobalID(registryId).id),
    resolve: (event) => event,
  }),
);
