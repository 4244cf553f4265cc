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
  /** @default false */
  readOnly?: boolean;
  /** @default 'docker-registry' (looked up on PATH) */
  binary?: string;
  /** How long a start may take until `GET /v2/` answers. @default 15_000 */
  startTimeoutMs?: number;
  /**
   * At a handover, how long requests in flight to the old process may take to finish before it is
   * told to stop; the registry then gets as long again (`http.draintimeout`). @default 30_000
   */
  drainTimeoutMs?: number;
  /** How long a stop waits after SIGTERM (and the registry's own drain) before SIGKILL. @default 10_000 */
  stopGraceMs?: number;
  /** First delay before restarting a crashed registry; doubles per crash in a row. @default 500 */
  restartDelayMs?: number;
}

export type EmbeddedRegistryState = 'stopped' | 'starting' | 'running' | 'restarting';

export interface EmbeddedRegistryExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False for a crash, which schedules a restart. */
  expected: boolean;
}

export interface EmbeddedRegistryEvents {
  /**
   * A registry process now serves clients on berth's port: after start, after a restart that
   * followed a crash, and after every handover (read-only for garbage collection and back). The
   * process before it may have lost notifications it had not delivered yet, so this is the moment
   * to reconcile what berth knows about the registry's content, once a writable process serves.
   */
  ready: [pid: number, mode: { readOnly: boolean }];
  exit: [EmbeddedRegistryExit];
}

interface RegistryProcess {
  child: ChildProcess;
  pid: number;
  readOnly: boolean;
  /** Where it listens; only the relay connects there. */
  socketPath: string;
  startedAt: number;
  /** Settles once the process has exited and its output is fully read. */
  exited: Promise<void>;
  /** Its last lines, for the error when it dies before serving. */
  recentLines: string[];
  /** Set by the registry's own "listening on" line. */
  listening: boolean;
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
 * port (RegistryRelay, in a thread of its own) and each registry process listens on a unix socket of its own, so a switch
 * to read-only and back is a handover: the next process starts, new requests go to it once it
 * serves, and the old one stops after its last request. The port never refuses a connection and
 * no request is cut. A crashed process is restarted with backoff.
 */
export class EmbeddedRegistry extends EventEmitter<EmbeddedRegistryEvents> {
  readonly url: string;
  private readonly options: EmbeddedRegistryOptions;
  private readonly log: Logger;
  private readonly configPath: string;
  private readonly relay: RelayThread;
  private readonly children: ChildRecords;
  /** Stable for the life of this object, so upload sessions survive a handover. */
  private readonly httpSecret = randomBytes(32).toString('hex');
  private current: RegistryProcess | undefined;
  /** A process started ahead of a handover (prepareHandOver); nothing is routed to it yet. */
  private standby: RegistryProcess | undefined;
  private currentState: EmbeddedRegistryState = 'stopped';
  private readOnlyMode: boolean;
  /** True once started; crash restarts happen only while supervising. */
  private supervising = false;
  private failuresInARow = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private operations: Promise<unknown> = Promise.resolve();
  private sockets: string | undefined;
  private launches = 0;

  constructor(options: EmbeddedRegistryOptions) {
    super();
    this.options = options;
    this.log = options.logger.child({ component: 'registry' });
    this.url = `http://${options.host ?? '127.0.0.1'}:${options.port}`;
    this.configPath = join(options.dataDir, 'registry-config.yml');
    this.readOnlyMode = options.readOnly ?? false;
    this.relay = new RelayThread(this.log);
    this.children = new ChildRecords(this.runDir);
  }

  get state(): EmbeddedRegistryState {
    return this.currentState;
  }

  /** Whether the process that serves (or is to serve next) refuses writes. */
  get readOnly(): boolean {
    return this.current?.readOnly ?? this.readOnlyMode;
  }

  /** PID of the process that serves, if any. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** The unix socket of the process that serves, if any: berth's own requests go there directly. */
  get socketPath(): string | undefined {
    return this.current?.socketPath;
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
      if (!this.relay.listening) await this.relay.listen(this.options.port, this.options.host ?? '127.0.0.1');
      try {
        await this.launch();
      } catch (error) {
        if (!this.supervising) await this.relay.close();
        throw error;
      }
    });
  }

  /**
   * Hands the port over to a new registry process, e.g. `{ readOnly: true }` around garbage
   * collection, and resolves once the old one has exited: nothing writes through it any more. If
   * the new process cannot start, the old one goes on serving and this rejects; a writable process
   * is then tried again with backoff, since writable is where the registry belongs.
   */
  handOver(options: { readOnly: boolean }): Promise<void> {
    return this.serialized(async () => {
      this.cancelScheduledRestart();
      if (!options.readOnly) this.readOnlyMode = false;
      try {
        await this.replace(options.readOnly);
      } catch (error) {
        if (!options.readOnly) this.scheduleRestart();
        throw error;
      }
      this.readOnlyMode = options.readOnly;
    });
  }

  /**
   * Starts the process that the coming `handOver(options)` switches to, so that the handover itself
   * is only the switch and the old process's exit. Nothing reaches it before the handover.
   */
  prepareHandOver(options: { readOnly: boolean }): Promise<void> {
    return this.serialized(async () => {
      if (this.standby && this.standby.readOnly === options.readOnly && isAlive(this.standby)) return;
      await this.dropStandby();
      this.standby = await this.spawnServing(options.readOnly);
    });
  }

  /** Stops the process prepared for a handover that is not coming. */
  cancelHandOver(): Promise<void> {
    return this.serialized(() => this.dropStandby());
  }

  /** Closes the port, then stops the process: SIGTERM, SIGKILL after the grace period. */
  stop(): Promise<void> {
    return this.serialized(async () => {
      this.supervising = false;
      this.cancelScheduledRestart();
      await this.relay.close();
      await this.dropStandby();
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
      this.serve(await this.spawnServing(this.readOnlyMode));
    } catch (error) {
      this.scheduleRestart();
      if (!this.restartTimer) this.currentState = 'stopped';
      throw error;
    }
  }

  private async replace(readOnly: boolean): Promise<void> {
    const previous = this.current;
    const prepared = this.standby?.readOnly === readOnly && isAlive(this.standby) ? this.standby : undefined;
    if (prepared) this.standby = undefined;
    else await this.dropStandby();
    this.serve(prepared ?? (await this.spawnServing(readOnly)));
    if (previous) await this.retire(previous);
  }

  private async dropStandby(): Promise<void> {
    const standby = this.standby;
    this.standby = undefined;
    if (standby) await this.terminate(standby);
  }

  /** Routes new requests to `running`; it is the process berth supervises from now on. */
  private serve(running: RegistryProcess): void {
    this.current = running;
    this.relay.serveFrom(running);
    this.supervising = true;
    this.currentState = 'running';
    this.log.info({ registryPid: running.pid, url: this.url, readOnly: running.readOnly }, 'registry is serving');
    this.emit('ready', running.pid, { readOnly: running.readOnly });
  }

  /** Lets the requests in flight to `running` finish, then stops it. */
  private async retire(running: RegistryProcess): Promise<void> {
    const drained = await this.relay.release(running, this.options.drainTimeoutMs ?? 30_000);
    if (!drained) this.log.warn({ registryPid: running.pid }, 'requests still in flight to the old registry process; stopping it anyway');
    await this.terminate(running);
  }

  /** A new process that answers on its socket; killed again if it does not. */
  private async spawnServing(readOnly: boolean): Promise<RegistryProcess> {
    await this.writeConfig();
    const running = await this.spawnProcess(readOnly);
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
    // The file holds the hook and HTTP secrets.
    await writeFileAtomic(this.configPath, config, 0o600);
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

  private async spawnProcess(readOnly: boolean): Promise<RegistryProcess> {
    const binary = this.binary;
    const socketPath = join(await this.socketDir(), `registry-${process.pid}-${++this.launches}.sock`);
    const args = ['serve', this.configPath];
    // Per process, over the shared config file: its own socket, and read-only or not.
    const env = {
      ...process.env,
      REGISTRY_HTTP_ADDR: socketPath,
      REGISTRY_STORAGE_MAINTENANCE_READONLY: `{enabled: ${readOnly}}`,
    };
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw spawnError(binary, error);
    }
    const pid = child.pid ?? 0;
    this.children.record(pid, args);
    const running: RegistryProcess = {
      child,
      pid,
      readOnly,
      socketPath,
      startedAt: Date.now(),
      exited: once(child, 'close').then(() => undefined),
      recentLines: [],
      listening: false,
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
      // Any answer counts: under token auth an unauthenticated GET /v2/ is a 401.
      if (running.listening && (await answers(running.socketPath))) return;
      await sleep(READY_POLL_MS);
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
   * Once the registry has served, berth keeps it up: after a crash, a relaunch that failed or a
   * failed handover back to writable, it tries again after a delay that doubles with every failure
   * in a row. While no process serves, the port answers 503.
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
        else if (this.current.readOnly !== this.readOnlyMode) await this.replace(this.readOnlyMode).catch((error: unknown) => {
          this.scheduleRestart();
          throw error;
        });
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
      if (message?.startsWith('listening on ')) running.listening = true;
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

function isAlive(running: RegistryProcess): boolean {
  return running.child.exitCode === null && running.child.signalCode === null;
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
