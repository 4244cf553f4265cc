import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Services } from '../../context.js';
import { type ActivityEvent, recordRegistryEvents } from '../activity.js';
import { BERTH_SUBJECT } from '../backend.js';
import { MANIFEST_MEDIA_TYPES } from '../v2/manifest.js';


const envelopeSchema = z.object({ events: z.array(z.unknown()) });

/** One event of distribution's notification envelope (`application/vnd.docker.distribution.events.v1+json`). */
const eventSchema = z.object({
  timestamp: z.coerce.date(),
  action: z.string(),
  target: z.object({
    mediaType: z.string().optional(),
    digest: z.string().optional(),
    repository: z.string(),
    tag: z.string().optional(),
  }),
  actor: z.object({ name: z.string().optional() }).optional(),
});

type RegistryNotification = z.infer<typeof eventSchema>;

/**
 * `POST /hooks/registry`: the registry's notifications, authenticated by the shared secret it sends
 * as a bearer token. An event berth cannot read is logged and skipped rather than refused: the
 * registry retries a refused delivery forever, and every later event would queue behind it.
 */
export function registryHookRoute(services: Pick<Services, 'db' | 'pubsub' | 'contentCache' | 'registry' | 'log'>) {
  const expected = sha256(`Bearer ${services.registry.hookSecret}`);
  const log = services.log.child({ component: 'registry-hook' });
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
    // Hashing first gives both sides the same length, which timingSafeEqual needs.
    if (!timingSafeEqual(sha256(request.headers.get('authorization') ?? ''), expected)) return new Response(null, { status: 401 });
    const envelope = envelopeSchema.safeParse(await request.json().catch(() => null));
    if (!envelope.success) return new Response('expected {"events": [...]}', { status: 400 });
    const events = envelope.data.events.flatMap((raw) => activityEvent(raw, log, (repository, digest) => services.contentCache.forgetManifest(repository, digest)));
    try {
      await recordRegistryEvents(services, events);
    } catch (error) {
      log.error({ err: error }, 'could not record registry events; the registry delivers them again');
      return new Response(null, { status: 503 });
    }
    return new Response(null, { status: 200 });
  };
}

/**
 * The manifest and tag events berth records; blob traffic, mounts and berth's own reads are dropped.
 * Every deleted manifest leaves the content cache, whoever deleted it (GC deletes untagged ones).
 */
function activityEvent(raw: unknown, log: Logger, forgetManifest: (repository: string, digest: string) => void): ActivityEvent[] {
  const parsed = eventSchema.safeParse(raw);
  if (!parsed.success) {
    log.warn({ event: raw, issues: parsed.error.issues }, 'skipped a registry event berth cannot read');
    return [];
  }
  const event = parsed.data;
  const { repository, tag = null, digest = null } = event.target;
  const base = { repository, tag, digest, at: event.timestamp };
  switch (event.action) {
    case 'push':
      return isManifest(event) ? [{ action: 'push', ...base }] : [];
    // Every manifest berth reads is a pull to the registry; those are not pulls by anyone.
    case 'pull':
      return isManifest(event) && event.actor?.name !== BERTH_SUBJECT ? [{ action: 'pull', ...base }] : [];
    // berth records its own deletions when it makes them (content-deletion mutations): it knows
    // which tags it put back, which the registry reports as deleted and pushed anew. Deletes carry
    // no media type; a blob delete looks like a manifest delete and removes nothing.
    case 'delete':
      if (digest) forgetManifest(repository, digest);
      return (tag || digest) && event.actor?.name !== BERTH_SUBJECT ? [{ action: 'delete', ...base }] : [];
    default:
      return [];
  }
}

function isManifest(event: RegistryNotification): boolean {
  return (MANIFEST_MEDIA_TYPES as readonly (string | undefined)[]).includes(event.target.mediaType) && event.target.digest !== undefined;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
