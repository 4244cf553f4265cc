import type { PubSub } from '../pubsub.js';
import type { Viewer } from './viewer.js';

/**
 * A change to who may see what. Whatever makes one publishes it once it is committed; every berth
 * instance hears it through the pub/sub and drops what it derived from the old state (cached
 * viewers, live subscriptions) instead of reading the database again for every request or event.
 */
export type AccessChange =
  | { kind: 'tokenRevoked'; tokenId: string }
  /** The user is gone with its tokens and memberships. */
  | { kind: 'userDeleted'; userId: string }
  /** The user's role in the namespace was given, changed or (`removed`) taken away. */
  | { kind: 'membershipChanged'; userId: string; namespaceId: string; removed: boolean }
  /** The namespace is gone with every membership in it. */
  | { kind: 'namespaceDeleted'; namespaceId: string };

/** What a change leaves of a viewer's access: nothing (its token no longer works), less, or the same. */
export type AccessLoss = 'token' | 'namespace' | null;

/**
 * Whether `viewer`, as it was read, may be stale after the change: its token, its user or its
 * roles are among what changed.
 */
export function touches(change: AccessChange, viewer: Viewer): boolean {
  switch (change.kind) {
    case 'tokenRevoked':
      return viewer.tokenId === change.tokenId;
    case 'userDeleted':
    case 'membershipChanged':
      return viewer.id === change.userId;
    case 'namespaceDeleted':
      return viewer.roles.has(change.namespaceId);
  }
}

/**
 * What the change takes from a subscriber that could see `namespaceIds` when it subscribed: its
 * token, or a namespace it saw (admins see every namespace, and keep seeing them).
 */
export function accessLost(change: AccessChange, subscriber: Viewer, namespaceIds: ReadonlySet<string>): AccessLoss {
  switch (change.kind) {
    case 'tokenRevoked':
      return subscriber.tokenId === change.tokenId ? 'token' : null;
    case 'userDeleted':
      return subscriber.id === change.userId ? 'token' : null;
    case 'membershipChanged':
      return change.removed && !subscriber.isAdmin && subscriber.id === change.userId && namespaceIds.has(change.namespaceId) ? 'namespace' : null;
    case 'namespaceDeleted':
      return !subscriber.isAdmin && namespaceIds.has(change.namespaceId) ? 'namespace' : null;
  }
}

type Listener = (change: AccessChange) => void;

/**
 * The `access:changed` topic, with the listeners of this instance. A change is applied here at
 * once, before the mutation that made it answers, and again when the pub/sub brings it back
 * (listeners are idempotent); other instances apply it when the pub/sub brings it to them.
 */
export class AccessChanges {
  private readonly listeners = new Set<Listener>();
  private listening: AsyncIterator<AccessChange> | undefined;

  constructor(private readonly pubsub: PubSub) {}

  publish(change: AccessChange): void {
    this.dispatch(change);
    this.pubsub.publish('access:changed', change);
  }

  /** Calls `listener` for every change from now on; returns what stops it. */
  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hears changes that any instance publishes, until `stop`. */
  start(): void {
    const changes = this.pubsub.subscribe('access:changed');
    this.listening = changes;
    void (async () => {
      for await (const change of changes) this.dispatch(change);
    })();
  }

  async stop(): Promise<void> {
    await this.listening?.return?.();
  }

  private dispatch(change: AccessChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
