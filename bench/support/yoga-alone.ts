// The baseline server: graphql-yoga alone, with graphql-ws on the same path as berth, serving the
// response shapes the benchmarks ask berth for from memory. No database, no auth, no plugins.
// `node --import tsx bench/support/yoga-alone.ts <port>`; subscriptions listen on berth's pub/sub
// (through Redis with REDIS_URL), so a benchmark publishes to both the same way.
import { createServer } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { GcJob } from '../../src/generated/prisma/client.js';
import { createBerthPubSub } from '../../src/pubsub.js';

const port = Number(process.argv[2]);
const pubsub = createBerthPubSub(process.env['REDIS_URL'] ?? null);

const namespaces = Array.from({ length: 12 }, (_, i) => ({ slug: `bench-${String(i).padStart(2, '0')}`, name: `Bench namespace ${i}` }));

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query { namespaces(first: Int!): NamespaceConnection! }
      type NamespaceConnection { totalCount: Int! nodes: [Namespace!]! }
      type Namespace { slug: String! name: String! }
      type Subscription { gcJobProgress(id: ID!): GcJob! }
      type GcJob { id: ID! status: String! phase: String! percent: Float! blobsTotal: Int! blobsMarked: Int! blobsDeleted: Int! bytesFreed: Float! }
    `,
    resolvers: {
      Query: { namespaces: (_: unknown, { first }: { first: number }) => ({ totalCount: namespaces.length, nodes: namespaces.slice(0, first) }) },
      Subscription: {
        gcJobProgress: {
          // The current state first, from memory, then the published events, as berth sends them.
          subscribe: async function* (_: unknown, { id }: { id: string }) {
            const live = pubsub.subscribe('gcJob:progress', id);
            yield { id, status: 'RUNNING', phase: 'MARKING', percent: 0, blobsTotal: 0, blobsMarked: 0, blobsDeleted: 0, bytesFreed: 0n };
            yield* live;
          },
          resolve: (job: GcJob) => ({ ...job, bytesFreed: Number(job.bytesFreed) }),
        },
      },
    },
  }),
  graphqlEndpoint: '/graphql',
  logging: false,
});

const http = createServer(yoga);
const wsServer = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}
// yoga's documented graphql-ws recipe, as berth runs it.
useServer(
  {
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onSubscribe: async (ctx, _id, payload) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params: payload });
      const args: ExecutionArgs = {
        schema,
        operationName: payload.operationName,
        document: parse(payload.query),
        variableValues: payload.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe } satisfies EnvelopedRoot,
      };
      const errors = validate(args.schema, args.document);
      return errors.length > 0 ? errors : args;
    },
  },
  wsServer,
);
http.listen(port, '127.0.0.1', () => console.log(`yoga alone listening on ${port}`));
process.once('SIGTERM', () => process.exit(0));
