import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { currentViewer, type Viewer } from '../auth/viewer.js';
import type { Context } from '../context.js';

/**
 * A subscription outlives the request that started it. Before each event it is sent, the
 * subscriber's token and user are read again: once the token was revoked or expired, the user
 * deleted, or a namespace it could see is no longer its own, the subscription ends with an error
 * instead of sending what the subscriber may no longer see. Over SSE and graphql-ws alike.
 */
export function useLiveAccessCheck(): Plugin<Context> {
  return {
    onSubscribe({ args }) {
      const { db, viewer } = args.contextValue;
      if (!viewer) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(whileAllowed(result, () => lostAccess(db, viewer)));
        },
      };
    },
  };
}

async function* whileAllowed(source: AsyncIterable<ExecutionResult>, check: () => Promise<GraphQLError | null>): AsyncGenerator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const refusal = await check();
      if (refusal) {
        yield { errors: [refusal] };
        return;
      }
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

async function lostAccess(db: Context['db'], subscriber: Viewer): Promise<GraphQLError | null> {
  const now = await currentViewer(db, subscriber);
  if (!now) {
    return new GraphQLError('the API token of this subscription is no longer valid (revoked or expired, or its user was deleted)', {
      extensions: { code: 'UNAUTHENTICATED' },
    });
  }
  const demotedAdmin = subscriber.isAdmin && !now.isAdmin;
  const leftNamespace = !now.isAdmin && [...subscriber.roles.keys()].some((namespaceId) => !now.roles.has(namespaceId));
  if (demotedAdmin || leftNamespace) {
    return new GraphQLError("the subscriber's access has changed since it subscribed; subscribe again", { extensions: { code: 'FORBIDDEN' } });
  }
  return null;
}
