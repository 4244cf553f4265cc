import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClientAddresses } from '../../src/http/client-address.js';
import { makeDataPrivate } from '../../src/private-files.js';
import { useTestApp } from '../support/app.js';

const ALLOWED_ORIGIN = 'https://app.example.com';
const app = useTestApp({ BERTH_CORS_ORIGINS: ALLOWED_ORIGIN, BERTH_TRUSTED_PROXIES: '127.0.0.1' });

const graphql = (init: RequestInit & { headers?: Record<string, string> }) => fetch(new URL('/graphql', app.url), init);
const QUERY = JSON.stringify({ query: '{ viewer { name } }' });

describe('CSRF prevention', () => {
  it('refuses requests a browser sends without a preflight: forms, text/plain, bare GETs', async () => {
    const form = await graphql({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7Bviewer%7Bname%7D%7D' });
    expect(form.status).toBe(403);
    const text = await graphql({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: QUERY });
    expect(text.status).toBe(403);
    const get = await fetch(new URL('/graphql?query=%7Bviewer%7Bname%7D%7D', app.url));
    expect(get.status).toBe(403);
  });

  it('serves JSON, and GETs that carry a token or the CSRF header; refuses multipart', async () => {
    expect((await graphql({ method: 'POST', headers: { 'content-type': 'application/json' }, body: QUERY })).status).toBe(200);
    const withToken = await fetch(new URL('/graphql?query=%7Bviewer%7Bname%7D%7D', app.url), { headers: { authorization: `Bearer ${app.admin.token}` } });
    expect(await withToken.json()).toEqual({ data: { viewer: { name: 'admin' } } });
    const withHeader = await fetch(new URL('/graphql?query=%7Bviewer%7Bname%7D%7D', app.url), { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(withHeader.status).toBe(200);
    const multipart = new FormData();
    multipart.set('operations', QUERY);
    expect((await graphql({ method: 'POST', headers: { 'x-graphql-yoga-csrf': '1' }, body: multipart })).status).toBe(415);
  });
});

describe('CORS', () => {
  it('reflects no origin unless it is listed in BERTH_CORS_ORIGINS', async () => {
    const evil = await graphql({ method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: QUERY });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('access-control-allow-credentials')).toBeNull();
    const preflight = await graphql({ method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await graphql({ method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});

describe('security headers', () => {
  it('serve GraphiQL with a CSP that allows exactly its inline scripts, and forbid framing everywhere', async () => {
    const page = await fetch(new URL('/graphql', app.url), { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    const scriptSources = csp.split(';').find((part) => part.trim().startsWith('script-src'))!;
    const inlineScript = html.slice(html.indexOf('<script>') + '<script>'.length, html.lastIndexOf('</script>'));
    expect(scriptSources.trim()).toBe(`script-src 'sha256-${createHash('sha256').update(inlineScript).digest('base64')}'`);
    for (const response of [page, await graphql({ method: 'POST', headers: { 'content-type': 'application/json' }, body: QUERY })]) {
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });
});

describe('X-Forwarded-For from a trusted proxy (BERTH_TRUSTED_PROXIES=127.0.0.1)', () => {
  const guess = (forwardedFor: string) =>
    graphql({ method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer berth_wrong', 'x-forwarded-for': forwardedFor }, body: QUERY });

  it('limits each client behind the proxy on its own', async () => {
    for (let i = 0; i < 10; i++) expect((await guess('203.0.113.7')).status).toBe(401);
    expect((await guess('203.0.113.7')).status).toBe(429);
    expect((await guess('203.0.113.8')).status).toBe(401);
    expect((await guess('198.51.100.1, 203.0.113.7')).status).toBe(429);
  });
});

describe('ClientAddresses', () => {
  it('believes X-Forwarded-For only from trusted proxies, reading it right to left', () => {
    const none = new ClientAddresses([]);
    expect(none.resolve('10.0.0.5', '1.2.3.4')).toBe('10.0.0.5');
    const proxies = new ClientAddresses(['10.0.0.0/8', '::1/128']);
    expect(proxies.resolve('::ffff:10.0.0.5', '1.2.3.4')).toBe('1.2.3.4');
    expect(proxies.resolve('10.0.0.5', 'spoofed, 1.2.3.4, 10.0.0.9')).toBe('1.2.3.4');
    expect(proxies.resolve('10.0.0.5', '1.1.1.1, not-an-address')).toBe('10.0.0.5');
    expect(proxies.resolve('192.0.2.1', '1.2.3.4')).toBe('192.0.2.1');
    expect(proxies.resolve('::1', '[2001:db8::1]')).toBe('2001:db8::1');
    expect(proxies.resolve(undefined, null)).toBe('unknown');
  });
});

describe('files', () => {
  it('keeps the data dir 0700 and the SQLite files 0600, tightening an older installation', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-private-'));
    try {
      const dataDir = path.join(dir, 'data');
      await mkdir(dataDir, { mode: 0o755 });
      const database = path.join(dataDir, 'berth.db');
      await writeFile(database, '', { mode: 0o644 });
      await writeFile(`${database}-wal`, '', { mode: 0o644 });
      await chmod(dataDir, 0o755);
      await makeDataPrivate({ dataDir, databaseUrl: `file:${database}` });
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      expect((await stat(database)).mode & 0o777).toBe(0o600);
      expect((await stat(`${database}-wal`)).mode & 0o777).toBe(0o600);

      const fresh = path.join(dir, 'fresh');
      await makeDataPrivate({ dataDir: fresh, databaseUrl: `file:${path.join(fresh, 'berth.db')}` });
      expect((await stat(fresh)).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(fresh, 'berth.db'))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the embedded registry storage 0700', async () => {
    expect((await stat(app.registry.embedded!.storageDir)).mode & 0o777).toBe(0o700);
  });
});
