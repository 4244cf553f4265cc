export interface FailureLimiterOptions {
  /** Failures within `windowMs` that are answered normally; the ones after them get "too many". @default 10 */
  maxFailures?: number;
  /** @default 5 minutes */
  windowMs?: number;
  /** Keys remembered at most; the least recently failing ones are forgotten first. @default 10_000 */
  maxKeys?: number;
}

/**
 * Counts failed logins per key (an account and a client address, or an address alone). It is
 * consulted only after the credentials were checked, so the right ones always pass whatever the
 * count, and a failure is counted in the same synchronous step that decides its answer, so
 * concurrent attempts cannot all slip under the limit. In memory, per berth process: each instance
 * limits on its own. Memory is bounded: at most `maxKeys` keys of at most `maxFailures` timestamps.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(options: FailureLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Records a failed attempt. Returns 0 while `key` is within its allowance, otherwise the
   * milliseconds until it is again (the caller answers "too many" with that as Retry-After).
   */
  recordFailure(key: string, now = Date.now()): number {
    const recent = this.recent(key, now);
    recent.push(now);
    if (recent.length > this.maxFailures + 1) recent.shift();
    // Re-inserting moves the key to the end: the Map's order is least recently failing first.
    this.failures.delete(key);
    this.failures.set(key, recent);
    this.evictBeyondCapacity();
    return recent.length > this.maxFailures ? recent[0]! + this.windowMs - now : 0;
  }

  recordSuccess(key: string): void {
    this.failures.delete(key);
  }

  /** How many keys are remembered (for tests of the memory bound). */
  get size(): number {
    return this.failures.size;
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((at) => now - at < this.windowMs);
  }

  /** The first keys are the least recently failing: those whose count matters least, or expired. */
  private evictBeyondCapacity(): void {
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) return;
      this.failures.delete(key);
    }
  }
}
