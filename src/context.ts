import type { Logger } from 'pino';
import type { ServerKey } from './auth/server-key.js';
import type { Viewer } from './auth/viewer.js';
import type { Config } from './config.js';
import type { Db } from './db/client.js';
import type { BackendMaintenance } from './gc/maintenance.js';
import type { GcQueue } from './gc/queue.js';
import type { PubSub } from './pubsub.js';
import type { ActivityLoaders } from './registry/activity.js';
import type { RegistryBackend } from './registry/backend.js';
import type { RegistryContentCache, RegistryLoaders } from './registry/loaders.js';

/** What lives as long as the server: created once in server.ts. */
export interface Services {
  readonly config: Config;
  readonly db: Db;
  readonly log: Logger;
  /** berth's secret, for keys derived per purpose (token hashes, stored passwords). */
  readonly serverKey: ServerKey;
  readonly registry: RegistryBackend;
  readonly pubsub: PubSub;
  /** Garbage collection jobs: queue, worker and recovery. */
  readonly gc: GcQueue;
  /** Whether the backend is in a read-only maintenance window (GC), and why. */
  readonly maintenance: BackendMaintenance;
  /** Manifests and configs fetched by digest, shared by every request's loaders. */
  readonly contentCache: RegistryContentCache;
}

/** The GraphQL context: one per request (or per subscription event), never shared between viewers. */
export interface Context extends Services {
  readonly viewer: Viewer | null;
  readonly loaders: RegistryLoaders;
  readonly activity: ActivityLoaders;
}
