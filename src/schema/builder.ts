import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { Context } from '../context.js';
import { ForbiddenError } from '../errors.js';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';

const MAX_NODE_IDS = 100;

/** A request over berth's limits is the client's to fix: HTTP 400, never an unexpected error. */
function tooLarge(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'QUERY_TOO_LARGE', http: { status: 400 } } });
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { authenticated: boolean; admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number | bigint };
    ID: { Input: string; Output: string };
  };
  DefaultEdgesNullability: false;
  DefaultFieldNullability: false;
}>({
  // Non-null unless a field says otherwise; fields backed by the registry backend opt into null.
  defaultFieldNullability: false,
  // Errors wraps everything after it, so a scope-auth refusal reaches clients as a typed ForbiddenError.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, RelayPlugin, PrismaPlugin, ComplexityPlugin],
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    nodesOnConnection: true,
    nodesQueryOptions: {
      description: `The objects with these global IDs, in order; null for each that is missing or hidden. At most ${MAX_NODE_IDS} IDs.`,
      // The complexity plugin computes this before the field resolves: too many IDs never reach the
      // database. Each ID is a lookup, weighed like a list element (defaultListMultiplier).
      complexity: ({ ids }) => {
        if (ids.length > MAX_NODE_IDS) throw tooLarge(`nodes takes at most ${MAX_NODE_IDS} ids; ${ids.length} were given`);
        return { field: 10 * ids.length, multiplier: ids.length };
      },
    },
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ authenticated: ctx.viewer !== null, admin: ctx.viewer?.isAdmin ?? false }),
    unauthorizedError: (_parent, _ctx, _info, result) => new ForbiddenError(result.message),
  },
  errors: {
    defaultTypes: [],
    directResult: true,
    defaultUnionOptions: { name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result` },
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
    // Connections count as ×10 whatever `first` says; a 3-level content query scores ~18k.
    limit: { complexity: 50_000, depth: 14, breadth: 200 },
    complexityError: (kind, { complexity, depth, breadth, maxComplexity, maxDepth, maxBreadth }) =>
      tooLarge(
        kind === 'Depth'
          ? `Query exceeds maximum depth (depth: ${depth}, max: ${maxDepth})`
          : kind === 'Breadth'
            ? `Query exceeds maximum breadth (breadth: ${breadth}, max: ${maxBreadth})`
            : `Query exceeds maximum complexity (complexity: ${complexity}, max: ${maxComplexity})`,
      ),
  },
});
