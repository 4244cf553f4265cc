import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { isReadOnlyDetail } from './read-only-detail.js';

/**
 * Error codes of the Docker Registry HTTP API V2 (distribution `registry/api/errcode` and `registry/api/v2`).
 * `UNAVAILABLE` also covers failures that never produced a response (refused, reset, timed out).
 */
export const V2_ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'PAGINATION_NUMBER_INVALID',
  'RANGE_INVALID',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'UNAVAILABLE',
  'UNKNOWN',
] as const;
export type V2ErrorCode = (typeof V2_ERROR_CODES)[number];

export interface RegistryErrorOptions extends ErrorOptions {
  /** HTTP status of the registry's answer; absent when no answer arrived. */
  status?: number;
  /** The `detail` member of the V2 error, e.g. `{ Tag: "v1" }` or the missing blob digest. */
  detail?: unknown;
  /** Why no answer arrived: the connection failed, TLS failed, or the answer took too long. */
  transport?: 'network' | 'tls' | 'timeout';
}

/** The V2 backend refused or failed a call. */
export class RegistryError extends BerthError {
  readonly status: number | undefined;
  readonly detail: unknown;
  readonly transport: RegistryErrorOptions['transport'];

  constructor(
    readonly code: V2ErrorCode,
    message: string,
    options: RegistryErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.detail = options.detail;
    this.transport = options.transport;
  }
}

/** 404: the repository, manifest or blob does not exist (MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN). */
export class RegistryNotFoundError extends RegistryError {}

/** No usable answer: connection failure, timeout, 5xx or 429. Worth retrying later. */
export class RegistryUnavailableError extends RegistryError {}

/**
 * 405 from a registry that takes no writes for maintenance: berth's registry port during a GC window
 * (its answer carries READ_ONLY_DETAIL), or distribution running with `storage.maintenance.readonly`.
 */
export class RegistryReadOnlyError extends RegistryError {}

const v2ErrorBody = z.object({
  errors: z
    .array(z.object({ code: z.string(), message: z.string().optional(), detail: z.unknown().optional() }))
    .min(1),
});

/**
 * Turns a non-ok registry answer into the matching RegistryError. `body` is the answer's text, read
 * by the caller under its timeout. `operation` names the call for the message, e.g.
 * `GET manifest team/app:v1`.
 */
export function registryErrorFromResponse(
  res: Pick<Response, 'status' | 'statusText'>,
  body: string,
  operation: string,
): RegistryError {
  const first = parseV2Error(body);
  const code = first ? knownCode(first.code) : codeForStatus(res.status);
  const reason = first?.message ?? (body.trim().slice(0, 200) || res.statusText || 'no message');
  const message = `${operation}: registry answered ${res.status} ${code}: ${reason}`;
  const options: RegistryErrorOptions = { status: res.status, detail: first?.detail };

  if (res.status === 404) return new RegistryNotFoundError(code, message, options);
  if (res.status === 429 || res.status >= 500) return new RegistryUnavailableError(code, message, options);
  // distribution's read-only mode answers every write with a bare text/plain 405; another JSON 405
  // is an ordinary UNSUPPORTED.
  if (res.status === 405 && (!first || isReadOnlyDetail(first.detail))) return new RegistryReadOnlyError('UNSUPPORTED', message, options);
  return new RegistryError(code, message, options);
}

function parseV2Error(text: string): z.infer<typeof v2ErrorBody>['errors'][number] | undefined {
  try {
    const parsed = v2ErrorBody.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.errors[0] : undefined;
  } catch {
    return undefined;
  }
}

function knownCode(code: string): V2ErrorCode {
  return isV2ErrorCode(code) ? code : 'UNKNOWN';
}

function isV2ErrorCode(code: string): code is V2ErrorCode {
  return (V2_ERROR_CODES as readonly string[]).includes(code);
}

function codeForStatus(status: number): V2ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 405:
      return 'UNSUPPORTED';
    case 429:
      return 'TOOMANYREQUESTS';
    default:
      return status >= 500 ? 'UNAVAILABLE' : 'UNKNOWN';
  }
}
