import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Services } from './context.js';
import type { Db } from './db/client.js';
import { BackendMaintenance } from './gc/maintenance.js';
import { GcQueue } from './gc/queue.js';
import { createBerthPubSub } from './pubsub.js';
import { openRegistryBackend } from './registry/backend.js';
import { createBerthServer, type BerthServer } from './server.js';

export interface RunningBerth {
  readonly services: Services;
  readonly server: BerthServer;
  close(): Promise<void>;
}

/**
 * Everything berth runs, started in order (registry backend, then the API) and stopped in
 * reverse. main.ts adds the process concerns (migrations, the bootstrap admin, signals).
 */
export async function startBerth(config: Config, db: Db, log: Logger): Promise<RunningBerth> {
  const registry = await openRegistryBackend(config, log);
  const pubsub = createBerthPubSub();
  const maintenance = new BackendMaintenance();
  // The lease owner must name this instance the same way after a restart: its host and data dir.
  const gc = new GcQueue({ db, log, pubsub, registry, maintenance }, { owner: `${hostname()}:${config.dataDir}` });
  const services: Services = { config, db, log, registry, pubsub, gc, maintenance };
  const server = createBerthServer(services);
  try {
    // Recovery first: a GC that a crash cut short may have left the registry read-only.
    await gc.start();
    await server.listen(config.port, config.host);
  } catch (error) {
    await gc.stop();
    await registry.close();
    throw error;
  }
  return {
    services,
    server,
    close: async () => {
      await server.close();
      await gc.stop();
      await registry.close();
    },
  };
}
