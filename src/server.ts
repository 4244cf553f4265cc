import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { createYoga, isAsyncIterable, maskError, type Plugin, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { viewerFromAuthorization } from './auth/viewer.js';
import type { Context, Services } from './context.js';
import { RegistryBackends } from './registry/backend.js';
import { registryHookRoute } from './registry/hosted/notifications.js';
import { tokenRoute } from './registry/hosted/token-service.js';
import { schema } from './schema/index.js';
import { expectedFieldError } from './schema/field-errors.js';

/** A plain HTTP route served next to /graphql (token endpoint, registry hooks). */
type Route = (request: Request, remoteAddress: string) => Promise<Response> | Response;

export interface BerthServer {
  readonly yoga: YogaServerInstance<Record<string, unknown>, Context>;
  readonly http: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createBerthServer(services: Services): BerthServer {
  const { db, log } = services;
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: services.config.graphiql ? { title: 'berth', defaultQuery: DEFAULT_QUERY } : false,
    // The default page loads GraphiQL from a CDN; this one carries its assets inline.
    renderGraphiQL,
    logging: {
      debug: (...args) => log.debug(args),
      info: (...args) => log.info(args),
      warn: (...args) => log.warn(args),
      error: (...args) => log.error(args),
    },
    maskedErrors: {
      // Clients get "Unexpected error."; the log gets the real one.
      maskError: (error, message, isDev) => {
        const expected = expectedFieldError(error);
        if (expected) return expected;
        const masked = maskError(error, message, isDev);
        if (masked !== error) log.error({ err: error }, 'unexpected error while executing an operation');
        return masked;
      },
    },
    context: async ({ request, connectionParams }) => {
      // Over graphql-ws there is no Request: the token comes in the connection_init payload.
      const authorization = (request as Request | undefined)?.headers.get('authorization') ?? stringParam((connectionParams as Record<string, unknown> | undefined)?.['authorization']);
      return {
        ...services,
        viewer: await viewerFromAuthorization(db, authorization),
        backends: new RegistryBackends(services),
      };
    },
    plugins: [
      useReadinessCheck({
        endpoint: '/readyz',
        check: async () => {
          await db.$queryRawUnsafe('SELECT 1');
          return true;
        },
      }),
      useRoutes({
        '/auth/token': tokenRoute(services),
        '/hooks/registry': registryHookRoute({ ...services, hookSecret: services.registry.hookSecret }),
      }),
      useBackendCallsExtension(),
    ],
  });

  const http = createServer(yoga);
  const wsServer = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
  const ws = useServer<Record<string, unknown>>(
    {
      // Refusing here makes graphql-ws close with 4403 Forbidden, without echoing why.
      onConnect: async ({ connectionParams }) => {
        try {
          return (await viewerFromAuthorization(db, stringParam(connectionParams?.['authorization']))) !== null;
        } catch {
          return false;
        }
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
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

  return {
    yoga,
    http,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => resolve(http.address() as AddressInfo));
      }),
    close: async () => {
      await ws.dispose();
      wsServer.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

function stringParam(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function useRoutes(routes: Record<string, Route>): Plugin {
  return {
    async onRequest({ url, request, serverContext, endResponse }) {
      const route = routes[url.pathname];
      if (!route) return;
      const { req } = serverContext as { req?: IncomingMessage };
      endResponse(await route(request, req?.socket.remoteAddress ?? 'unknown'));
    },
  };
}

/**
 * With the header `x-berth-debug: calls`, a result carries `extensions.backendCalls`: the registry
 * calls the operation made, so batching can be checked from outside.
 */
function useBackendCallsExtension(): Plugin<Context> {
  return {
    onExecute({ args }) {
      const { request, backends } = args.contextValue;
      if (request?.headers.get('x-berth-debug') !== 'calls') return;
      const { calls } = backends;
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result)) return;
          setResult({ ...result, extensions: { ...result.extensions, backendCalls: calls.summary() } });
        },
      };
    },
  };
}

const DEFAULT_QUERY = `# Send your API token as a header: {"Authorization": "Bearer <token>"}
query Namespaces {
  viewer { name isAdmin }
  namespaces(first: 10) {
    totalCount
    nodes { slug name registries(first: 10) { totalCount nodes { name endpoint state } } }
  }
}
`;
