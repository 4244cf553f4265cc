import type { PubSub } from '../pubsub.js';

/**
 * Tells the registry's event subscribers (registryEvents) what berth itself deleted: one event per
 * tag and per manifest, as the registry reports a delete. The hosted hook skips berth's own events,
 * so this is the only report they get.
 */
export function publishDeletions(pubsub: PubSub, registryId: string, repository: string, tags: readonly string[], digests: readonly string[]): void {
  const at = new Date();
  for (const tag of tags) pubsub.publish('registry:event', registryId, { action: 'delete', repository, tag, digest: null, at });
  for (const digest of digests) pubsub.publish('registry:event', registryId, { action: 'delete', repository, tag: null, digest, at });
}
