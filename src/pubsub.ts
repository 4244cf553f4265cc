import { createPubSub } from 'graphql-yoga';

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
};

export type PubSub = ReturnType<typeof createBerthPubSub>;

export function createBerthPubSub() {
  return createPubSub<Topics>();
}
