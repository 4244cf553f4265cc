import { type AccessChange, touches } from './access-changes.js';
import type { Viewer } from './viewer.js';

export interface ViewerCacheOptions {
  /** How long a viewer is kept. @default 5 s */
  ttlMs?: number | undefined;
  /** Tokens remembered at most; the oldest entries go first. @default 10_000 */
  maxEntries?: number | undefined;
}

interface Entry {
  viewer: Viewer;
  until: number;
}

/**
 * Viewers by API token hash, for a few seconds: a client sending many requests with one token
 * has its token, user and memberships read once, not once per request. Revocation, deletion and
 * membership changes drop the entries they touch at once (see AccessChanges), and a token past its
 * expiry is never answered from here; the time to live only bounds what a change lost on its way
 * from another instance could cost.
 */
export class ViewerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** Counts the changes applied, so a read that started before one is not stored after it. */
  private changes = 0;

  constructor(options: ViewerCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  get(tokenHash: string, now = Date.now()): Viewer | undefined {
    const entry = this.entries.get(tokenHash);
    if (!entry) return undefined;
    const expiresAt = entry.viewer.tokenExpiresAt;
    if (entry.until <= now || (expiresAt !== null && expiresAt.getTime() <= now)) {
      this.entries.delete(tokenHash);
      return undefined;
    }
    return entry.viewer;
  }

  /** A mark to pass to `set`: the viewer about to be read from the database is stored only if no change came in between. */
  mark(): number {
    return this.changes;
  }

  set(tokenHash: string, viewer: Viewer, mark: number, now = Date.now()): void {
    if (mark !== this.changes) return;
    this.entries.delete(tokenHash);
    this.entries.set(tokenHash, { viewer, until: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  apply(change: AccessChange): void {
    this.changes += 1;
    for (const [tokenHash, { viewer }] of this.entries) {
      if (touches(change, viewer)) this.entries.delete(tokenHash);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
