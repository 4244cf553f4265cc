import { decodeJwt } from 'jose';
import { z } from 'zod';
import { RegistryError, RegistryUnavailableError } from './errors.js';

/**
 * How a RegistryClient authenticates. A request first carries what `authorize` gives; when the
 * registry answers 401, `challenged` reads its WWW-Authenticate and says whether one retry may work.
 */
export interface RegistryAuth {
  /** The Authorization header for a request that needs `scopes`, or null to send none. */
  authorize(scopes: readonly string[]): Promise<string | null>;
  /**
   * Learns from a 401's challenge to a request that carried `sent` (its Authorization, or null);
   * true when retrying the request may now succeed.
   */
  challenged(challenge: string | null, scopes: readonly string[], sent: string | null): Promise<boolean>;
}

/** Returns a bearer token the registry accepts for every scope in `scopes`. */
export type TokenFor = (scopes: readonly string[]) => Promise<string>;

/** Mint a new token this long before the cached one expires, so no request races the expiry. */
const TOKEN_REFRESH_MARGIN_MS = 30_000;
const TOKEN_CACHE_PRUNE_SIZE = 500;

/** Tokens per scope set, reused until shortly before they expire; concurrent callers share one request. */
class TokenCache {
  private readonly tokens = new Map<string, { token: Promise<string>; refreshAt: number }>();

  get(scopes: readonly string[], mint: TokenFor): Promise<string> {
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    if (this.tokens.size >= TOKEN_CACHE_PRUNE_SIZE) this.prune();
    const entry = { token: mint(scopes), refreshAt: Number.POSITIVE_INFINITY };
    this.tokens.set(key, entry);
    entry.token.then(
      (token) => {
        entry.refreshAt = tokenExpiry(token) - TOKEN_REFRESH_MARGIN_MS;
      },
      () => {
        if (this.tokens.get(key) === entry) this.tokens.delete(key);
      },
    );
    return entry.token;
  }

  forget(scopes: readonly string[]): void {
    this.tokens.delete([...scopes].sort().join(' '));
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, entry] of this.tokens) if (entry.refreshAt <= now) this.tokens.delete(key);
  }
}

/** Bearer tokens berth makes itself (its own signer): sent up front, never negotiated. */
export function bearerTokens(tokenFor: TokenFor): RegistryAuth {
  const cache = new TokenCache();
  return {
    authorize: async (scopes) => `Bearer ${await cache.get(scopes, tokenFor)}`,
    challenged: async () => false,
  };
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ChallengeAuthOptions {
  /** Null: anonymous (public content, or a token service that hands out anonymous tokens). */
  credentials: Credentials | null;
  /** Per token request. @default 10_000 */
  timeoutMs?: number;
  /** Plain-http token realms are refused unless the registry itself is reached over http. */
  allowHttpRealm: boolean;
}

type Scheme = { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service: string | null };

const tokenAnswer = z.object({ token: z.string().optional(), access_token: z.string().optional() });

/**
 * What `docker login` does: try without credentials, then follow the registry's 401 challenge.
 * `Basic` sends the credentials to the registry itself; `Bearer realm=…,service=…,scope=…` (the
 * Docker token flow used by hubs, Harbor, GHCR and berth) exchanges them at the realm for a token
 * per scope set. The password never goes anywhere but the registry and the realm it names.
 */
export function challengeAuth(options: ChallengeAuthOptions): RegistryAuth {
  let scheme: Scheme = { kind: 'none' };
  const cache = new TokenCache();
  const basic = options.credentials && `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`;

  const fetchToken = async (realm: string, service: string | null, scopes: readonly string[]): Promise<string> => {
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    if (options.credentials) url.searchParams.set('account', options.credentials.username);
    let res: Response;
    try {
      res = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new RegistryUnavailableError('UNAVAILABLE', `token service ${url.origin} unreachable: ${errorText(error)}`, { cause: error });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('UNAUTHORIZED', `the token service at ${url.origin} refused the credentials (${res.status}): ${text.slice(0, 200)}`, { status: res.status });
    }
    if (!res.ok) throw new RegistryUnavailableError('UNAVAILABLE', `the token service at ${url.origin} answered ${res.status}`, { status: res.status });
    const parsed = tokenAnswer.safeParse(safeJson(text));
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!token) throw new RegistryError('UNKNOWN', `the token service at ${url.origin} answered without a token`);
    return token;
  };

  return {
    authorize: async (scopes) => {
      if (scheme.kind === 'basic') return basic;
      if (scheme.kind === 'bearer') {
        const { realm, service } = scheme;
        return `Bearer ${await cache.get(scopes, (wanted) => fetchToken(realm, service, wanted))}`;
      }
      return null;
    },
    challenged: async (header, scopes, sent) => {
      const challenge = header ? parseChallenge(header) : null;
      if (!challenge) return false;
      if (challenge.scheme === 'basic') {
        // Credentials that were sent and refused are wrong; requests sent before the first challenge only lacked them.
        if (!basic || sent === basic) return false;
        scheme = { kind: 'basic' };
        return true;
      }
      const realm = challenge.params.get('realm');
      if (!realm || !/^https?:\/\//.test(realm)) return false;
      if (realm.startsWith('http:') && !options.allowHttpRealm) {
        throw new RegistryError('UNAUTHORIZED', `the registry sends credentials to a plain-http token realm (${new URL(realm).origin}); refused`);
      }
      scheme = { kind: 'bearer', realm, service: challenge.params.get('service') ?? null };
      // A token already sent was refused (expired, or short of a scope): the retry gets a fresh one.
      cache.forget(scopes);
      return true;
    },
  };
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Map<string, string>;
}

/** `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`, or `Basic realm="x"`. */
export function parseChallenge(header: string): Challenge | null {
  const match = /^\s*(Basic|Bearer)\b\s*(.*)$/i.exec(header);
  if (!match) return null;
  const params = new Map<string, string>();
  for (const [, key, quoted, bare] of match[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(key!.toLowerCase(), quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!);
  }
  return { scheme: match[1]!.toLowerCase() as 'basic' | 'bearer', params };
}

/** Milliseconds since the epoch at which the token expires; 0 (never reuse) when it carries no readable `exp`. */
function tokenExpiry(token: string): number {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? 0 : exp * 1000;
  } catch {
    // Opaque tokens (not JWTs) are reused for a minute.
    return Date.now() + 60_000 + TOKEN_REFRESH_MARGIN_MS;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}
