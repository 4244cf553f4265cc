import type { Logger } from 'pino';
import type { AccessChanges } from './auth/access-changes.js';
import type { ServerKey } from './auth/server-key.js';
import type { Viewer } from './auth/viewer.js';
import type { Config } from './config.js';
import type { CleanupJobs } from './cleanup/jobs.js';
import type { CleanupScheduler } from './cleanup/scheduler.js';
import type { Db } from './db/client.js';
import type { BackendMaintenance } from './gc/maintenance.js';
import type { GcQueue } from './gc/queue.js';
import type { ImportQueue } from './imports/queue.js';
import type { Metrics } from './metrics.js';
import type { PubSub } from './pubsub.js';
import type { RegistryBackends } from './registry/backend.js';
import type { ContentIndexReconciler } from './registry/content-index/reconcile.js';
import type { ContentIndexWriter } from './registry/content-index/writer.js';
import type { HostedBackend } from './registry/hosted/hosted-backend.js';
import type { RegistryContentCache } from './registry/remote/live-loaders.js';
import type { RemoteClients } from './registry/remote/remote-clients.js';

/** What lives as long as the server: created once in app.ts. */
export interface Services {
  readonly config: Config;
  readonly db: Db;
  readonly log: Logger;
  /** berth's secret, for keys derived per purpose (token hashes, stored passwords). */
  readonly serverKey: ServerKey;
  /** The backend hosted registries live on. */
  readonly registry: HostedBackend;
  readonly pubsub: PubSub;
  /** Revocations and membership changes, heard by every instance. */
  readonly accessChanges: AccessChanges;
  /** Garbage collection jobs: queue, worker and recovery. */
  readonly gc: GcQueue;
  /** Image imports into hosted registries: queue, workers and recovery. */
  readonly imports: ImportQueue;
  /** Cleanup runs: queue, execution and recovery. */
  readonly cleanup: CleanupJobs;
  /** Starts scheduled cleanup runs, each once across instances. */
  readonly cleanupScheduler: CleanupScheduler;
  /** Whether the backend is in a read-only maintenance window (GC), and why. */
  readonly maintenance: BackendMaintenance;
  /** Keeps the content index in step with the hosted backend. */
  readonly contentIndex: ContentIndexWriter;
  readonly reconciler: ContentIndexReconciler;
  /** Clients for outside registries, one per connection. */
  readonly remoteClients: RemoteClients;
  /** Outside registries' manifests and configs fetched by digest, shared by every request. */
  readonly contentCache: RegistryContentCache;
  /** What /metrics reports. */
  readonly metrics: Metrics;
}

/** The GraphQL context: one per request (or per subscription operation), never shared between viewers. */
export interface Context extends Services {
  readonly viewer: Viewer | null;
  /** Each registry's backend, opened once per request with the request's loaders. */
  readonly backends: RegistryBackends;
}
