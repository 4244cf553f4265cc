import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ServerKey } from './auth/server-key.js';
import type { Config } from './config.js';
import type { Services } from './context.js';
import type { Db } from './db/client.js';
import { BackendMaintenance } from './gc/maintenance.js';
import { GcQueue } from './gc/queue.js';
import type { GcChanges } from './gc/runner.js';
import { createBerthPubSub } from './pubsub.js';
import { recordRegistryEvents } from './registry/activity.js';
import { openRegistryBackend } from './registry/backend.js';
import { RegistryContentCache } from './registry/loaders.js';
import { type ActivityReconciler, startActivityReconciler } from './registry/reconcile.js';
import { createBerthServer, type BerthServer } from './server.js';

export interface RunningBerth {
  readonly services: Services;
  readonly server: BerthServer;
  readonly reconciler: ActivityReconciler;
  close(): Promise<void>;
}

export interface StartOptions {
  /** How often the activity index is reconciled with the registry. @default 5 minutes */
  reconcileIntervalMs?: number;
}

/**
 * Everything berth runs, started in order (registry backend, then the API) and stopped in
 * reverse. main.ts adds the process concerns (migrations, the bootstrap admin, signals).
 */
export async function startBerth(config: Config, db: Db, log: Logger, options: StartOptions = {}): Promise<RunningBerth> {
  const serverKey = await ServerKey.load(config);
  const registry = await openRegistryBackend(config, log);
  const pubsub = createBerthPubSub(config.redisUrl);
  const maintenance = new BackendMaintenance(db);
  const contentCache = new RegistryContentCache();
  // What GC deletes reaches no notification hook: the content index hears it from here.
  const changes: GcChanges = {
    manifestsDeleted: (manifests) =>
      recordRegistryEvents(
        { db, pubsub, contentCache },
        manifests.map(({ repository, digest }) => ({ action: 'delete', repository, tag: null, digest, at: new Date() })),
      ),
    blobsDeleted: async (digests) => log.debug({ blobs: digests.length }, 'GC deleted blobs'),
    repositoriesPruned: async (repositories) => log.debug({ repositories }, 'GC pruned repositories'),
  };
  // The lease owner must name this instance the same way after a restart: its host and data dir.
  const gc = new GcQueue({ db, log, pubsub, registry, changes }, { owner: `${hostname()}:${config.dataDir}`, minIntervalMs: config.gc.minIntervalMs });
  const services: Services = { config, db, log, serverKey, registry, pubsub, gc, maintenance, contentCache };
  const server = createBerthServer(services);
  try {
    // Recovery first: a GC that a crash cut short may have left the registry read-only.
    await gc.start();
    await server.listen(config.port, config.host);
  } catch (error) {
    await gc.stop();
    await registry.close();
    await pubsub.close();
    throw error;
  }
  // After listen: notifications reach the hook from now on, so the first pass catches what came before.
  const reconciler = startActivityReconciler(services, { intervalMs: options.reconcileIntervalMs });
  return {
    services,
    server,
    reconciler,
    // The registry goes before the API: it posts its events to berth's hook until it stops.
    close: async () => {
      await reconciler.stop();
      await gc.stop();
      await registry.close();
      await server.close();
      await pubsub.close();
    },
  };
}
