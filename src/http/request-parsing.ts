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

/** Yoga's default bound on a request body. */
export const MAX_REQUEST_BODY_BYTES = 25_000_000;

/**
 * Yoga's own body limit (`maxRequestBodySize`) pipes every body through a TransformStream, and
 * with it an AbortSignal and an AbortError per request: ~10% of the CPU of a small authenticated
 * request. A body sent with a Content-Length cannot run past it (Node's HTTP parser reads no
 * further), so the header is checked as yoga checks it and the body is left alone; only a body
 * without one (chunked) is counted as it arrives. Answers as yoga does: 413 or 400.
 */
export function useRequestBodyLimit(limit = MAX_REQUEST_BODY_BYTES): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        // One non-negative integer: comma-joined values (request smuggling) are refused.
        if (!/^\d+$/.test(contentLength)) throw badRequest('Content-Length header is invalid.');
        if (Number(contentLength) > limit) throw bodyTooLarge();
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser(async (chunked) =>
        parse(new fetchAPI.Request(chunked.url, { method: chunked.method, headers: chunked.headers, body: await bodyWithin(chunked, limit) })),
      );
    },
  };
}

async function bodyWithin(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw bodyTooLarge();
    }
    chunks.push(read.value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function bodyTooLarge() {
  return createGraphQLError('Request body too large', { extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413 } } });
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
