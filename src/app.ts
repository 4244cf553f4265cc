import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AccessChanges } from './auth/access-changes.js';
import { ServerKey } from './auth/server-key.js';
import { CleanupJobs } from './cleanup/jobs.js';
import { CleanupScheduler } from './cleanup/scheduler.js';
import type { Config } from './config.js';
import type { Services } from './context.js';
import type { Db } from './db/client.js';
import { BackendMaintenance } from './gc/maintenance.js';
import { GcQueue } from './gc/queue.js';
import { ImportQueue } from './imports/queue.js';
import type { GcChanges } from './gc/runner.js';
import { Metrics, v2CallKind } from './metrics.js';
import { makePrivateDir } from './private-files.js';
import { createBerthPubSub } from './pubsub.js';
import { storageInventory, v2Inventory, v2ManifestSource } from './registry/content-index/inventory.js';
import { indexedBlobSizes } from './registry/content-index/queries.js';
import { ContentIndexReconciler } from './registry/content-index/reconcile.js';
import { ContentIndexWriter } from './registry/content-index/writer.js';
import { openHostedBackend } from './registry/hosted/hosted-backend.js';
import { RegistryStorage } from './registry/hosted/storage.js';
import { RegistryContentCache } from './registry/remote/live-loaders.js';
import { RemoteClients } from './registry/remote/remote-clients.js';
import { RegistryBackends } from './registry/backend.js';
import { createBerthServer, type BerthServer } from './server.js';

export interface RunningBerth {
  readonly services: Services;
  readonly server: BerthServer;
  close(): Promise<void>;
}

export interface StartOptions {
  /** berth's secret, when the caller already loaded it. @default loaded from the config */
  serverKey?: ServerKey;
  /** How often the content index is reconciled with the backend. @default 5 minutes */
  reconcileIntervalMs?: number;
  /** How long a token's viewer is cached between access changes. @default 5 seconds */
  viewerCacheTtlMs?: number;
}

const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;

/**
 * Everything berth runs, started in order (registry backend, then the API) and stopped in
 * reverse. main.ts adds the process concerns (migrations, the bootstrap admin, signals).
 */
export async function startBerth(config: Config, db: Db, log: Logger, options: StartOptions = {}): Promise<RunningBerth> {
  const serverKey = options.serverKey ?? (await ServerKey.load(config));
  const metrics = new Metrics(db);
  const registry = await openHostedBackend(config, log, { onRequest: ({ method, path }) => metrics.backendCall('hosted', v2CallKind(method, path)) });
  // The registry creates its storage root lazily, at the first push, as its umask allows.
  if (registry.embedded) await makePrivateDir(registry.embedded.storageDir);
  const pubsub = createBerthPubSub(config.redisUrl);
  const accessChanges = new AccessChanges(pubsub);
  const maintenance = new BackendMaintenance(db);
  const { client } = registry;
  const contentIndex = new ContentIndexWriter(db, v2ManifestSource(client));
  // Storage holds everything (untagged manifests, blobs); an existing registry shows only its V2 API.
  const inventory = registry.embedded ? storageInventory(new RegistryStorage(registry.embedded.storageDir)) : v2Inventory(client);
  const reconciler = new ContentIndexReconciler(db, inventory, log);
  // What GC deletes reaches no notification hook: the content index hears it from here.
  const changes: GcChanges = {
    manifestsDeleted: async (manifests) => {
      for (const repository of new Set(manifests.map((manifest) => manifest.repository))) {
        const digests = manifests.filter((manifest) => manifest.repository === repository).map((manifest) => manifest.digest);
        await contentIndex.deleted(repository, [], digests);
      }
    },
    blobsDeleted: (digests) => contentIndex.blobsSwept(digests),
    repositoriesPruned: (repositories) => contentIndex.repositoriesPruned(repositories),
  };
  // Lease owners must name this instance the same way after a restart: its host and data dir.
  const owner = `${hostname()}:${config.dataDir}`;
  const knownBlobSizes = (): Promise<ReadonlyMap<string, number>> => indexedBlobSizes(db);
  const gc = new GcQueue({ db, log, pubsub, registry, changes, knownBlobSizes }, { owner, minIntervalMs: config.gc.minIntervalMs });
  const imports = new ImportQueue({ db, log, pubsub, backends: () => new RegistryBackends(services) }, { owner });
  const cleanup = new CleanupJobs({ db, log, pubsub, gc, client, contentIndex, maintenance }, { owner });
  const cleanupScheduler = new CleanupScheduler({ db, log, jobs: cleanup });
  const services: Services = {
    config,
    db,
    log,
    serverKey,
    registry,
    pubsub,
    accessChanges,
    gc,
    imports,
    cleanup,
    cleanupScheduler,
    maintenance,
    contentIndex,
    reconciler,
    remoteClients: new RemoteClients(serverKey.derive('registry-password')),
    contentCache: new RegistryContentCache(),
    metrics,
  };
  const server = createBerthServer(services, { viewerCacheTtlMs: options.viewerCacheTtlMs });
  try {
    // Recovery first: a GC that a crash cut short may have left the registry read-only.
    await gc.start();
    await imports.start();
    await cleanup.start();
    // After the queues' start, as its own subscription: an ioredis client told to subscribe while it
    // connects can fail its ready check. Before listening: nobody is cached or subscribed yet, so
    // no change can be missed.
    accessChanges.start();
    await server.listen(config.port, config.host);
  } catch (error) {
    await cleanup.stop();
    await imports.stop();
    await gc.stop();
    await registry.close();
    await accessChanges.stop();
    await pubsub.close();
    throw error;
  }
  // After listen: notifications reach the hook from now on, so the first pass catches what came before.
  reconciler.start(options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);
  cleanupScheduler.start();
  // A registry process that starts serving lost whatever notifications its predecessor had queued.
  // Not during a GC window: nothing is pushed then, GC tells the index what it deleted, and
  // garbage-collect does not share the machine with a full pass.
  const { embedded } = registry;
  embedded?.on('ready', () => {
    if (!embedded.writesRefused) reconciler.schedule('registry started');
  });
  return {
    services,
    server,
    // The registry goes before the API: it posts its events to berth's hook until it stops.
    close: async () => {
      await reconciler.stop();
      await cleanupScheduler.stop();
      await cleanup.stop();
      await imports.stop();
      await gc.stop();
      await registry.close();
      await server.close();
      await accessChanges.stop();
      await pubsub.close();
    },
  };
}
