import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult, getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';

/**
 * Subscriptions that many clients follow at once (a GC job's progress, a registry's events) get
 * every published event as one shared object. graphql-js would execute the selection once per
 * event per subscriber; for these fields it is executed once per event for each group of
 * subscribers that asked the same thing as the same user (the same parsed document, variables and
 * viewer), and every subscriber of the group receives that one result. Authorization still runs
 * per subscriber, when it subscribes (the field's own subscribe, with its auth scopes).
 */
export function useSubscriptionFanOut(fields: readonly string[]): Plugin<Context> {
  const shared = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;
  return {
    onSubscribe({ args, setSubscribeFn }) {
      if (!fields.includes(rootFieldOf(args) ?? '')) return;
      setSubscribeFn(async (subscribeArgs) => {
        const events = await createSourceEventStream(subscribeArgs);
        if (!isAsyncIterable(events)) return events;
        let documentId = documentIds.get(subscribeArgs.document);
        if (documentId === undefined) documentIds.set(subscribeArgs.document, (documentId = nextDocumentId++));
        const { viewer } = subscribeArgs.contextValue as Context;
        const group = `${documentId}|${subscribeArgs.operationName ?? ''}|${viewer?.id ?? ''}|${JSON.stringify(subscribeArgs.variableValues ?? {})}`;
        return resultsOf(events, (event) => {
          if (typeof event !== 'object' || event === null) return execute({ ...subscribeArgs, rootValue: event });
          let results = shared.get(event);
          if (!results) shared.set(event, (results = new Map()));
          let result = results.get(group);
          if (!result) results.set(group, (result = Promise.resolve(execute({ ...subscribeArgs, rootValue: event }))));
          return result;
        });
      });
    },
  };
}

async function* resultsOf(events: AsyncIterable<unknown>, resultOf: (event: unknown) => Promise<ExecutionResult> | ExecutionResult): AsyncGenerator<ExecutionResult> {
  for await (const event of events) yield await resultOf(event);
}

function rootFieldOf(args: Pick<ExecutionArgs, 'document' | 'operationName'>): string | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== 'subscription') return null;
  const [selection] = operation.selectionSet.selections;
  return selection?.kind === 'Field' ? selection.name.value : null;
}
