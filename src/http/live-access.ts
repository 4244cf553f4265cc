import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { type AccessChanges, type AccessLoss, accessLost } from '../auth/access-changes.js';
import type { Viewer } from '../auth/viewer.js';
import type { Context } from '../context.js';

/**
 * A subscription outlives the request that started it, and was authorized once, when it started.
 * It ends with an error, at once and on every instance, when an access change takes from its
 * subscriber what it subscribed with: the token was revoked, the user deleted, or a namespace it
 * could see is no longer its own (AccessChanges); and before sending an event past its token's
 * expiry. No event costs a database read. Over SSE and graphql-ws alike.
 */
export function useLiveAccessCheck(): Plugin<Context> {
  return {
    onSubscribe({ args }) {
      const { accessChanges, viewer } = args.contextValue;
      if (!viewer) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(whileAllowed(result, accessChanges, viewer));
        },
      };
    },
  };
}

async function* whileAllowed(source: AsyncIterable<ExecutionResult>, accessChanges: AccessChanges, subscriber: Viewer): AsyncGenerator<ExecutionResult> {
  const namespaceIds = new Set(subscriber.roles.keys());
  let refusal: GraphQLError | null = null;
  let interrupt = (): void => {};
  const stopListening = accessChanges.listen((change) => {
    const loss = accessLost(change, subscriber, namespaceIds);
    if (loss && !refusal) {
      refusal = refusalFor(loss);
      interrupt();
    }
  });
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      // A new promise per event, not a race against one long-lived promise, which would keep a
      // reaction per event until the subscription ends. Access may have been lost while the last
      // event waited to be taken: then nothing more is awaited.
      const next = refusal
        ? null
        : await new Promise<IteratorResult<ExecutionResult> | null>((resolve, reject) => {
            interrupt = () => resolve(null);
            iterator.next().then(resolve, reject);
          });
      const expiresAt = subscriber.tokenExpiresAt;
      if (!refusal && expiresAt !== null && expiresAt.getTime() <= Date.now()) refusal = refusalFor('token');
      if (refusal) {
        yield { errors: [refusal] };
        return;
      }
      if (next === null || next.done) return;
      yield next.value;
    }
  } finally {
    stopListening();
    // Not awaited: a source waiting for its next event finishes only once that comes.
    iterator.return?.().catch(() => {});
  }
}

function refusalFor(loss: NonNullable<AccessLoss>): GraphQLError {
  if (loss === 'token') {
    return new GraphQLError('the API token of this subscription is no longer valid (revoked or expired, or its user was deleted)', {
      extensions: { code: 'UNAUTHENTICATED' },
    });
  }
  return new GraphQLError("the subscriber's access has changed since it subscribed; subscribe again", { extensions: { code: 'FORBIDDEN' } });
}
