import { parse } from 'graphql';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

/**
 * Bounds on a GraphQL document, checked while it is parsed: the parser recurses once per nesting
 * level, so a document nested thousands deep would overflow the stack (HTTP 500) before any
 * validation rule could count its depth. Tokens bound the nesting (3 tokens a level at least);
 * the selection depth proper is then capped by the complexity limits in src/schema/builder.ts.
 */
export const DOCUMENT_LIMITS = { maxLexicalTokens: 5_000, maxSourceLength: 100_000, maxComments: 500 } as const;

export function useDocumentLimits(): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => parse(source, { ...options, ...DOCUMENT_LIMITS }));
    },
  };
}

/**
 * Yoga reads the `variables` and `extensions` of GET and form-encoded requests with a bare
 * JSON.parse, so malformed JSON there was an HTTP 500; berth reads them itself and answers 400.
 * berth takes no uploads: multipart requests are refused.
 */
export function useStrictRequestParsing(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      const contentType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
      if (request.method === 'GET') {
        setRequestParser(() => paramsOf(new URL(request.url).searchParams));
      } else if (contentType === 'application/x-www-form-urlencoded') {
        setRequestParser(async () => paramsOf(new URLSearchParams(await request.text())));
      } else if (contentType === 'multipart/form-data') {
        throw badRequest('multipart requests are not supported; send JSON', 415);
      }
    },
  };
}

function paramsOf(search: URLSearchParams): GraphQLParams {
  return {
    query: search.get('query') || undefined,
    operationName: search.get('operationName') || undefined,
    variables: jsonParam(search, 'variables'),
    extensions: jsonParam(search, 'extensions'),
  };
}

function jsonParam(search: URLSearchParams, name: string): Record<string, unknown> | undefined {
  const text = search.get(name);
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest(`the ${name} parameter is not valid JSON`);
  }
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`the ${name} parameter must be a JSON object`);
  return value as Record<string, unknown>;
}

function badRequest(message: string, status = 400) {
  return createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status } } });
}
