import { GraphQLError } from 'graphql';
import type { Db } from '../db/client.js';
import type { AccessChanges } from './access-changes.js';
import { hashApiToken } from './api-tokens.js';
import { FailureLimiter } from './failure-limiter.js';
import type { ServerKey } from './server-key.js';
import { ViewerCache, type ViewerCacheOptions } from './viewer-cache.js';
import { type Viewer, viewerForApiToken } from './viewer.js';

/**
 * `Authorization: Bearer <token>` on /graphql and in graphql-ws `connection_init`. No header means
 * an anonymous viewer (null); a header with an unknown or expired token is an error, so a typo is
 * reported instead of showing an empty graph (unknown, revoked and expired tokens alike). Wrong
 * tokens count per client address: past the allowance they are answered 429 instead of 401. A
 * valid token always passes, and an anonymous request or a malformed header (which guesses
 * nothing) is never counted or limited. Valid tokens' viewers are cached for a few seconds and
 * dropped as soon as an access change touches them (see ViewerCache).
 */
export class BearerLogin {
  private readonly cache: ViewerCache;
  /** The database read under way for each token hash, and the cache mark it started at. */
  private readonly pending = new Map<string, { mark: number; viewer: Promise<Viewer | null> }>();

  constructor(
    private readonly deps: { readonly db: Db; readonly serverKey: ServerKey; readonly accessChanges: AccessChanges },
    cacheOptions: ViewerCacheOptions = {},
    private readonly limiter = new FailureLimiter(),
  ) {
    this.cache = new ViewerCache(cacheOptions);
    deps.accessChanges.listen((change) => this.cache.apply(change));
  }

  /** Throws a GraphQL error with code UNAUTHENTICATED (HTTP 401) or TOO_MANY_REQUESTS (HTTP 429). */
  async viewer(authorization: string | null | undefined, clientAddress: string): Promise<Viewer | null> {
    if (!authorization) return null;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw unauthenticated('the Authorization header must be "Bearer <api token>"');
    const token = match[1]!;
    const tokenHash = hashApiToken(this.deps.serverKey, token);
    const cached = this.cache.get(tokenHash);
    if (cached) return ownCopy(cached);
    const viewer = await this.lookUp(tokenHash, token);
    if (viewer) return ownCopy(viewer);
    // By address alone (a bearer token names no account), and a success does not reset the
    // count: one valid token must not buy unlimited guesses at the others.
    const retryAfterMs = this.limiter.recordFailure(`bearer|${clientAddress}`);
    if (retryAfterMs > 0) throw tooManyFailures(retryAfterMs);
    throw unauthenticated('the API token is not valid');
  }

  /**
   * One database read per token at a time: when a cached viewer expires under load, the requests
   * that find it gone wait for one read instead of each making its own (up to one per open
   * connection, all at once). A request joins a read only while no access change has come in since
   * it started: one that started before a change may return what the change took away.
   */
  private lookUp(tokenHash: string, token: string): Promise<Viewer | null> {
    const mark = this.cache.mark();
    const pending = this.pending.get(tokenHash);
    if (pending?.mark === mark) return pending.viewer;
    const viewer = viewerForApiToken(this.deps.db, this.deps.serverKey, token).then((found) => {
      if (found) this.cache.set(tokenHash, found, mark);
      return found;
    });
    const read = { mark, viewer };
    this.pending.set(tokenHash, read);
    const forget = () => {
      if (this.pending.get(tokenHash) === read) this.pending.delete(tokenHash);
    };
    viewer.then(forget, forget);
    return viewer;
  }
}

/** Each request gets roles of its own: a mutation records the viewer's new role in them (createNamespace). */
function ownCopy(viewer: Viewer): Viewer {
  return { ...viewer, roles: new Map(viewer.roles) };
}

export function isTooManyFailures(error: unknown): boolean {
  return error instanceof GraphQLError && error.extensions['code'] === 'TOO_MANY_REQUESTS';
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

function tooManyFailures(retryAfterMs: number): GraphQLError {
  return new GraphQLError('too many failed logins from this address; try again later', {
    extensions: {
      code: 'TOO_MANY_REQUESTS',
      http: { status: 429, headers: { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } },
    },
  });
}
