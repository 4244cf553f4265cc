import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { recordActivity } from './activity.js';
import type { RegistryBackend } from './backend.js';
import { createRegistryLoaders, type RegistryContentCache, type RegistryLoaders } from './loaders.js';
import { listRepositories, loadManifest } from './usage.js';

const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;

export interface ReconcileDeps {
  db: Db;
  registry: Pick<RegistryBackend, 'client'>;
  contentCache: RegistryContentCache;
  log: Logger;
}

export interface ReconcileResult {
  /** Tags recorded because the registry has them and the index did not. */
  added: number;
  /** Tag rows removed because the registry no longer has the tag. */
  removed: number;
}

export interface ActivityReconciler {
  /** Runs a reconcile after the one in progress, if any, and resolves with its result. */
  runNow(): Promise<ReconcileResult>;
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * The registry's notifications live in an in-memory queue and are lost when it restarts, so the
 * index is brought back in line with the registry on start and then every `intervalMs`.
 */
export function startActivityReconciler(deps: ReconcileDeps, options: { intervalMs?: number } = {}): ActivityReconciler {
  const log = deps.log.child({ component: 'reconcile' });
  let queue: Promise<unknown> = Promise.resolve();
  const runNow = (): Promise<ReconcileResult> => {
    const run = queue.then(() => reconcileActivity(deps));
    queue = run.catch(() => undefined);
    return run;
  };
  const scheduled = () =>
    void runNow().then(
      (result) => log.debug(result, 'activity index reconciled'),
      (error: unknown) => log.warn({ err: error }, 'could not reconcile the activity index; trying again at the next interval'),
    );
  scheduled();
  const timer = setInterval(scheduled, options.intervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);
  timer.unref();
  return {
    runNow,
    stop: async () => {
      clearInterval(timer);
      await queue;
    },
  };
}

/**
 * One pass over every hosted registry: tag rows whose tag is gone are removed, and tags the index
 * does not know are recorded as pushed when this pass saw them (the real time was in the lost
 * notification). Rows of repositories that hold no tag anymore are removed too.
 */
export async function reconcileActivity(deps: ReconcileDeps): Promise<ReconcileResult> {
  const loaders = createRegistryLoaders(deps.registry.client, deps.contentCache);
  const registries = await deps.db.registry.findMany({ where: { kind: 'HOSTED', slug: { not: null } }, select: { id: true, slug: true } });
  const total: ReconcileResult = { added: 0, removed: 0 };
  for (const { id, slug } of registries) {
    const result = await reconcileRegistry(deps.db, loaders, id, slug!);
    total.added += result.added;
    total.removed += result.removed;
  }
  return total;
}

async function reconcileRegistry(db: Db, loaders: RegistryLoaders, registryId: string, slug: string): Promise<ReconcileResult> {
  const seenAt = new Date();
  // The index is read before the registry: a push recorded in between is then either in both or
  // in the registry only, never wrongly removed. Rows written after `seenAt` are left alone.
  const rows = await db.tagActivity.findMany({ where: { registryId }, select: { id: true, repository: true, tag: true, pushedAt: true } });
  const paths = await listRepositories(loaders, slug);
  const tagsByPath = new Map(await Promise.all(paths.map(async (path) => [path, new Set(await loaders.tags.load(path))] as const)));
  const untouchedSince = { OR: [{ pushedAt: null }, { pushedAt: { lt: seenAt } }] };

  const vanished = rows.filter((row) => !tagsByPath.get(row.repository)?.has(row.tag)).map((row) => row.id);
  const { count: removed } = await db.tagActivity.deleteMany({ where: { id: { in: vanished }, ...untouchedSince } });
  await db.imageActivity.deleteMany({ where: { registryId, repository: { notIn: paths }, ...untouchedSince } });
  await db.repositoryActivity.deleteMany({
    where: { registryId, repository: { notIn: paths }, OR: [{ lastPushedAt: null }, { lastPushedAt: { lt: seenAt } }] },
  });

  const known = new Set(rows.filter((row) => row.pushedAt !== null).map((row) => `${row.repository}:${row.tag}`));
  const unknown = [...tagsByPath].flatMap(([repository, tags]) =>
    [...tags].filter((tag) => !known.has(`${repository}:${tag}`)).map((tag) => ({ repository, tag })),
  );
  const manifests = await Promise.all(unknown.map(({ repository, tag }) => loadManifest(loaders, { repository, reference: tag })));
  let added = 0;
  for (const [i, { repository, tag }] of unknown.entries()) {
    const manifest = manifests[i];
    if (!manifest) continue;
    await recordActivity(db, registryId, { action: 'push', repository, tag, digest: manifest.digest, at: seenAt });
    added += 1;
  }
  return { added, removed };
}
