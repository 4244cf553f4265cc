import DataLoader from 'dataloader';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { ImageActivity, Prisma, RepositoryActivity, TagActivity } from '../generated/prisma/client.js';
import type { PubSub } from '../pubsub.js';
import type { RegistryContentCache } from './loaders.js';
import { slugOf } from './hosted/slug.js';

/**
 * The activity index: what the V2 API cannot tell, namely when a tag or manifest was pushed or last
 * pulled, and when a repository or registry last received a push. Rows are keyed by the
 * repository's backend path (`<slug>/<name>`).
 *
 * Times follow these rules, so that late or repeated reports cannot make them wrong:
 * - a tag's pushedAt is when it came to point at its current digest (re-pushing the same digest
 *   keeps the earlier time; a push of another digest moves it forward, never back);
 * - an image's pushedAt is its first push into the repository;
 * - pulledAt and lastPushedAt only move forward.
 */

/** One manifest event of the registry, as berth records it. */
export interface ActivityEvent {
  action: 'push' | 'pull' | 'delete';
  /** The backend path, `<slug>/<name>`. */
  repository: string;
  tag: string | null;
  digest: string | null;
  at: Date;
}

export interface ActivityDeps {
  db: Db;
  pubsub: PubSub;
  contentCache: RegistryContentCache;
}

/**
 * Records events in order and publishes each one on `registry:event` for its registry. Events for
 * repositories outside every hosted registry's slug are dropped. Recording is idempotent, so the
 * registry may deliver an envelope again after a failure.
 */
export async function recordRegistryEvents({ db, pubsub, contentCache }: ActivityDeps, events: readonly ActivityEvent[]): Promise<void> {
  // Most deliveries hold only blob traffic and berth's own reads, which the hook has filtered out.
  if (events.length === 0) return;
  const slugs = [...new Set(events.map((event) => slugOf(event.repository)))];
  const registries = await db.registry.findMany({ where: { kind: 'HOSTED', slug: { in: slugs } }, select: { id: true, slug: true } });
  const registryBySlug = new Map(registries.map((registry) => [registry.slug!, registry.id]));
  for (const event of events) {
    const registryId = registryBySlug.get(slugOf(event.repository));
    if (registryId === undefined || !event.repository.includes('/')) continue;
    if (event.action === 'delete' && event.digest) contentCache.forgetManifest(event.repository, event.digest);
    await recordActivity(db, registryId, event);
    pubsub.publish('registry:event', registryId, {
      action: event.action,
      repository: event.repository.slice(event.repository.indexOf('/') + 1),
      tag: event.tag,
      digest: event.digest,
      at: event.at,
    });
  }
}

type Tx = Prisma.TransactionClient;

/**
 * Applies one event to the index in one transaction, so readers never see a tag recorded without
 * its repository's lastPushedAt. A unique-key race with a concurrent writer is retried once.
 */
export async function recordActivity(db: Db, registryId: string, event: ActivityEvent): Promise<void> {
  const apply = () => db.$transaction((tx) => applyEvent(tx, registryId, event));
  try {
    await apply();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await apply();
  }
}

async function applyEvent(db: Tx, registryId: string, { action, repository, tag, digest, at }: ActivityEvent): Promise<void> {
  if (action === 'delete') {
    if (tag) await db.tagActivity.deleteMany({ where: { repository, tag } });
    if (digest) {
      await db.tagActivity.deleteMany({ where: { repository, digest } });
      await db.imageActivity.deleteMany({ where: { repository, digest } });
    }
    return;
  }
  if (!digest) return;
  if (action === 'push') {
    if (tag) await tagPushed(db, registryId, repository, tag, digest, at);
    await imagePushed(db, registryId, repository, digest, at);
    await repositoryPushed(db, registryId, repository, at);
    return;
  }
  if (tag) {
    const row = await db.tagActivity.findUnique({ where: { repository_tag: { repository, tag } } });
    if (!row) await db.tagActivity.create({ data: { registryId, repository, tag, digest, pulledAt: at } });
    else if (!row.pulledAt || row.pulledAt < at) await db.tagActivity.update({ where: { id: row.id }, data: { pulledAt: at } });
  }
  const image = await db.imageActivity.findUnique({ where: { repository_digest: { repository, digest } } });
  if (!image) await db.imageActivity.create({ data: { registryId, repository, digest, pulledAt: at } });
  else if (!image.pulledAt || image.pulledAt < at) await db.imageActivity.update({ where: { id: image.id }, data: { pulledAt: at } });
}

async function tagPushed(db: Tx, registryId: string, repository: string, tag: string, digest: string, at: Date): Promise<void> {
  const row = await db.tagActivity.findUnique({ where: { repository_tag: { repository, tag } } });
  if (!row) {
    await db.tagActivity.create({ data: { registryId, repository, tag, digest, pushedAt: at } });
  } else if (row.digest === digest) {
    if (!row.pushedAt || at < row.pushedAt) await db.tagActivity.update({ where: { id: row.id }, data: { pushedAt: at } });
  } else if (!row.pushedAt || at >= row.pushedAt) {
    await db.tagActivity.update({ where: { id: row.id }, data: { digest, pushedAt: at } });
  }
}

async function imagePushed(db: Tx, registryId: string, repository: string, digest: string, at: Date): Promise<void> {
  const row = await db.imageActivity.findUnique({ where: { repository_digest: { repository, digest } } });
  if (!row) await db.imageActivity.create({ data: { registryId, repository, digest, pushedAt: at } });
  else if (!row.pushedAt || at < row.pushedAt) await db.imageActivity.update({ where: { id: row.id }, data: { pushedAt: at } });
}

async function repositoryPushed(db: Tx, registryId: string, repository: string, at: Date): Promise<void> {
  await db.repositoryActivity.upsert({ where: { repository }, create: { registryId, repository, lastPushedAt: at }, update: {} });
  await db.repositoryActivity.updateMany({ where: { repository, OR: [{ lastPushedAt: null }, { lastPushedAt: { lt: at } }] }, data: { lastPushedAt: at } });
  await db.registry.updateMany({ where: { id: registryId, OR: [{ lastPushedAt: null }, { lastPushedAt: { lt: at } }] }, data: { lastPushedAt: at } });
}

/** Per-request readers of the index, batched across repositories: one query per kind per tick. */
export function createActivityLoaders(db: Db) {
  return {
    /** Tag name → row, for each repository path. */
    tags: new DataLoader<string, ReadonlyMap<string, TagActivity>>(async (paths) =>
      groupByRepository(paths, await db.tagActivity.findMany({ where: { repository: { in: [...paths] } } }), (row) => row.tag),
    ),
    /** Digest → row, for each repository path. */
    images: new DataLoader<string, ReadonlyMap<string, ImageActivity>>(async (paths) =>
      groupByRepository(paths, await db.imageActivity.findMany({ where: { repository: { in: [...paths] } } }), (row) => row.digest),
    ),
    repositories: new DataLoader<string, RepositoryActivity | null>(async (paths) => {
      const rows = new Map((await db.repositoryActivity.findMany({ where: { repository: { in: [...paths] } } })).map((row) => [row.repository, row]));
      return paths.map((path) => rows.get(path) ?? null);
    }),
  };
}

export type ActivityLoaders = ReturnType<typeof createActivityLoaders>;

function groupByRepository<T extends { repository: string }>(paths: readonly string[], rows: T[], keyOf: (row: T) => string): Map<string, T>[] {
  const byPath = new Map(paths.map((path) => [path, new Map<string, T>()]));
  for (const row of rows) byPath.get(row.repository)?.set(keyOf(row), row);
  return paths.map((path) => byPath.get(path)!);
}
