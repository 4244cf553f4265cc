import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { ChildRecords } from '../registry/hosted/child-records.js';
import { type GcOutputEvent, parseStderrLine, parseStdoutLine } from './output-parser.js';

export interface GarbageCollectOptions {
  /** The registry binary (`docker-registry`). */
  binary: string;
  /** The registry's own config file: garbage-collect reads the storage settings from it. */
  configFile: string;
  dryRun: boolean;
  /** Aborting kills the process; mark and sweep may stop at any point without harm. */
  signal: AbortSignal;
  /** Called for every line as it streams, in output order per stream. */
  onEvent: (event: GcOutputEvent) => void;
  /** Where the process is recorded while it runs, so that a berth restarted after a SIGKILL ends it. */
  children: Pick<ChildRecords, 'record' | 'forget'>;
}

const ERROR_LINES_KEPT = 5;

/**
 * Runs `docker-registry garbage-collect [--dry-run] <config>` and resolves when it exits 0. Never
 * with `--delete-untagged`: that deletes the platform manifests of tagged multi-arch images.
 * Rejects with the last error lines on another exit, and with the abort reason once killed.
 */
export async function garbageCollect(options: GarbageCollectOptions): Promise<void> {
  const { binary, configFile, dryRun, signal, onEvent, children } = options;
  signal.throwIfAborted();
  const args = ['garbage-collect', ...(dryRun ? ['--dry-run'] : []), configFile];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) children.record(child.pid, args);
  // Killed if berth exits first: a sweep without its read-only window would be unsafe.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const kill = (): void => void child.kill('SIGTERM');
  signal.addEventListener('abort', kill, { once: true });

  const errors: string[] = [];
  const forward = (line: string, parse: (line: string) => GcOutputEvent | null): void => {
    const event = parse(line);
    if (!event) return;
    if (event.kind === 'error') {
      errors.push(event.message);
      if (errors.length > ERROR_LINES_KEPT) errors.shift();
    }
    onEvent(event);
  };
  const stdout = createInterface({ input: child.stdout, crlfDelay: Infinity });
  const stderr = createInterface({ input: child.stderr, crlfDelay: Infinity });
  stdout.on('line', (line) => forward(line, parseStdoutLine));
  stderr.on('line', (line) => forward(line, parseStderrLine));

  try {
    const [code, exitSignal] = (await Promise.all([once(child, 'close'), once(stdout, 'close'), once(stderr, 'close')]))[0] as [
      number | null,
      NodeJS.Signals | null,
    ];
    signal.throwIfAborted();
    if (code !== 0) {
      const status = code === null ? `signal ${exitSignal}` : `code ${code}`;
      throw new Error(`garbage-collect exited with ${status}${errors.length ? `: ${errors.join(' | ')}` : ''}`);
    }
  } catch (error) {
    if (isSpawnFailure(error)) throw new Error(`cannot run '${binary} garbage-collect': ${error.message}`, { cause: error });
    throw error;
  } finally {
    signal.removeEventListener('abort', kill);
    process.removeListener('exit', killOnExit);
    if (child.pid !== undefined) children.forget(child.pid);
  }
}

function isSpawnFailure(error: unknown): error is Error {
  return error instanceof Error && 'syscall' in error && typeof error.syscall === 'string' && error.syscall.startsWith('spawn');
}
