import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildRecords } from '../../../src/registry/hosted/child-records.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-children-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ChildRecords', () => {
  it('ends a recorded process that still runs with its arguments, and leaves a pid that now belongs to another process', async () => {
    // Detached and unreferenced: like a child whose berth was SIGKILLed.
    const orphan = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    await once(orphan, 'spawn');
    const exited = once(orphan, 'exit');
    const records = new ChildRecords(join(dir, 'run'));
    records.record(orphan.pid!, ['30']);
    // This very test process, recorded as if it were a garbage-collect run: the pid was reused.
    records.record(process.pid, ['garbage-collect', '/nowhere/registry-config.yml']);

    const killed = await new ChildRecords(join(dir, 'run')).killOrphans(pino({ level: 'silent' }));
    expect(killed).toEqual([orphan.pid]);
    expect((await exited)[1]).toBe('SIGKILL');
    expect(await readdir(join(dir, 'run'))).toEqual([]);
  });
});
