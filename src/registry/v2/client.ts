import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Dispatcher, request as undiciRequest } from 'undici';
import { z } from 'zod';
import type { RegistryAuth } from './auth.js';
import { RegistryError, RegistryUnavailableError, registryErrorFromResponse } from './errors.js';
import { MANIFEST_MEDIA_TYPES, parseManifest, type Manifest } from './manifest.js';
import { isDigest, isRepositoryName, isTag } from './reference.js';
import { CATALOG_SCOPE, repositoryScope } from './scope.js';

export interface RegistryClientOptions {
  /** Origin of the registry, e.g. `http://127.0.0.1:5000`. */
  baseUrl: string;
  auth: RegistryAuth;
  /** Per request, covering the whole answer including its body; for a streamed blob, the longest pause. @default 10_000 */
  timeoutMs?: number;
  /** Requests in flight at once; more wait their turn. Streamed blobs do not count. @default 16 */
  maxConcurrency?: number;
  /** Called once per HTTP request when it settles; `status` is absent when no answer arrived. */
  onRequest?: (event: RegistryRequestEvent) => void;
  /** How each request connects, when not over TCP to `baseUrl` (berth's own registry process, over its unix socket). */
  dispatcher?: () => Dispatcher | undefined;
}

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

/** A blob read as it streams, never held whole in memory. */
export interface BlobStream {
  size: number;
  body: Readable;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENCY = 16;
const MAX_CATALOG_PAGE = 1000;
/** Blob GETs may be redirected to storage (a CDN, an object store); credentials never follow across origins. */
const MAX_BLOB_REDIRECTS = 5;
/** Node's TLS failures carry these codes; anything else without an answer is the network. */
const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

const catalogPage = z.object({ repositories: z.array(z.string()).nullish() });
const tagList = z.object({ tags: z.array(z.string()).nullish() });

interface Answer {
  res: Response;
  body: Uint8Array;
}

/**
 * A client for the Docker Registry HTTP API V2 (CNCF distribution 2.8). It mints the bearer token
 * each call needs itself; whatever the registry or the network does wrong surfaces as a RegistryError.
 */
export class RegistryClient {
  readonly baseUrl: URL;
  private readonly timeoutMs: number;
  private readonly auth: RegistryAuth;
  private readonly onRequest: ((event: RegistryRequestEvent) => void) | undefined;
  private readonly dispatcher: (() => Dispatcher | undefined) | undefined;
  private readonly slots: Slots;
  private callCount = 0;

  constructor(options: RegistryClientOptions) {
    this.baseUrl = new URL(options.baseUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.auth = options.auth;
    this.onRequest = options.onRequest;
    this.dispatcher = options.dispatcher;
    this.slots = new Slots(options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY);
  }

  /** HTTP requests made so far, whatever their outcome. */
  get calls(): number {
    return this.callCount;
  }

  /**
   * Resolves when the registry answers `GET /v2/` with 200 (authenticating as it asks). `isV2` says
   * whether the answer looks like a V2 registry's: the `Docker-Distribution-API-Version:
   * registry/2.0` header, or a JSON object body (what registries that omit the header send).
   */
  async ping(): Promise<{ isV2: boolean; contentType: string | null }> {
    const operation = 'GET /v2/';
    const answer = await this.send('GET', '/v2/', [], operation);
    this.expectStatus(answer, [200], operation);
    const header = answer.res.headers.get('docker-distribution-api-version') ?? '';
    let jsonObject = false;
    try {
      const body: unknown = JSON.parse(new TextDecoder().decode(answer.body));
      jsonObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    } catch {
      jsonObject = false;
    }
    return { isV2: header.startsWith('registry/2.') || jsonObject, contentType: answer.res.headers.get('content-type') };
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
    const completed = `PUT blob ${repository}@${digest}`;
    const target = await this.startUpload(repository, digest, completed);
    const answer = await this.send('PUT', target, scopes, completed, {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    this.expectStatus(answer, [201], completed);
    return { digest, size: bytes.byteLength };
  }

  /**
   * A blob as a stream, for copying it without holding it in memory, following the redirects
   * registries send blob reads to. The stream errors when the registry pauses longer than the
   * timeout; destroy it to stop early.
   */
  async getBlobStream(repository: string, digest: string): Promise<BlobStream> {
    assertRepositoryName(repository);
    assertDigest(digest);
    const operation = `GET blob ${repository}@${digest}`;
    const res = await this.stream('GET', this.sameOrigin(`/v2/${repository}/blobs/${digest}`, operation), [pull(repository)], operation);
    if (res.statusCode !== 200) {
      throw registryErrorFromResponse({ status: res.statusCode, statusText: '' }, await res.body.text(), operation);
    }
    return { size: Number(res.headers['content-length'] ?? 0), body: res.body };
  }

  /**
   * Links a blob another repository of this registry holds into `repository` without copying it
   * (`POST …/uploads/?mount=…&from=…`). False when the registry would not mount it.
   */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    assertRepositoryName(repository);
    assertRepositoryName(from);
    assertDigest(digest);
    const operation = `POST blob mount ${repository}@${digest} from ${from}`;
    const target = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const answer = await this.send('POST', target, [push(repository), pull(from)], operation);
    this.expectStatus(answer, [201, 202], operation);
    if (answer.res.status === 201) return true;
    // 202 opened an upload session instead; nothing will use it.
    const location = answer.res.headers.get('location');
    if (location) await this.send('DELETE', this.sameOrigin(location, operation), [push(repository)], operation).catch(() => undefined);
    return false;
  }

  /**
   * Uploads a blob from a stream: POST opens a session, one PUT streams the body and names the
   * digest, which the registry checks before it stores anything. The body is read only as fast as
   * the registry takes it.
   */
  async pushBlobStream(repository: string, digest: string, size: number, body: Readable): Promise<void> {
    assertRepositoryName(repository);
    assertDigest(digest);
    const operation = `PUT blob ${repository}@${digest}`;
    const target = await this.startUpload(repository, digest, operation);
    const res = await this.stream('PUT', target, [push(repository)], operation, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
    });
    const answer = await res.body.text();
    if (res.statusCode !== 201) throw registryErrorFromResponse({ status: res.statusCode, statusText: '' }, answer, operation);
  }

  /** Opens an upload session; returns where to PUT the blob, its digest already named. */
  private async startUpload(repository: string, digest: string, completing: string): Promise<URL> {
    const started = `POST blob upload ${repository}`;
    const session = await this.send('POST', `/v2/${repository}/blobs/uploads/`, [push(repository)], started);
    this.expectStatus(session, [202], started);
    const location = session.res.headers.get('location');
    if (location === null) throw new RegistryError('BLOB_UPLOAD_INVALID', `${started}: answer lacks Location`);
    const target = this.sameOrigin(location, completing);
    target.searchParams.set('digest', digest);
    return target;
  }

  /**
   * One HTTP request authenticated for `scopes`, its body read in full under the timeout. A 401
   * goes to the auth strategy once; if it learned something, the request is sent again. Only a
   * missing answer throws here; callers judge the status.
   */
  private async send(
    method: string,
    target: string | URL,
    scopes: readonly string[],
    operation: string,
    init: { headers?: Record<string, string>; body?: Uint8Array } = {},
  ): Promise<Answer> {
    const url = this.sameOrigin(target, operation);
    const release = await this.slots.acquire();
    try {
      const authorization = await this.auth.authorize(scopes);
      const answer = await this.exchange(method, url, authorization, operation, init);
      if (answer.res.status !== 401 || !(await this.auth.challenged(answer.res.headers.get('www-authenticate'), scopes, authorization))) return answer;
      return this.exchange(method, url, await this.auth.authorize(scopes), operation, init);
    } finally {
      release();
    }
  }

  private async exchange(
    method: string,
    url: URL,
    authorization: string | null,
    operation: string,
    init: { headers?: Record<string, string>; body?: Uint8Array },
  ): Promise<Answer> {
    const startedAt = performance.now();
    let status: number | undefined;
    try {
      this.callCount += 1;
      const requestInit: RequestInit & { dispatcher?: Dispatcher } = {
        method,
        headers: { ...init.headers, ...(authorization ? { authorization } : {}) },
        body: init.body && fetchableBytes(init.body),
        signal: AbortSignal.timeout(this.timeoutMs),
        dispatcher: this.dispatcher?.(),
      };
      const res = await fetch(url, requestInit);
      status = res.status;
      return { res, body: new Uint8Array(await res.arrayBuffer()) };
    } catch (error) {
      throw this.unavailable(error, operation);
    } finally {
      this.onRequest?.({ method, path: url.pathname, status, durationMs: performance.now() - startedAt });
    }
  }

  /**
   * A request whose body (sent or received) streams, with Node streams end to end so that
   * backpressure holds: the timeout bounds each pause (`bodyTimeout`), not the whole transfer. A
   * streamed request body cannot be sent twice, so such a request is authorized up front (the
   * upload session before it already met any challenge); a streamed read retries once after a 401.
   */
  private async stream(
    method: 'GET' | 'PUT',
    url: URL,
    scopes: readonly string[],
    operation: string,
    init: { headers?: Record<string, string>; body?: Readable } = {},
  ): Promise<Dispatcher.ResponseData> {
    const send = async (authorization: string | null): Promise<Dispatcher.ResponseData> => {
      const startedAt = performance.now();
      this.callCount += 1;
      try {
        const res = await undiciRequest(url, {
          method,
          headers: { ...init.headers, ...(authorization ? { authorization } : {}) },
          body: init.body,
          dispatcher: this.dispatcher?.(),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          ...(method === 'GET' ? { maxRedirections: MAX_BLOB_REDIRECTS } : {}),
        });
        this.onRequest?.({ method, path: url.pathname, status: res.statusCode, durationMs: performance.now() - startedAt });
        return res;
      } catch (error) {
        this.onRequest?.({ method, path: url.pathname, status: undefined, durationMs: performance.now() - startedAt });
        throw this.unavailable(error, operation);
      }
    };
    const authorization = await this.auth.authorize(scopes);
    const first = await send(authorization);
    if (first.statusCode !== 401 || init.body) return first;
    const challenge = first.headers['www-authenticate'];
    if (!(await this.auth.challenged(typeof challenge === 'string' ? challenge : null, scopes, authorization))) return first;
    await first.body.dump();
    return send(await this.auth.authorize(scopes));
  }

  private expectStatus(answer: Answer, expected: readonly number[], operation: string): void {
    if (!expected.includes(answer.res.status)) throw toRegistryError(answer, operation);
  }

  /** Paging links and upload locations come from the registry; a bearer token must not follow them elsewhere. */
  private sameOrigin(target: string | URL, operation: string): URL {
    const url = new URL(target, this.baseUrl);
    if (url.origin !== this.baseUrl.origin) {
      throw new RegistryError('UNKNOWN', `${operation}: registry pointed to another origin (${url.origin})`);
    }
    return url;
  }

  /** fetch() and body reads only fail for want of an answer: refused, reset, TLS refused, or timed out. */
  private unavailable(error: unknown, operation: string): unknown {
    if (error instanceof RegistryError) return error;
    if (!(error instanceof Error)) return error;
    if (['TimeoutError', 'AbortError', 'HeadersTimeoutError', 'BodyTimeoutError'].includes(error.name)) {
      return new RegistryUnavailableError('UNAVAILABLE', `${operation}: no answer within ${this.timeoutMs} ms`, { cause: error, transport: 'timeout' });
    }
    // fetch() wraps the failure in a TypeError; undici's request() throws it as it is.
    const cause = error.cause instanceof Error ? error.cause : error;
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : '';
    if (TLS_ERROR.test(code) || /certificate|TLS|SSL/i.test(cause.message)) {
      return new RegistryUnavailableError('UNAVAILABLE', `${operation}: TLS failed: ${cause.message}`, { cause: error, transport: 'tls' });
    }
    return new RegistryUnavailableError('UNAVAILABLE', `${operation}: registry unreachable: ${cause.message}`, { cause: error, transport: 'network' });
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
