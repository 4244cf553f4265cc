import { isIP } from 'node:net';
import { ValidationError } from '../../errors.js';

/**
 * A registry's address as people type it (`registry.example:5000`, `https://host/v2/`), reduced to
 * what the V2 API is reached at: scheme, host and port, no trailing slash, no `/v2`. https unless
 * said otherwise; plain http only for a loopback host or when `insecure` allows it.
 */
export function normaliseRegistryUrl(input: string, insecure: boolean, field = 'url'): string {
  const trimmed = input.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  } catch {
    throw new ValidationError(`"${trimmed.slice(0, 100)}" is not a registry address (host[:port] or https://host[:port])`, field);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('a registry is reached over https or http', field);
  if (url.username || url.password) throw new ValidationError('put credentials in username and password, not in the URL', field);
  if (url.search || url.hash) throw new ValidationError('a registry address has no query or fragment', field);
  if (!/^\/(v2\/?)?$/.test(url.pathname)) {
    throw new ValidationError(`the V2 API lives at the root of a registry's host; drop the path "${url.pathname.slice(0, 100)}"`, field);
  }
  if (url.protocol === 'http:' && !insecure && !isLoopback(url.hostname)) {
    throw new ValidationError('plain http is only allowed for loopback hosts, or with insecure: true', field);
  }
  return url.origin;
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
