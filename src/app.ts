import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Services } from './context.js';
import type { Db } from './db/client.js';
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
  const services: Services = { config, db, log, registry, pubsub: createBerthPubSub() };
  const server = createBerthServer(services);
  try {
    await server.listen(config.port, config.host);
  } catch (error) {
    await registry.close();
    throw error;
  }
  return {
    services,
    server,
    close: async () => {
      await server.close();
      await registry.close();
    },
  };
}
