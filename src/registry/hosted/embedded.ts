import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../atomic-file.js';
import { renderRegistryConfig } from './registry-config.js';
import type { RegistryTokenSigner } from './token-signer.js';

export interface EmbeddedRegistryOptions {
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
  /** How long a stop waits after SIGTERM before SIGKILL. @default 10_000 */
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
  /** A registry process answers `GET /v2/`. */
  ready: [pid: number];
  exit: [EmbeddedRegistryExit];
}

interface RegistryProcess {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  /** Settles once the process has exited and its output is fully read. */
  exited: Promise<void>;
  /** Its last lines, for the error when it dies before serving. */
  recentLines: string[];
  /** Set by the registry's own "listening on" line: an answer before it may come from another process on the port. */
  listening: boolean;
  expectExit: boolean;
}

const MAX_RESTART_DELAY_MS = 30_000;
/** A process that served this long before crashing resets the backoff. */
const STABLE_UPTIME_MS = 60_000;
const READY_POLL_MS = 50;
const RECENT_LINES_KEPT = 20;
/** Routine per-request lines (an unauthenticated request is just the first leg of the token flow): debug. */
const REQUEST_LOG_MESSAGES = new Set([
  'response completed',
  'authorized request',
  'error authorizing context: authorization token required',
]);
/** Fields repeated on every registry line that say nothing about the event. */
const NOISE_FIELDS = ['level', 'msg', 'time', 'go.version', 'instance.id', 'service', 'version'];

/**
 * Runs CNCF distribution (`docker-registry serve`) as berth's child process: writes its config,
 * waits until it serves, restarts it after a crash with backoff, and stops it cleanly.
 */
export class EmbeddedRegistry extends EventEmitter<EmbeddedRegistryEvents> {
  readonly url: string;
  private readonly options: EmbeddedRegistryOptions;
  private readonly log: Logger;
  private readonly configPath: string;
  /** Stable for the life of this object, so upload sessions survive `restart()`. */
  private readonly httpSecret = randomBytes(32).toString('hex');
  private current: RegistryProcess | undefined;
  private currentState: EmbeddedRegistryState = 'stopped';
  private readOnlyMode: boolean;
  /** True once started; crash restarts happen only while supervising. */
  private supervising = false;
  private failuresInARow = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private operations: Promise<unknown> = Promise.resolve();

  constructor(options: EmbeddedRegistryOptions) {
    super();
    this.options = options;
    this.log = options.logger.child({ component: 'registry' });
    this.url = `http://${options.host ?? '127.0.0.1'}:${options.port}`;
    this.configPath = join(options.dataDir, 'registry-config.yml');
    this.readOnlyMode = options.readOnly ?? false;
  }

  get state(): EmbeddedRegistryState {
    return this.currentState;
  }

  get readOnly(): boolean {
    return this.readOnlyMode;
  }

  /** PID of the running process, if any. */
  get pid(): number | undefined {
    return this.current?.pid;
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

  /** Starts the registry and resolves once it serves; rejects (and leaves it stopped) if it cannot. */
  start(): Promise<void> {
    return this.serialized(async () => {
      if (this.current) return;
      this.cancelScheduledRestart();
      await this.launch();
    });
  }

  /** Stops and starts the registry, e.g. `{ readOnly: true }` around garbage collection. */
  restart(options: { readOnly?: boolean } = {}): Promise<void> {
    return this.serialized(async () => {
      if (options.readOnly !== undefined) this.readOnlyMode = options.readOnly;
      this.cancelScheduledRestart();
      if (this.current) await this.terminate(this.current);
      await this.launch();
    });
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process has exited. */
  stop(): Promise<void> {
    return this.serialized(async () => {
      this.supervising = false;
      this.cancelScheduledRestart();
      if (this.current) await this.terminate(this.current);
      this.currentState = 'stopped';
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
      await this.writeConfig();
      const running = await this.spawnProcess();
      await this.waitUntilServing(running);
      this.supervising = true;
      this.currentState = 'running';
      this.log.info({ registryPid: running.pid, url: this.url, readOnly: this.readOnlyMode }, 'registry is serving');
      this.emit('ready', running.pid);
    } catch (error) {
      if (this.current) await this.terminate(this.current);
      this.scheduleRestart();
      if (!this.restartTimer) this.currentState = 'stopped';
      throw error;
    }
  }

  private async writeConfig(): Promise<void> {
    const { dataDir, signer } = this.options;
    await mkdir(dataDir, { recursive: true });
    const config = renderRegistryConfig({
      host: this.options.host ?? '127.0.0.1',
      port: this.options.port,
      storageDir: this.storageDir,
      httpSecret: this.httpSecret,
      readOnly: this.readOnlyMode,
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

  private async spawnProcess(): Promise<RegistryProcess> {
    const binary = this.binary;
    const child = spawn(binary, ['serve', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await once(child, 'spawn');
    } catch (error) {
      throw spawnError(binary, error);
    }
    const pid = child.pid ?? 0;
    const running: RegistryProcess = {
      child,
      pid,
      startedAt: Date.now(),
      exited: once(child, 'close').then(() => undefined),
      recentLines: [],
      listening: false,
      expectExit: false,
    };
    this.current = running;
    child.on('error', (error) => this.log.error({ err: error, registryPid: pid }, 'registry process error'));
    this.forwardLines(running, 'stdout');
    this.forwardLines(running, 'stderr');
    // An orphaned registry would keep the port after berth exits; 'exit' handlers may only be synchronous.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
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
      if (!running.listening) {
        await sleep(READY_POLL_MS);
        continue;
      }
      try {
        // Any answer counts: under token auth an unauthenticated GET /v2/ is a 401.
        const res = await fetch(`${this.url}/v2/`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        return;
      } catch {
        await sleep(READY_POLL_MS);
      }
    }
    throw new Error(`docker-registry did not serve ${this.url} within ${timeoutMs} ms:\n${running.recentLines.join('\n')}`);
  }

  private async terminate(running: RegistryProcess): Promise<void> {
    running.expectExit = true;
    if (running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGTERM');
      const grace = sleep(this.options.stopGraceMs ?? 10_000, 'timeout' as const, { ref: false });
      if ((await Promise.race([running.exited, grace])) === 'timeout') {
        this.log.warn({ registryPid: running.pid }, 'registry ignored SIGTERM, sending SIGKILL');
        running.child.kill('SIGKILL');
      }
    }
    await running.exited;
  }

  private onExit(running: RegistryProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.current === running) this.current = undefined;
    const expected = running.expectExit || !this.supervising;
    this.emit('exit', { pid: running.pid, code, signal, expected });
    if (expected) return;

    const uptimeMs = Date.now() - running.startedAt;
    if (uptimeMs >= STABLE_UPTIME_MS) this.failuresInARow = 0;
    this.log.error({ registryPid: running.pid, code, signal, uptimeMs }, 'registry exited unexpectedly');
    this.scheduleRestart();
  }

  /**
   * Once the registry has served, berth keeps it up: after a crash, or a relaunch that failed, it
   * tries again after a delay that doubles with every failure in a row.
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
        if (this.supervising && !this.current) await this.launch();
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
    const level = REQUEST_LOG_MESSAGES.has(message) ? 'debug' : toPinoLevel(entry.level);
    this.log[level](fields, message);
    return message;
  }
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
