import { GraphQLError, Lexer, parse, Source, TokenKind } from 'graphql';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

/**
 * Bounds on a GraphQL document, checked as it is parsed. The parser recurses several frames per
 * nesting level: a document nested a few thousand levels deep (`{ a { a { …`, or `[[[…]]]` in an
 * argument, one token a level) overflowed the stack, an HTTP 500, before any validation rule
 * could count its depth. So brackets are counted first, token by token, without recursion; a
 * query's selection depth proper is then capped by the complexity limits (src/schema/builder.ts).
 * The introspection query GraphiQL sends has 183 tokens and nests 13 deep.
 */
export const DOCUMENT_LIMITS = { maxLexicalTokens: 2_000, maxSourceLength: 100_000, maxComments: 500, maxNesting: 64 } as const;

export function useDocumentLimits(): Plugin {
  const { maxNesting, ...parseLimits } = DOCUMENT_LIMITS;
  return {
    onParse({ setParseFn }) {
      // Yoga answers a document that does not parse as the GraphQL-over-HTTP spec says: 400 for
      // application/graphql-response+json, 200 with the error for plain application/json.
      setParseFn((source, options) => {
        const document = typeof source === 'string' ? new Source(source) : source;
        requireNestingAtMost(document, maxNesting, parseLimits.maxLexicalTokens);
        return parse(document, { ...options, ...parseLimits });
      });
    },
  };
}

const OPENING = new Set<TokenKind>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<TokenKind>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/** Stops at `maxTokens`: the parser reports that limit itself. Lexing errors are thrown as the parser would. */
function requireNestingAtMost(source: Source, maxNesting: number, maxTokens: number): void {
  const lexer = new Lexer(source);
  let depth = 0;
  for (let token = lexer.advance(), count = 1; token.kind !== TokenKind.EOF && count <= maxTokens; token = lexer.advance(), count++) {
    if (OPENING.has(token.kind) && ++depth > maxNesting) {
      throw new GraphQLError(`Syntax Error: the document nests deeper than ${maxNesting} levels.`, { source, positions: [token.start] });
    }
    if (CLOSING.has(token.kind)) depth--;
  }
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
