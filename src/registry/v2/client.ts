import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { RegistryError, RegistryUnavailableError, registryErrorFromResponse } from './errors.js';
import { MANIFEST_MEDIA_TYPES, parseManifest, type Manifest } from './manifest.js';
import { isDigest, isRepositoryName, isTag } from './reference.js';
import { CATALOG_SCOPE, parseScopes, repositoryScope } from './scope.js';
import type { RegistryTokenSigner } from '../hosted/token-signer.js';

/** Returns a bearer token the registry accepts for every scope in `scopes`. */
export type TokenFor = (scopes: readonly string[]) => Promise<string>;

export type RegistryClientOptions = {
  /** Origin of the registry, e.g. `http://127.0.0.1:5000`. */
  baseUrl: string;
  /** Per request, covering the whole answer including its body. @default 10_000 */
  timeoutMs?: number;
  /** Requests in flight at once; more wait their turn. @default 16 */
  maxConcurrency?: number;
  /** Called once per HTTP request when it settles; `status` is absent when no answer arrived. */
  onRequest?: (event: RegistryRequestEvent) => void;
} & (
  | {
      signer: Pick<RegistryTokenSigner, 'sign'>;
      /** `sub` of the tokens, seen as `actor.name` in notifications. @default 'berth' */
      subject?: string;
    }
  | { tokenFor: TokenFor }
);

export interface RegistryRequestEvent {
  method: string;
  path: string;
  status: number | undefined;
  durationMs: number;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface FetchedManifest extends ManifestHead {
  /** Exactly the stored bytes: the digest is computed over them, so re-serialized JSON would differ. */
  bytes: Uint8Array;
  text: string;
  manifest: Manifest;
}

export interface PushedBlob {
  digest: string;
  size: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENCY = 16;
const MAX_CATALOG_PAGE = 1000;
/** Mint a new token this long before the cached one expires, so no request races the expiry. */
const TOKEN_REFRESH_MARGIN_MS = 30_000;
const TOKEN_CACHE_PRUNE_SIZE = 500;

const catalogPage = z.object({ repositories: z.array(z.string()).nullish() });
const tagList = z.object({ tags: z.array(z.string()).nullish() });

interface Answer {
  res: Response;
  body: Uint8Array;
}

interface CachedToken {
  token: Promise<string>;
  refreshAt: number;
}

/**
 * A client for the Docker Registry HTTP API V2 (CNCF distribution 2.8). It mints the bearer token
 * each call needs itself; whatever the registry or the network does wrong surfaces as a RegistryError.
 */
export class RegistryClient {
  private readonly baseUrl: URL;
  private readonly timeoutMs: number;
  private readonly tokenFor: TokenFor;
  private readonly onRequest: ((event: RegistryRequestEvent) => void) | undefined;
  private readonly slots: Slots;
  private readonly tokens = new Map<string, CachedToken>();
  private callCount = 0;

  constructor(options: RegistryClientOptions) {
    this.baseUrl = new URL(options.baseUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onRequest = options.onRequest;
    this.slots = new Slots(options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY);
    if ('tokenFor' in options) {
      this.tokenFor = options.tokenFor;
    } else {
      const { signer, subject = 'berth' } = options;
      this.tokenFor = async (scopes) => (await signer.sign(subject, parseScopes(scopes))).token;
    }
  }

  /** HTTP requests made so far, whatever their outcome. */
  get calls(): number {
    return this.callCount;
  }

  /** Resolves when the registry answers `GET /v2/` with 200. */
  async ping(): Promise<void> {
    const operation = 'GET /v2/';
    const answer = await this.send('GET', '/v2/', [], operation);
    this.expectStatus(answer, [200], operation);
  }

  /**
   * Every repository name, in the registry's lexical order, walking the `Link` pages. The catalog
   * is all-or-nothing (`registry:catalog:*`); filtering per viewer is the caller's job.
   */
  async *catalog(options: { pageSize?: number } = {}): AsyncGenerator<string, void, undefined> {
    const pageSize = options.pageSize ?? MAX_CATALOG_PAGE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_CATALOG_PAGE) {
      throw new RangeError(`catalog page size must be 1..${MAX_CATALOG_PAGE}, got ${pageSize}`);
    }
    const operation = 'GET catalog';
    let next: string | null = `/v2/_catalog?n=${pageSize}`;
    while (next !== null) {
      const answer = await this.send('GET', next, [CATALOG_SCOPE], operation);
      this.expectStatus(answer, [200], operation);
      yield* parseBody(answer, catalogPage, operation).repositories ?? [];
      next = nextPageLink(answer.res.headers.get('link'));
    }
  }

  /**
   * The tags of a repository, unsorted as the registry keeps them (it ignores `n` and `last`).
   * An unknown repository and one whose tags were all deleted both give [].
   */
  async listTags(repository: string): Promise<string[]> {
    assertRepositoryName(repository);
    const operation = `GET tags ${repository}`;
    const answer = await this.send('GET', `/v2/${repository}/tags/list`, [pull(repository)], operation);
    if (answer.res.status === 404) {
      const error = toRegistryError(answer, operation);
      if (error.code === 'NAME_UNKNOWN') return [];
      throw error;
    }
    this.expectStatus(answer, [200], operation);
    return parseBody(answer, tagList, operation).tags ?? [];
  }

  /** A manifest or index by tag or digest, exactly as stored. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    assertRepositoryName(repository);
    assertReference(reference);
    const operation = `GET manifest ${repository}:${reference}`;
    const answer = await this.send('GET', `/v2/${repository}/manifests/${reference}`, [pull(repository)], operation, {
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    this.expectStatus(answer, [200], operation);
    const { res, body } = answer;
    const text = new TextDecoder().decode(body);
    const mediaType = contentType(res);
    const manifest = parseManifest(parseJson(text, operation), mediaType);
    return {
      digest: res.headers.get('docker-content-digest') ?? sha256Digest(body),
      mediaType: mediaType ?? manifest.mediaType,
      size: body.byteLength,
      bytes: body,
      text,
      manifest,
    };
  }

  /** Digest, media type and size of a manifest, or null when the tag or digest is unknown. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead | null> {
    assertRepositoryName(repository);
    assertReference(reference);
    const operation = `HEAD manifest ${repository}:${reference}`;
    const answer = await this.send('HEAD', `/v2/${repository}/manifests/${reference}`, [pull(repository)], operation, {
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    });
    if (answer.res.status === 404) return null;
    this.expectStatus(answer, [200], operation);
    const { headers } = answer.res;
    const digest = headers.get('docker-content-digest');
    const mediaType = contentType(answer.res);
    if (digest === null || mediaType === undefined) {
      throw new RegistryError('UNKNOWN', `${operation}: answer lacks Docker-Content-Digest or Content-Type`);
    }
    return { digest, mediaType, size: Number(headers.get('content-length') ?? 0) };
  }

  /** A JSON blob such as an image config, parsed but not validated. */
  async getBlobJson(repository: string, digest: string): Promise<unknown> {
    assertRepositoryName(repository);
    assertDigest(digest);
    const operation = `GET blob ${repository}@${digest}`;
    const answer = await this.send('GET', `/v2/${repository}/blobs/${digest}`, [pull(repository)], operation);
    this.expectStatus(answer, [200], operation);
    return parseJson(new TextDecoder().decode(answer.body), operation);
  }

  /** The blob's size, or null when it is not linked into this repository. */
  async headBlob(repository: string, digest: string): Promise<number | null> {
    assertRepositoryName(repository);
    assertDigest(digest);
    const operation = `HEAD blob ${repository}@${digest}`;
    const answer = await this.send('HEAD', `/v2/${repository}/blobs/${digest}`, [pull(repository)], operation);
    if (answer.res.status === 404) return null;
    this.expectStatus(answer, [200], operation);
    return Number(answer.res.headers.get('content-length') ?? 0);
  }

  /** Deletes a manifest and with it every tag pointing at it. The registry refuses deletes by tag. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    assertRepositoryName(repository);
    assertDigest(digest);
    const operation = `DELETE manifest ${repository}@${digest}`;
    const scopes = [repositoryScope(repository, ['delete'])];
    const answer = await this.send('DELETE', `/v2/${repository}/manifests/${digest}`, scopes, operation);
    this.expectStatus(answer, [202], operation);
  }

  /** Stores a manifest under a tag or its digest; returns the digest. Its blobs and children must exist. */
  async putManifest(repository: string, reference: string, mediaType: string, body: Uint8Array | string): Promise<string> {
    assertRepositoryName(repository);
    assertReference(reference);
    const operation = `PUT manifest ${repository}:${reference}`;
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const answer = await this.send('PUT', `/v2/${repository}/manifests/${reference}`, [push(repository)], operation, {
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    this.expectStatus(answer, [201], operation);
    return answer.res.headers.get('docker-content-digest') ?? sha256Digest(bytes);
  }

  /**
   * Uploads a blob in one piece: POST opens an upload session, PUT with `?digest=` completes it.
   * (A single POST carrying the body is accepted by 2.8 but silently creates no blob.)
   */
  async pushBlob(repository: string, bytes: Uint8Array): Promise<PushedBlob> {
    assertRepositoryName(repository);
    const digest = sha256Digest(bytes);
    const scopes = [push(repository)];
    const started = `POST blob upload ${repository}`;
    const session = await this.send('POST', `/v2/${repository}/blobs/uploads/`, scopes, started);
    this.expectStatus(session, [202], started);
    const location = session.res.headers.get('location');
    if (location === null) throw new RegistryError('BLOB_UPLOAD_INVALID', `${started}: answer lacks Location`);

    const completed = `PUT blob ${repository}@${digest}`;
    const target = this.sameOrigin(location, completed);
    target.searchParams.set('digest', digest);
    const answer = await this.send('PUT', target, scopes, completed, {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    this.expectStatus(answer, [201], completed);
    return { digest, size: bytes.byteLength };
  }

  /**
   * One HTTP request with a bearer token for `scopes`, its body read in full under the timeout.
   * Only a missing answer throws here; callers judge the status.
   */
  private async send(
    method: string,
    target: string | URL,
    scopes: readonly string[],
    operation: string,
    init: { headers?: Record<string, string>; body?: Uint8Array } = {},
  ): Promise<Answer> {
    const url = this.sameOrigin(target, operation);
    const token = await this.token(scopes);
    const release = await this.slots.acquire();
    const startedAt = performance.now();
    let status: number | undefined;
    try {
      this.callCount += 1;
      const res = await fetch(url, {
        method,
        headers: { ...init.headers, authorization: `Bearer ${token}` },
        body: init.body && fetchableBytes(init.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      return { res, body: new Uint8Array(await res.arrayBuffer()) };
    } catch (error) {
      throw this.unavailable(error, operation);
    } finally {
      release();
      this.onRequest?.({ method, path: url.pathname, status, durationMs: performance.now() - startedAt });
    }
  }

  private expectStatus(answer: Answer, expected: readonly number[], operation: string): void {
    if (!expected.includes(answer.res.status)) throw toRegistryError(answer, operation);
  }

  /** Tokens are reused per scope set until shortly before they expire; concurrent callers share one mint. */
  private token(scopes: readonly string[]): Promise<string> {
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;

    if (this.tokens.size >= TOKEN_CACHE_PRUNE_SIZE) this.pruneTokens();
    const entry: CachedToken = { token: this.tokenFor(scopes), refreshAt: Number.POSITIVE_INFINITY };
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

  private pruneTokens(): void {
    const now = Date.now();
    for (const [key, entry] of this.tokens) if (entry.refreshAt <= now) this.tokens.delete(key);
  }

  /** Paging links and upload locations come from the registry; a bearer token must not follow them elsewhere. */
  private sameOrigin(target: string | URL, operation: string): URL {
    const url = new URL(target, this.baseUrl);
    if (url.origin !== this.baseUrl.origin) {
      throw new RegistryError('UNKNOWN', `${operation}: registry pointed to another origin (${url.origin})`);
    }
    return url;
  }

  /** fetch() and body reads only fail for want of an answer: refused, reset, or timed out. */
  private unavailable(error: unknown, operation: string): unknown {
    if (!(error instanceof Error)) return error;
    if (error.name === 'TimeoutError') {
      return new RegistryUnavailableError('UNAVAILABLE', `${operation}: no answer within ${this.timeoutMs} ms`, {
        cause: error,
      });
    }
    const reason = error.cause instanceof Error ? error.cause.message : error.message;
    return new RegistryUnavailableError('UNAVAILABLE', `${operation}: registry unreachable: ${reason}`, { cause: error });
  }
}

function pull(repository: string): string {
  return repositoryScope(repository, ['pull']);
}

function push(repository: string): string {
  return repositoryScope(repository, ['pull', 'push']);
}

function toRegistryError({ res, body }: Answer, operation: string): RegistryError {
  return registryErrorFromResponse(res, new TextDecoder().decode(body), operation);
}

function parseJson(text: string, operation: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RegistryError('UNKNOWN', `${operation}: answer is not JSON`, { cause: error });
  }
}

function parseBody<T>(answer: Answer, schema: z.ZodType<T>, operation: string): T {
  const parsed = schema.safeParse(parseJson(new TextDecoder().decode(answer.body), operation));
  if (!parsed.success) throw new RegistryError('UNKNOWN', `${operation}: unexpected answer: ${parsed.error.message}`);
  return parsed.data;
}

/** The target of `Link: </v2/_catalog?last=x&n=100>; rel="next"`, or null on the last page. */
function nextPageLink(header: string | null): string | null {
  const match = header?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
  return match?.[1] ?? null;
}

function contentType(res: Response): string | undefined {
  return res.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
}

/** fetch() takes no view of a SharedArrayBuffer; those (rare) are copied. */
function fetchableBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Milliseconds since the epoch at which the token expires; 0 (never reuse) when it carries no `exp`. */
function tokenExpiry(token: string): number {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? 0 : exp * 1000;
  } catch {
    return 0;
  }
}

function assertRepositoryName(repository: string): void {
  if (!isRepositoryName(repository)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(repository)}`);
  }
}

function assertReference(reference: string): void {
  if (!isTag(reference) && !isDigest(reference)) {
    throw new RegistryError('TAG_INVALID', `invalid tag or digest ${JSON.stringify(reference)}`);
  }
}

function assertDigest(digest: string): void {
  if (!isDigest(digest)) throw new RegistryError('DIGEST_INVALID', `expected a digest, got ${JSON.stringify(digest)}`);
}

/** A counting semaphore: at most `size` holders at once, the rest wait in arrival order. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    };
  }
}
