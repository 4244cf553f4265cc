import { createHash } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { Plugin } from 'graphql-yoga';

type GraphiQLOptions = Parameters<typeof renderGraphiQL>[0];

/**
 * GraphiQL with its assets inline (the default page loads them from a CDN), and the
 * Content-Security-Policy that lets exactly its own inline scripts run: nothing injected, nothing
 * from elsewhere, no framing. The page (~9 MB) is rendered and hashed once per set of options.
 */
export function createGraphiQLPage() {
  let rendered: { key: string; html: string; policy: string } | undefined;
  const render = (options: GraphiQLOptions): string => {
    const key = JSON.stringify(options ?? {});
    if (rendered?.key !== key) {
      const html = renderGraphiQL(options);
      rendered = { key, html, policy: contentSecurityPolicy(html) };
    }
    return rendered.html;
  };
  const plugin: Plugin = {
    onResponse({ response }) {
      if (rendered && response.headers.get('content-type')?.startsWith('text/html')) {
        response.headers.set('content-security-policy', rendered.policy);
      }
    },
  };
  return { render, plugin };
}

function contentSecurityPolicy(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash('sha256').update(body!).digest('base64')}'`,
  );
  return [
    "default-src 'none'",
    `script-src ${scripts.join(' ')}`,
    // The editor starts its language workers from blob: URLs and sets styles at run time.
    'worker-src blob:',
    "style-src 'unsafe-inline'",
    'img-src data:',
    'font-src data:',
    // Queries over HTTP, subscriptions over SSE and graphql-ws, all to this origin.
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers every response carries: no MIME sniffing, no framing, no referrer to other sites. */
export function useSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      response.headers.set('x-content-type-options', 'nosniff');
      response.headers.set('x-frame-options', 'DENY');
      response.headers.set('referrer-policy', 'no-referrer');
    },
  };
}
