import { describe, expect, it } from 'vitest';
import { BerthError } from '../../../src/errors.js';
import {
  RegistryError,
  registryErrorFromResponse,
  RegistryNotFoundError,
  RegistryReadOnlyError,
  RegistryUnavailableError,
} from '../../../src/registry/v2/errors.js';

const v2 = (code: string, message: string, detail?: unknown): string => JSON.stringify({ errors: [{ code, message, detail }] });

describe('registryErrorFromResponse', () => {
  it('maps a 404 to RegistryNotFoundError with the V2 code, message and detail', () => {
    const error = registryErrorFromResponse(
      { status: 404, statusText: 'Not Found' },
      v2('MANIFEST_UNKNOWN', 'manifest unknown', { Tag: 'nosuchtag' }),
      'GET manifest team/app:nosuchtag',
    );
    expect(error).toBeInstanceOf(RegistryNotFoundError);
    expect(error).toBeInstanceOf(BerthError);
    expect(error).toMatchObject({ code: 'MANIFEST_UNKNOWN', status: 404, detail: { Tag: 'nosuchtag' } });
    expect(error.message).toBe('GET manifest team/app:nosuchtag: registry answered 404 MANIFEST_UNKNOWN: manifest unknown');
    expect(error.name).toBe('RegistryNotFoundError');
  });

  it('maps the read-only text/plain 405 to RegistryReadOnlyError', () => {
    const error = registryErrorFromResponse({ status: 405, statusText: 'Method Not Allowed' }, 'Method not allowed\n', 'POST');
    expect(error).toBeInstanceOf(RegistryReadOnlyError);
    expect(error).toMatchObject({ code: 'UNSUPPORTED', status: 405 });
  });

  it('keeps a JSON 405 (an unsupported operation) an ordinary RegistryError', () => {
    const error = registryErrorFromResponse({ status: 405, statusText: '' }, v2('UNSUPPORTED', 'The operation is unsupported.'), 'DELETE');
    expect(error).not.toBeInstanceOf(RegistryReadOnlyError);
    expect(error.code).toBe('UNSUPPORTED');
  });

  it.each([
    [503, '', 'UNAVAILABLE'],
    [500, v2('UNKNOWN', 'unknown error'), 'UNKNOWN'],
    [429, v2('TOOMANYREQUESTS', 'too many requests'), 'TOOMANYREQUESTS'],
    [429, '', 'TOOMANYREQUESTS'],
  ])('maps %i to RegistryUnavailableError (%j → %s)', (status, body, code) => {
    const error = registryErrorFromResponse({ status, statusText: '' }, body, 'GET');
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect(error.code).toBe(code);
  });

  it.each([
    [400, v2('DIGEST_INVALID', 'provided digest did not match uploaded content'), 'DIGEST_INVALID'],
    [401, v2('UNAUTHORIZED', 'authentication required'), 'UNAUTHORIZED'],
    [403, '', 'DENIED'],
    [400, v2('SOMETHING_NEW', 'from a later registry'), 'UNKNOWN'],
    [400, '<html>proxy error</html>', 'UNKNOWN'],
  ])('maps %i %j to a plain RegistryError with code %s', (status, body, code) => {
    const error = registryErrorFromResponse({ status, statusText: '' }, body, 'PUT');
    expect(error.constructor).toBe(RegistryError);
    expect(error.code).toBe(code);
  });
});
