import type { YogaServerOptions } from 'graphql-yoga';

/**
 * CORS for browser frontends on other origins: only the origins listed in BERTH_CORS_ORIGINS get
 * CORS headers (with credentials); any other origin gets none, so browsers keep its pages from
 * reading responses. Yoga's default would reflect every origin, with credentials.
 */
export function corsFor(origins: readonly string[]): NonNullable<YogaServerOptions<object, object>['cors']> {
  const allowed = new Set(origins);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return {
      origin: [origin],
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-graphql-yoga-csrf'],
      maxAge: 600,
    };
  };
}
