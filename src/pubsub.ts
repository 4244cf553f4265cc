import { createPubSub } from 'graphql-yoga';
import type { GcJob } from './generated/prisma/client.js';

/** What the registry reported, as registryEvents subscribers receive it. */
export interface RegistryEventPayload {
  action: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  at: Date;
}

/** Topics are `family:event`, keyed by the id subscribers filter on. */
export type Topics = {
  'registry:event': [registryId: string, event: RegistryEventPayload];
  /** A GC job's row after each saved change (progress, phase, status). */
  'gcJob:progress': [jobId: string, job: GcJob];
};

export type PubSub = ReturnType<typeof createBerthPubSub>;

export function createBerthPubSub() {
  return createPubSub<Topics>();
}
