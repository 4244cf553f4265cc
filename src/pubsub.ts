import { setMaxListeners } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { AccessChange } from './auth/access-changes.js';
import type { CleanupJob, GcJob, ImportJob } from './generated/prisma/client.js';

/** What the registry reported, as registryEvents subscribers receive it. */
export interface RegistryEventPayload {
  action: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  at: Date;
}

/** Tells the instance that executes GC runs what another instance did: a run to look at, or one to cancel. */
export interface GcRunSignal {
  kind: 'queued' | 'cancel';
  runId: string;
}

/** Topics are `family:event`, keyed by the id subscribers filter on. */
export type Topics = {
  'registry:event': [registryId: string, event: RegistryEventPayload];
  /** A GC job's row after each saved change (progress, phase, status). */
  'gcJob:progress': [jobId: string, job: GcJob];
  'gcRun:signal': [signal: GcRunSignal];
  /** An import job's row after each saved change. */
  'importJob:progress': [jobId: string, job: ImportJob];
  /** A cleanup job's row after each saved change. */
  'cleanupJob:progress': [jobId: string, job: CleanupJob];
  /** A cleanup job to stop, on whichever instance runs it. */
  'cleanupJob:cancel': [jobId: string];
  /** A token revoked, a user deleted, a membership changed: every instance drops what it derived from it. */
  'access:changed': [change: AccessChange];
};

export type PubSub = ReturnType<typeof createPubSub<Topics>> & { close(): Promise<void> };

/**
 * In one process, events stay in memory. With REDIS_URL they go through Redis, so a subscriber
 * on one berth instance sees what another publishes (a GC it runs, a push its hook received).
 */
export function createBerthPubSub(redisUrl: string | null): PubSub {
  if (redisUrl === null) {
    const eventTarget = new EventTarget();
    // One listener per subscriber of a topic: a thousand watching one GC job is normal, not a leak.
    setMaxListeners(Infinity, eventTarget);
    return Object.assign(createPubSub<Topics>({ eventTarget }), { close: async () => {} });
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const pubsub = createPubSub<Topics>({ eventTarget: createRedisEventTarget({ publishClient, subscribeClient, serializer: typedJson }) });
  return Object.assign(pubsub, {
    close: async () => {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  });
}

/** JSON that brings Dates and bigints (GcJob.bytesFreed) back as themselves on the other side. */
const typedJson = {
  stringify: (message: unknown) =>
    JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
      const raw = this[key];
      if (raw instanceof Date) return { $date: raw.toISOString() };
      if (typeof value === 'bigint') return { $bigint: value.toString() };
      return value;
    }),
  parse: (text: string): unknown =>
    JSON.parse(text, (_key, value: unknown) => {
      if (typeof value !== 'object' || value === null) return value;
      if ('$date' in value && typeof value.$date === 'string') return new Date(value.$date);
      if ('$bigint' in value && typeof value.$bigint === 'string') return BigInt(value.$bigint);
      return value;
    }),
};
