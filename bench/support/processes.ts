import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServerProcess {
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A server in a process of its own (`node --import tsx <script> …args`), so the load generator in
 * the benchmark's process never shares an event loop with it; resolves once `readyPath` answers.
 * With BENCH_CPU_PROF_DIR set, each server writes a CPU profile there when it stops.
 */
export async function startServerProcess(
  script: string,
  options: { args?: string[]; env?: Record<string, string>; port: number; readyPath: string; nodeOptions?: string[] },
): Promise<ServerProcess> {
  const profileDir = process.env['BENCH_CPU_PROF_DIR'];
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profiling, ...(options.nodeOptions ?? []), '--import', 'tsx', path.resolve(script), ...(options.args ?? [])], {
    env: { ...process.env, NODE_ENV: 'production', ...options.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(url + options.readyPath).then((response) => response.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode} before it served`);
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`${script} did not serve ${options.readyPath} within 60 s`);
    }
    await sleep(100);
  }
  return { pid: child.pid!, url, stop: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Resident memory of a process, from /proc. */
export async function residentBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}
