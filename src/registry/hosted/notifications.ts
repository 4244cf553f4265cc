import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import type { PubSub } from '../../pubsub.js';
import type { ContentIndexWriter } from '../content-index/writer.js';
import { slugOf } from './slug.js';
import { MANIFEST_MEDIA_TYPES } from '../v2/manifest.js';
import { BERTH_SUBJECT } from './hosted-backend.js';

const envelopeSchema = z.object({ events: z.array(z.unknown()) });

/** One event of distribution's notification envelope (`application/vnd.docker.distribution.events.v1+json`). */
const eventSchema = z.object({
  timestamp: z.coerce.date(),
  action: z.string(),
  target: z.object({
    mediaType: z.string().optional(),
    digest: z.string().optional(),
    size: z.number().int().nonnegative().optional(),
    repository: z.string(),
    tag: z.string().optional(),
  }),
  actor: z.object({ name: z.string().optional() }).optional(),
});

type RegistryNotification = z.infer<typeof eventSchema>;

/** A manifest event of a hosted repository, as registryEvents subscribers receive it. */
export interface ManifestEvent {
  action: 'push' | 'pull' | 'delete';
  /** The backend path, `<slug>/<name>`. */
  repository: string;
  tag: string | null;
  digest: string | null;
  at: Date;
}

export interface HookDeps {
  db: Db;
  pubsub: PubSub;
  contentIndex: ContentIndexWriter;
  hookSecret: string;
  log: Logger;
  /** True while berth stops the registry: its port is closed, so nothing it delivers can be read back. */
  registryStopping: () => boolean;
}

/**
 * `POST /hooks/registry`: the registry's notifications, authenticated by the shared secret it sends
 * as a bearer token. They keep the content index current (a push is in the graph as soon as it is
 * recorded here) and go out to registryEvents subscribers. An event berth cannot read is logged and
 * skipped rather than refused: the registry retries a refused delivery forever, and every later
 * event would queue behind it. A delivery that fails to record answers 503 and comes again.
 */
export function registryHookRoute(deps: HookDeps) {
  const expected = sha256(`Bearer ${deps.hookSecret}`);
  const log = deps.log.child({ component: 'registry-hook' });
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
    // Hashing first gives both sides the same length, which timingSafeEqual needs.
    if (!timingSafeEqual(sha256(request.headers.get('authorization') ?? ''), expected)) return new Response(null, { status: 401 });
    // Taken and dropped rather than refused: the registry would retry them until it exits, and
    // the next start reconciles the index with the storage anyway.
    if (deps.registryStopping()) {
      log.debug('dropped registry events delivered while the registry stops');
      return new Response(null, { status: 200 });
    }
    const envelope = envelopeSchema.safeParse(await request.json().catch(() => null));
    if (!envelope.success) return new Response('expected {"events": [...]}', { status: 400 });
    try {
      for (const raw of envelope.data.events) {
        const parsed = eventSchema.safeParse(raw);
        if (parsed.success) await record(deps, parsed.data);
        else log.warn({ event: raw, issues: parsed.error.issues }, 'skipped a registry event berth cannot read');
      }
    } catch (error) {
      log.error({ err: error }, 'could not record registry events; the registry delivers them again');
      return new Response(null, { status: 503 });
    }
    return new Response(null, { status: 200 });
  };
}

/**
 * Applies one event to the index. berth's own reads are not pulls, and berth records its own
 * deletions when it makes them (it knows which tags it put back, which the registry reports as
 * deleted and pushed anew). Deletes carry no media type: a blob unlink looks like a manifest delete.
 */
async function record({ db, pubsub, contentIndex }: HookDeps, event: RegistryNotification): Promise<void> {
  const { repository, tag = null, digest = null, size } = event.target;
  const at = event.timestamp;
  const byBerth = event.actor?.name === BERTH_SUBJECT;
  let published: ManifestEvent | null = null;
  switch (event.action) {
    case 'push':
      if (digest && isManifest(event)) {
        await contentIndex.manifestPushed(repository, digest, tag, at);
        published = { action: 'push', repository, tag, digest, at };
      } else if (digest && size !== undefined) {
        await contentIndex.blobLinked(repository, digest, size);
      }
      break;
    case 'mount':
      if (digest && size !== undefined) await contentIndex.blobLinked(repository, digest, size);
      break;
    case 'pull':
      if (digest && isManifest(event) && !byBerth) {
        await contentIndex.manifestPulled(repository, digest, tag, at);
        published = { action: 'pull', repository, tag, digest, at };
      }
      break;
    case 'delete':
      if (byBerth) break;
      if (tag) await contentIndex.tagDeleted(repository, tag);
      else if (digest) await contentIndex.digestDeleted(repository, digest);
      if (tag || digest) published = { action: 'delete', repository, tag, digest, at };
      break;
  }
  if (published) await publish(db, pubsub, published);
}

async function publish(db: Db, pubsub: PubSub, event: ManifestEvent): Promise<void> {
  const slug = slugOf(event.repository);
  if (!slug) return;
  const registry = await db.registry.findFirst({ where: { kind: 'HOSTED', slug }, select: { id: true } });
  if (registry) pubsub.publish('registry:event', registry.id, { ...event, repository: event.repository.slice(slug.length + 1) });
}

function isManifest(event: RegistryNotification): boolean {
  return (MANIFEST_MEDIA_TYPES as readonly (string | undefined)[]).includes(event.target.mediaType);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
