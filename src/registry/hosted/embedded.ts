import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../atomic-file.js';
import { ChildRecords } from './child-records.js';
import { renderRegistryConfig } from './registry-config.js';
import { RelayThread } from './relay-thread.js';
import type { RegistryTokenSigner } from './token-signer.js';

export interface EmbeddedRegistryOptions {
  /** berth's registry port: clients and berth's own calls reach the registry here. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The config goes to `<dataDir>/registry-config.yml`, the storage to `<dataDir>/registry`. */
  dataDir: string;
  /** berth's token endpoint (`.../auth/token`), sent to clients in the 401 challenge. */
  tokenRealm: string;
  /** berth's notification endpoint (`.../hooks/registry`). */
  hookUrl: string;
  hookSecret: string;
  signer: Pick<RegistryTokenSigner, 'certBundlePath' | 'issuer' | 'service'>;
  logger: Logger;
  /** @default 'docker-registry' (looked up on PATH) */
  binary?: string;
  /** How long a start may take until `GET /v2/` answers. @default 15_000 */
  startTimeoutMs?: number;
  /**
   * How long writes in flight may take to finish once writes are refused (`refuseWrites`), and how
   * long a stopping registry drains its requests (`http.draintimeout`). @default 30_000
   */
  drainTimeoutMs?: number;
  /** How long a stop waits after SIGTERM (and the registry's own drain) before SIGKILL. @default 10_000 */
  stopGraceMs?: number;
  /** First delay before restarting a crashed registry; doubles per crash in a row. @default 500 */
  restartDelayMs?: number;
}

export type EmbeddedRegistryState = 'stopped' | 'starting' | 'running' | 'restarting' | 'stopping';

export interface EmbeddedRegistryExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False for a crash, which schedules a restart. */
  expected: boolean;
}

export interface EmbeddedRegistryEvents {
  /**
   * A registry process now serves clients on berth's port: after start, and after a restart that
   * followed a crash. The process before it may have lost notifications it had not delivered yet,
   * so this is the moment to reconcile what berth knows about the registry's content.
   */
  ready: [pid: number];
  exit: [EmbeddedRegistryExit];
}

interface RegistryProcess {
  child: ChildProcess;
  pid: number;
  /** Where it listens; only the relay connects there. */
  socketPath: string;
  startedAt: number;
  /** Settles once the process has exited and its output is fully read. */
  exited: Promise<void>;
  /** Its last lines, for the error when it dies before serving. */
  recentLines: string[];
  /** Settles at the registry's own "listening on" line. */
  listening: Promise<void>;
  heardListening: () => void;
  expectExit: boolean;
}

const MAX_RESTART_DELAY_MS = 30_000;
/** A process that served this long before crashing resets the backoff. */
const STABLE_UPTIME_MS = 60_000;
const READY_POLL_MS = 20;
const RECENT_LINES_KEPT = 20;
/** sockaddr_un holds 108 bytes; a longer data dir puts the sockets in a temp dir instead. */
const MAX_SOCKET_PATH = 100;
/** Routine per-request lines (an unauthenticated request is just the first leg of the token flow): debug. */
const REQUEST_LOG_MESSAGES = new Set([
  'response completed',
  'authorized request',
  'error authorizing context: authorization token required',
]);
/** Fields repeated on every registry line that say nothing about the event. */
const NOISE_FIELDS = ['level', 'msg', 'time', 'go.version', 'instance.id', 'service', 'version'];

/**
 * Runs CNCF distribution (`docker-registry serve`) behind berth's registry port. berth owns the
 * port (RegistryRelay, in a thread of its own) and the registry process listens on a unix socket,
 * so the relay can hold writes off for garbage collection (refuseWrites) while pulls go on, and
 * the port answers even while a crashed process is restarted with backoff.
 */
export class EmbeddedRegistry extends EventEmitter<EmbeddedRegistryEvents> {
  readonly url: string;
  private readonly options: EmbeddedRegistryOptions;
  private readonly log: Logger;
  private readonly configPath: string;
  private readonly relay: RelayThread;
  private readonly children: ChildRecords;
  /** Stable for the life of this object, so upload sessions survive a crash restart. */
  private readonly httpSecret = randomBytes(32).toString('hex');
  private current: RegistryProcess | undefined;
  private currentState: EmbeddedRegistryState = 'stopped';
  /** True once started; crash restarts happen only while supervising. */
  private supervising = false;
  private failuresInARow = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private operations: Promise<unknown> = Promise.resolve();
  private sockets: string | undefined;
  private launches = 0;
  private writtenConfig: string | undefined;

  constructor(options: EmbeddedRegistryOptions) {
    super();
    this.options = options;
    this.log = options.logger.child({ component: 'registry' });
    this.url = `http://${options.host ?? '127.0.0.1'}:${options.port}`;
    this.configPath = join(options.dataDir, 'registry-config.yml');
    this.relay = new RelayThread(this.log);
    this.children = new ChildRecords(this.runDir);
  }

  get state(): EmbeddedRegistryState {
    return this.currentState;
  }

  /** Whether pushes and deletes are refused (refuseWrites). */
  get writesRefused(): boolean {
    return this.relay.writesRefused;
  }

  /** PID of the process that serves, if any. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /**
   * The relay's own unix socket, for berth's requests (filling the index, deletions, imports): they
   * pass the same gate as clients' (refuseWrites) without a TCP hop.
   */
  get internalSocketPath(): string {
    return join(this.sockets ?? this.runDir, 'relay.sock');
  }

  /** The config file berth writes; `garbage-collect` reads the storage settings from it. */
  get configFile(): string {
    return this.configPath;
  }

  /** The filesystem storage root (`rootdirectory`). */
  get storageDir(): string {
    return join(this.options.dataDir, 'registry');
  }

  /** The `docker-registry` binary, for its other commands. */
  get binary(): string {
    return this.options.binary ?? 'docker-registry';
  }

  /** Pidfiles of the processes berth runs on this storage (see ChildRecords). */
  get childRecords(): ChildRecords {
    return this.children;
  }

  private get runDir(): string {
    return join(this.options.dataDir, 'run');
  }

  /**
   * Ends what a SIGKILLed predecessor left running, binds the port and starts the registry;
   * resolves once it serves. Rejects (and leaves it stopped) if it cannot.
   */
  start(): Promise<void> {
    return this.serialized(async () => {
      if (this.current) return;
      this.cancelScheduledRestart();
      await this.children.killOrphans(this.log);
      if (!this.relay.listening) {
        await this.relay.listen({ port: this.options.port, host: this.options.host ?? '127.0.0.1' });
        await this.socketDir();
        // Left behind by a berth that was killed: nobody listens there any more.
        await rm(this.internalSocketPath, { force: true });
        await this.relay.listen({ path: this.internalSocketPath });
      }
      try {
        await this.launch();
      } catch (error) {
        if (!this.supervising) await this.relay.close();
        throw error;
      }
    });
  }

  /**
   * From now on pushes and deletes, clients' and berth's own, are answered 405 with `reason`, and
   * pulls go on; resolves true once the writes already let through have finished, or false after
   * the drain timeout. The registry process and its connections stay as they are.
   */
  async refuseWrites(reason: string): Promise<boolean> {
    this.relay.refuseWrites(reason);
    return this.relay.writesSettled(this.options.drainTimeoutMs ?? 30_000);
  }

  /** Lets pushes and deletes through again. */
  acceptWrites(): void {
    this.relay.refuseWrites(null);
  }

  /** Closes the port, then stops the process: SIGTERM, SIGKILL after the grace period. */
  stop(): Promise<void> {
    return this.serialized(async () => {
      this.supervising = false;
      this.cancelScheduledRestart();
      if (this.currentState !== 'stopped') this.currentState = 'stopping';
      await this.relay.close();
      if (this.current) await this.terminate(this.current);
      this.currentState = 'stopped';
      if (this.sockets && this.sockets !== this.runDir) await rm(this.sockets, { recursive: true, force: true });
    });
  }

  private serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.operations.then(operation);
    this.operations = result.catch(() => undefined);
    return result;
  }

  private async launch(): Promise<void> {
    this.currentState = 'starting';
    try {
      this.serve(await this.spawnServing());
    } catch (error) {
      this.scheduleRestart();
      if (!this.restartTimer) this.currentState = 'stopped';
      throw error;
    }
  }

  /** Routes new requests to `running`; it is the process berth supervises from now on. */
  private serve(running: RegistryProcess): void {
    this.current = running;
    this.relay.serveFrom(running);
    this.supervising = true;
    this.currentState = 'running';
    this.log.info({ registryPid: running.pid, url: this.url }, 'registry is serving');
    this.emit('ready', running.pid);
  }

  private async spawnServing(): Promise<RegistryProcess> {
    await this.writeConfig();
    const running = await this.spawnProcess();
    try {
      await this.waitUntilServing(running);
      return running;
    } catch (error) {
      await this.terminate(running);
      throw error;
    }
  }

  private async writeConfig(): Promise<void> {
    const { dataDir, signer } = this.options;
    await mkdir(dataDir, { recursive: true });
    const config = renderRegistryConfig({
      socketPath: join(await this.socketDir(), 'registry.sock'),
      drainTimeoutS: Math.ceil((this.options.drainTimeoutMs ?? 30_000) / 1000),
      storageDir: this.storageDir,
      httpSecret: this.httpSecret,
      auth: {
        realm: this.options.tokenRealm,
        service: signer.service,
        issuer: signer.issuer,
        rootCertBundle: signer.certBundlePath,
      },
      notifications: { url: this.options.hookUrl, secret: this.options.hookSecret },
    });
    // Rendered the same for every process of this object: written once, not before each restart.
    if (config === this.writtenConfig) return;
    // The file holds the hook and HTTP secrets.
    await writeFileAtomic(this.configPath, config, 0o600);
    this.writtenConfig = config;
  }

  private async socketDir(): Promise<string> {
    if (this.sockets) return this.sockets;
    const longest = join(this.runDir, 'registry-000000-0000.sock');
    if (longest.length <= MAX_SOCKET_PATH) {
      await mkdir(this.runDir, { recursive: true, mode: 0o700 });
      this.sockets = this.runDir;
    } else {
      this.sockets = await mkdtemp(join(tmpdir(), 'berth-registry-'));
    }
    return this.sockets;
  }

  private async spawnProcess(): Promise<RegistryProcess> {
    const binary = this.binary;
    const socketPath = join(await this.socketDir(), `registry-${process.pid}-${++this.launches}.sock`);
    const args = ['serve', this.configPath];
    // Per process, over the shared config file: its own socket.
    const env = { ...process.env, REGISTRY_HTTP_ADDR: socketPath };
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw spawnError(binary, error);
    }
    const pid = child.pid ?? 0;
    this.children.record(pid, args);
    let heardListening: () => void = () => {};
    const listening = new Promise<void>((resolve) => {
      heardListening = resolve;
    });
    const running: RegistryProcess = {
      child,
      pid,
      socketPath,
      startedAt: Date.now(),
      exited: once(child, 'close').then(() => undefined),
      recentLines: [],
      listening,
      heardListening,
      expectExit: false,
    };
    child.on('error', (error) => this.log.error({ err: error, registryPid: pid }, 'registry process error'));
    this.forwardLines(running, 'stdout');
    this.forwardLines(running, 'stderr');
    // On an orderly exit of berth; after a SIGKILL, ChildRecords ends it at the next start.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      this.children.forget(pid);
      void rm(socketPath, { force: true });
      this.onExit(running, code, signal);
    });
    return running;
  }

  private async waitUntilServing(running: RegistryProcess): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (running.child.exitCode !== null || running.child.signalCode !== null) {
        await running.exited;
        const status = running.child.exitCode ?? running.child.signalCode;
        throw new Error(`docker-registry exited (${status}) before serving:\n${running.recentLines.join('\n')}`);
      }
      // Probed as soon as it says it listens, then every poll: it may say so a moment early.
      const heard = await Promise.race([running.listening.then(() => true), sleep(READY_POLL_MS, false)]);
      // Any answer counts: under token auth an unauthenticated GET /v2/ is a 401.
      if (heard && (await answers(running.socketPath))) return;
      if (heard) await sleep(READY_POLL_MS);
    }
    throw new Error(`docker-registry did not serve on ${running.socketPath} within ${timeoutMs} ms:\n${running.recentLines.join('\n')}`);
  }

  private async terminate(running: RegistryProcess): Promise<void> {
    running.expectExit = true;
    if (running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGTERM');
      const graceMs = (this.options.drainTimeoutMs ?? 30_000) + (this.options.stopGraceMs ?? 10_000);
      const grace = sleep(graceMs, 'timeout' as const, { ref: false });
      if ((await Promise.race([running.exited, grace])) === 'timeout') {
        this.log.warn({ registryPid: running.pid }, 'registry ignored SIGTERM, sending SIGKILL');
        running.child.kill('SIGKILL');
      }
    }
    await running.exited;
  }

  private onExit(running: RegistryProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const serving = this.current === running;
    if (serving) {
      this.current = undefined;
      this.relay.serveFrom(null);
    }
    const expected = running.expectExit || !this.supervising || !serving;
    this.emit('exit', { pid: running.pid, code, signal, expected });
    if (expected) return;

    const uptimeMs = Date.now() - running.startedAt;
    if (uptimeMs >= STABLE_UPTIME_MS) this.failuresInARow = 0;
    this.log.error({ registryPid: running.pid, code, signal, uptimeMs }, 'registry exited unexpectedly');
    this.scheduleRestart();
  }

  /**
   * Once the registry has served, berth keeps it up: after a crash or a relaunch that failed, it
   * tries again after a delay that doubles with every failure in a row. While no process serves,
   * the port answers 503.
   */
  private scheduleRestart(): void {
    if (this.restartTimer || !this.supervising) return;
    this.failuresInARow += 1;
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, (this.options.restartDelayMs ?? 500) * 2 ** (this.failuresInARow - 1));
    this.currentState = 'restarting';
    this.log.warn({ restartInMs: delayMs, failuresInARow: this.failuresInARow }, 'restarting registry');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.serialized(async () => {
        if (!this.supervising) return;
        if (!this.current) await this.launch();
      }).catch((error: unknown) => this.log.error({ err: error }, 'registry restart failed'));
    }, delayMs);
  }

  private cancelScheduledRestart(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private forwardLines(running: RegistryProcess, source: 'stdout' | 'stderr'): void {
    const stream = running.child[source];
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      const redacted = this.redact(line);
      running.recentLines.push(redacted);
      if (running.recentLines.length > RECENT_LINES_KEPT) running.recentLines.shift();
      const message = this.logLine(redacted, source);
      if (message?.startsWith('listening on ')) running.heardListening();
    });
  }

  /** The registry logs its endpoint config, hook secret included, at startup. */
  private redact(line: string): string {
    return line.replaceAll(this.options.hookSecret, '[redacted]').replaceAll(this.httpSecret, '[redacted]');
  }

  /** Logs one registry line through pino and returns its message. */
  private logLine(line: string, source: 'stdout' | 'stderr'): string | undefined {
    const entry = parseJsonLogLine(line);
    if (!entry) {
      // stdout carries the access log; plain stderr text is what the registry prints when it dies.
      if (source === 'stdout') this.log.debug(line);
      else this.log.warn(line);
      return undefined;
    }
    const message = typeof entry.msg === 'string' ? entry.msg : '';
    const fields = Object.fromEntries(Object.entries(entry).filter(([key]) => !NOISE_FIELDS.includes(key)));
    const level = REQUEST_LOG_MESSAGES.has(message) || isClientError(entry) ? 'debug' : toPinoLevel(entry.level);
    this.log[level](fields, message);
    return message;
  }
}

/**
 * The registry logs every 4xx answer at error level ("response completed with error"), such as a
 * 404 for a manifest just deleted; the client was told, and nothing is wrong with the registry.
 */
function isClientError(entry: Record<string, unknown>): boolean {
  const status = entry['http.response.status'];
  return entry['msg'] === 'response completed with error' && typeof status === 'number' && status >= 400 && status < 500;
}

/** Whether something answers `GET /v2/` on the unix socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request({ socketPath, path: '/v2/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    probe.on('timeout', () => probe.destroy());
    probe.on('error', () => resolve(false));
    probe.end();
  });
}

function parseJsonLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** logrus levels to pino's. */
function toPinoLevel(level: unknown): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' {
  switch (level) {
    case 'trace':
    case 'debug':
    case 'info':
    case 'error':
    case 'fatal':
      return level;
    case 'warning':
      return 'warn';
    case 'panic':
      return 'fatal';
    default:
      return 'info';
  }
}

function spawnError(binary: string, error: unknown): Error {
  if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
    return new Error(
      `cannot start the embedded registry: '${binary}' was not found. ` +
        'Install it with `apt-get install docker-registry`, or run `npm run setup`.',
      { cause: error },
    );
  }
  return new Error(`cannot start the embedded registry '${binary}'`, { cause: error });
}
