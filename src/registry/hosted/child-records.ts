import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

const PIDFILE = /^(\d+)\.pid$/;
const GONE_POLL_MS = 20;
const GONE_TIMEOUT_MS = 5_000;

/**
 * Pidfiles of the processes berth spawns (registry processes, garbage-collect), so that a berth
 * started after its predecessor was SIGKILLed can end what that one left running. Node kills no
 * children when it is killed itself, and an orphaned garbage-collect would go on sweeping while
 * the new berth takes writes again, which corrupts images. A pidfile names the arguments the
 * process was started with; a pid that the system gave to another process since is left alone.
 */
export class ChildRecords {
  constructor(private readonly dir: string) {}

  /** Synchronous, so that no await lies between the spawn and the record. */
  record(pid: number, args: readonly string[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, `${pid}.pid`), JSON.stringify(args), { mode: 0o600 });
  }

  forget(pid: number): void {
    rmSync(join(this.dir, `${pid}.pid`), { force: true });
  }

  /** SIGKILLs every recorded process that still runs with its recorded arguments and waits until it is gone. */
  async killOrphans(log: Logger): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const killed: number[] = [];
    for (const name of names) {
      const match = PIDFILE.exec(name);
      if (!match) continue;
      const pid = Number(match[1]);
      const args = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as string[];
      if (await runsWith(pid, args)) {
        log.warn({ pid, args }, 'ending a process that a previous berth left running');
        process.kill(pid, 'SIGKILL');
        await waitGone(pid, args);
        killed.push(pid);
      }
      await rm(join(this.dir, name), { force: true });
    }
    return killed;
  }
}

/** Whether `pid` is alive and was started with `args` (its command line ends with them; a wrapper may add its own first). */
async function runsWith(pid: number, args: readonly string[]): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (cmdline === null) return false;
  const argv = cmdline.split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1);
  if (argv.length < args.length) return false;
  return args.every((arg, i) => argv[argv.length - args.length + i] === arg) && !(await isZombie(pid));
}

async function isZombie(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return status === null || /\) Z /.test(status);
}

async function waitGone(pid: number, args: readonly string[]): Promise<void> {
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  while ((await runsWith(pid, args)) && Date.now() < deadline) await sleep(GONE_POLL_MS);
}
