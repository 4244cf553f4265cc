import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useEngine } from '@envelop/core';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { type DocumentNode, execute, type ExecutionArgs, GraphQLError, subscribe } from 'graphql';
import { createYoga, isAsyncIterable, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { BearerLogin, isTooManyFailures } from './auth/bearer-login.js';
import type { Context, Services } from './context.js';
import { RegistryBackends } from './registry/backend.js';
import { ClientAddresses } from './http/client-address.js';
import { corsFor } from './http/cors.js';
import { clipErrors, clipResult, useClippedErrorMessages } from './http/error-messages.js';
import { createGraphiQLPage, useSecurityHeaders } from './http/graphiql-page.js';
import { useLiveAccessCheck } from './http/live-access.js';
import { metricsRoute, useRequestMetrics } from './http/metrics.js';
import { readinessRoute } from './http/readiness.js';
import { useSubscriptionFanOut } from './http/subscription-fan-out.js';
import { useDocumentLimits, useRequestBodyLimit, useStrictRequestParsing } from './http/request-parsing.js';
import { registryHookRoute } from './registry/hosted/notifications.js';
import { tokenRoute } from './registry/hosted/token-service.js';
import { schema } from './schema/index.js';
import { expectedFieldError } from './schema/field-errors.js';

/** A plain HTTP route served next to /graphql (token endpoint, registry hooks). */
type Route = (request: Request, clientAddress: string) => Promise<Response> | Response;

/** Operations one graphql-ws connection may run at once; each holds a subscription's resources. */
export const MAX_OPERATIONS_PER_SOCKET = 100;

/** graphql-ws close code for a connection refused after too many failed logins from its address. */
const CLOSE_TOO_MANY_FAILED_LOGINS = 4429;

export interface BerthServer {
  readonly yoga: YogaServerInstance<Record<string, unknown>, Context>;
  readonly http: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createBerthServer(services: Services, options: { viewerCacheTtlMs?: number | undefined } = {}): BerthServer {
  const { db, log, config } = services;
  const clients = new ClientAddresses(config.trustedProxies);
  const clientAddressOf = (req: IncomingMessage | undefined) => clients.resolve(req?.socket.remoteAddress, stringParam(req?.headers['x-forwarded-for']));
  const bearer = new BearerLogin(services, { ttlMs: options.viewerCacheTtlMs });
  const graphiql = createGraphiQLPage();
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: config.graphiql ? { title: 'berth', defaultQuery: DEFAULT_QUERY } : false,
    renderGraphiQL: graphiql.render,
    cors: corsFor(config.corsOrigins),
    // useRequestBodyLimit below bounds bodies at less cost per request.
    maxRequestBodySize: false,
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
    context: async (initial) => {
      const { request, connectionParams } = initial;
      const { req } = initial as { req?: IncomingMessage };
      // Over graphql-ws there is no Request: the token comes in the connection_init payload.
      const authorization = (request as Request | undefined)?.headers.get('authorization') ?? stringParam((connectionParams as Record<string, unknown> | undefined)?.['authorization']);
      return {
        ...services,
        viewer: await bearer.viewer(authorization, clientAddressOf(req)),
        backends: new RegistryBackends(services),
      };
    },
    plugins: [
      // graphql-js's executor: yoga's default writes each object's fields in the order their
      // resolvers finish, and the spec (and people reading GraphiQL) expect the query's order.
      useEngine({ execute, subscribe }),
      useRequestMetrics(services.metrics, '/graphql'),
      // Any header a browser page cannot send without a CORS preflight will do; tokens travel in one.
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf', 'authorization'] }),
      useStrictRequestParsing(),
      // After every request parser is chosen (yoga's and the ones above): it wraps the chosen one.
      useRequestBodyLimit(),
      useDocumentLimits(),
      useClippedErrorMessages(),
      useSecurityHeaders(),
      graphiql.plugin,
      useLiveAccessCheck(),
      useSubscriptionFanOut(['gcJobProgress', 'importJobProgress', 'cleanupJobProgress', 'registryEvents']),
      useRoutes(
        {
          '/readyz': readinessRoute(() => db.$queryRawUnsafe('SELECT 1')),
          '/auth/token': tokenRoute(services),
          '/hooks/registry': registryHookRoute({
            ...services,
            hookSecret: services.registry.hookSecret,
            registryStopping: () => services.registry.embedded?.state === 'stopping',
          }),
          ...(config.metrics ? { '/metrics': metricsRoute(services.metrics) } : {}),
        },
        clientAddressOf,
      ),
      useBackendCallsExtension(),
    ],
  });

  const http = createServer(yoga);
  const wsServer = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
  services.metrics.countWebSocketConnections(() => wsServer.clients.size);
  const ws = useServer<Record<string, unknown>>(
    {
      // Refusing here makes graphql-ws close with 4403 Forbidden, without echoing why.
      onConnect: async ({ connectionParams, extra }) => {
        try {
          return (await bearer.viewer(stringParam(connectionParams?.['authorization']), clientAddressOf(extra.request))) !== null;
        } catch (error) {
          if (isTooManyFailures(error)) extra.socket.close(CLOSE_TOO_MANY_FAILED_LOGINS, 'Too many failed logins');
          return false;
        }
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      // Refusals of one operation are its errors; the connection and its other operations go on.
      onSubscribe: async (ctx, _id, payload) => {
        if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_SOCKET) {
          return [new GraphQLError(`at most ${MAX_OPERATIONS_PER_SOCKET} operations run at once on one connection`, { extensions: { code: 'TOO_MANY_REQUESTS' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        let document: DocumentNode;
        let contextValue: unknown;
        try {
          document = parse(payload.query);
          contextValue = await contextFactory();
        } catch (error) {
          if (error instanceof GraphQLError) return clipErrors([error]);
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return clipErrors(errors);
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        } satisfies ExecutionArgs;
      },
      onNext: (_ctx, _id, _payload, _args, result) => clipResult(result),
      onError: (_ctx, _id, _payload, errors) => clipErrors(errors),
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

function useRoutes(routes: Record<string, Route>, clientAddressOf: (req: IncomingMessage | undefined) => string): Plugin {
  return {
    async onRequest({ url, request, serverContext, endResponse }) {
      const route = routes[url.pathname];
      if (!route) return;
      const { req } = serverContext as { req?: IncomingMessage };
      endResponse(await route(request, clientAddressOf(req)));
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
