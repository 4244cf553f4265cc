import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** berth as `npm start` runs it, in a process group of its own with its registry and garbage-collect. */
export interface BerthProcess {
  readonly child: ChildProcess;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Everything it printed so far. */
  output(): string;
  /** Signals the whole group (berth and its children) and waits for berth to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `src/main.ts` with `env` (BERTH_PORT among it) and resolves once /readyz answers. */
export async function startBerthProcess(env: Record<string, string>): Promise<BerthProcess> {
  const url = `http://127.0.0.1:${env['BERTH_PORT']}`;
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited (${child.exitCode}):\n${output}`);
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`berth did not get ready:\n${output}`);
    await sleep(100);
  }
  return {
    child,
    url,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      process.kill(-child.pid!, signal);
      await exited;
    },
  };
}
