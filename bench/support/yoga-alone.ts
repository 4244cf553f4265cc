// The baseline server: graphql-yoga alone, with graphql-ws on the same path as berth, serving the
// response shapes the benchmarks ask berth for from memory. No database, no auth, no plugins.
// `node --import tsx bench/support/yoga-alone.ts <port>`; with REDIS_URL, subscriptions listen to
// the same Redis channels as berth's pub/sub, so a benchmark publishes to both the same way.
import { createServer } from 'node:http';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const redisUrl = process.env['REDIS_URL'];

const namespaces = Array.from({ length: 12 }, (_, i) => ({ slug: `bench-${String(i).padStart(2, '0')}`, name: `Bench namespace ${i}` }));

type GcJobEvent = Record<string, unknown>;
const pubsub = createPubSub<{ 'gcJob:progress': [jobId: string, job: GcJobEvent] }>(
  redisUrl ? { eventTarget: createRedisEventTarget({ publishClient: new Redis(redisUrl), subscribeClient: new Redis(redisUrl) }) } : {},
);

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query { namespaces(first: Int!): NamespaceConnection! }
      type NamespaceConnection { totalCount: Int! nodes: [Namespace!]! }
      type Namespace { slug: String! name: String! }
      type Subscription { gcJobProgress(id: ID!): GcJob! }
      type GcJob { id: ID! status: String! phase: String! percent: Float! blobsMarked: Int! blobsDeleted: Int! bytesFreed: Float! }
    `,
    resolvers: {
      Query: { namespaces: (_: unknown, { first }: { first: number }) => ({ totalCount: namespaces.length, nodes: namespaces.slice(0, first) }) },
      Subscription: {
        gcJobProgress: {
          subscribe: (_: unknown, { id }: { id: string }) => pubsub.subscribe('gcJob:progress', id),
          resolve: (job: GcJobEvent) => ({ ...job, bytesFreed: Number(job['bytesFreed']) }),
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
