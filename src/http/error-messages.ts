import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import { clipMessage, MAX_ERROR_MESSAGE_LENGTH } from '../errors.js';


export function clipErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((error) =>
    error.message.length <= MAX_ERROR_MESSAGE_LENGTH
      ? error
      : new GraphQLError(clipMessage(error.message), {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions: error.extensions,
        }),
  );
}

export function clipResult<T extends ExecutionResult>(result: T): T {
  return result.errors?.some((error) => error.message.length > MAX_ERROR_MESSAGE_LENGTH) ? { ...result, errors: clipErrors(result.errors) } : result;
}

/** Clips top-level error messages of every HTTP and SSE result. */
export function useClippedErrorMessages(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result)) setResult(mapAsyncIterator(result, clipResult));
      else if (Array.isArray(result)) setResult(result.map(clipResult));
      else setResult(clipResult(result));
    },
  };
}
