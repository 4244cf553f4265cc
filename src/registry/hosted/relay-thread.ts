import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { RelayFailure, RelayUpstream } from './relay.js';

/** What the parent asks the relay thread; each command is answered by a reply with its id. */
export type RelayCommand = { id: number } & (
  | { op: 'listen'; target: { port: number; host: string } | { path: string } }
  | { op: 'serveFrom'; socketPath: string | null }
  | { op: 'refuseWrites'; reason: string | null }
  | { op: 'writesSettled'; timeoutMs: number }
  | { op: 'close' }
);

export type RelayReply =
  | { kind: 'done'; id: number; value: unknown }
  | { kind: 'failed'; id: number; error: Error }
  | { kind: 'unreachable'; failure: RelayFailure };

type Command = RelayCommand extends infer C ? (C extends { op: string } ? Omit<C, 'id'> : never) : never;

/**
 * berth's registry port (RegistryRelay), run in a worker thread of its own. Every chunk relayed is
 * a fresh Buffer; in berth's main thread, that churn of external memory kept V8 running full
 * mark-compacts over berth's whole heap (Prisma, the schema), and a 1 GiB pull took 1.6× as long as
 * one straight from the registry. A worker's heap holds the relay alone, and its collections cost
 * next to nothing.
 *
 * Calls take effect in the order they were made, as the thread handles its messages in order: a
 * `writesSettled` sent after `refuseWrites` counts only the writes let through before it.
 */
export class RelayThread {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private bound = false;
  /** Sent again to a thread started later: the gate outlives a stop and start of the registry. */
  private writeRefusal: string | null = null;

  constructor(private readonly log: Logger) {}

  get listening(): boolean {
    return this.bound;
  }

  /** Starts the thread if need be and binds a TCP port or a unix socket in it; resolves once it accepts connections. */
  async listen(target: { port: number; host: string } | { path: string }): Promise<AddressInfo | string> {
    const address = (await this.call({ op: 'listen', target })) as AddressInfo | string;
    this.bound = true;
    return address;
  }

  /** From now on, requests go to `upstream` (null: answered 503 until one serves). */
  serveFrom(upstream: RelayUpstream | null): void {
    this.send({ op: 'serveFrom', socketPath: upstream?.socketPath ?? null });
  }

  /** Whether pushes and deletes are refused (refuseWrites). */
  get writesRefused(): boolean {
    return this.writeRefusal !== null;
  }

  /** Pushes and deletes are answered 405 with `reason` from now on, until called with null. */
  refuseWrites(reason: string | null): void {
    this.writeRefusal = reason;
    this.send({ op: 'refuseWrites', reason });
  }

  /** Resolves true once no write is in flight, or false after `timeoutMs`. */
  async writesSettled(timeoutMs: number): Promise<boolean> {
    if (!this.worker) return true;
    return (await this.call({ op: 'writesSettled', timeoutMs })) as boolean;
  }

  /** Closes the port and every connection, and ends the thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.worker = null;
      this.bound = false;
      await worker.terminate();
    }
  }

  /** A command whose answer nobody waits for; it still takes effect before any later call. */
  private send(command: Command): void {
    if (!this.worker) return;
    this.call(command).catch((error: unknown) => this.log.error({ err: error, op: command.op }, 'the registry relay thread refused a command'));
  }

  private call(command: Command): Promise<unknown> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...command, id } satisfies RelayCommand);
    });
  }

  private start(): Worker {
    const entry = new URL('./relay-worker.ts', import.meta.url).href;
    // berth runs from its TypeScript sources. A worker inherits tsx from `node --import tsx`, but
    // not when the hooks were registered in code (vitest, tsx's API): it registers them itself.
    const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, {
      eval: true,
      name: 'registry-relay',
    });
    worker.on('message', (reply: RelayReply) => this.receive(reply));
    worker.on('error', (error) => {
      this.log.error({ err: error }, 'the registry relay thread failed');
      this.failAll(error);
    });
    worker.on('exit', () => {
      if (this.worker === worker) {
        this.worker = null;
        this.bound = false;
      }
      this.failAll(new Error('the registry relay thread exited'));
    });
    this.worker = worker;
    if (this.writeRefusal !== null) worker.postMessage({ op: 'refuseWrites', reason: this.writeRefusal, id: this.nextId++ } satisfies RelayCommand);
    return worker;
  }

  private receive(reply: RelayReply): void {
    if (reply.kind === 'unreachable') {
      const { method, url, error } = reply.failure;
      this.log.warn({ method, url, error }, 'relay could not reach the registry process');
      return;
    }
    const call = this.pending.get(reply.id);
    if (!call) return;
    this.pending.delete(reply.id);
    if (reply.kind === 'done') call.resolve(reply.value);
    else call.reject(reply.error);
  }

  private failAll(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }
}
