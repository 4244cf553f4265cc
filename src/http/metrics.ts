import { getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Context } from '../context.js';
import type { Metrics } from '../metrics.js';

/** GET /metrics: the Prometheus text format. */
export function metricsRoute(metrics: Metrics): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET') return new Response(null, { status: 405, headers: { allow: 'GET' } });
    return new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } });
  };
}

interface Timing {
  startedAt: number;
  operation: string | null;
}

/**
 * Times every GraphQL request over HTTP from its arrival to its response, under the name of the
 * operation it ran (from the document, or the `operationName` it sent when it never got that far),
 * and counts the subscriptions that run, over SSE and graphql-ws.
 */
export function useRequestMetrics(metrics: Metrics, graphqlEndpoint: string): Plugin<Context> {
  const timings = new WeakMap<Request, Timing>();
  return {
    onRequest({ request, url }) {
      if (url.pathname === graphqlEndpoint) timings.set(request, { startedAt: performance.now(), operation: null });
    },
    onParams({ request, params }) {
      const timing = timings.get(request);
      if (timing) timing.operation = params.operationName ?? null;
    },
    onExecute({ args }) {
      nameOperation(args);
    },
    onSubscribe({ args }) {
      nameOperation(args);
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) return;
          return { onEnd: metrics.subscriptionStarted() };
        },
      };
    },
    onResponse({ request }) {
      const timing = timings.get(request);
      if (!timing) return;
      timings.delete(request);
      metrics.requestServed(timing.operation, (performance.now() - timing.startedAt) / 1000);
    },
  };

  function nameOperation(args: { contextValue: Context; document: Parameters<typeof getOperationAST>[0]; operationName?: string | null | undefined }): void {
    // Over graphql-ws there is no Request, and nothing to time here.
    const { request } = args.contextValue as Context & Partial<YogaInitialContext>;
    const timing = request ? timings.get(request) : undefined;
    if (timing) timing.operation = getOperationAST(args.document, args.operationName)?.name?.value ?? timing.operation;
  }
}
