import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDb } from '../../src/db/client.js';
import { signedTokens, TOKEN_ISSUER, TOKEN_SERVICE } from '../../src/registry/hosted/hosted-backend.js';
import { bearerTokens } from '../../src/registry/v2/auth.js';
import { RegistryClient } from '../../src/registry/v2/client.js';
import { RegistryTokenSigner } from '../../src/registry/hosted/token-signer.js';
import type { Data } from '../support/app.js';
import { artifactBytes, GC_DELAY_ENV, GC_JOB, slowGarbageCollectShim, START_GC, TERMINAL } from '../support/gc.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';
import { freePort } from '../support/registry-process.js';
import { CREATE_NAMESPACE, CREATE_REGISTRY } from '../schema/operations.js';

const dataDir = await mkdtemp(join(tmpdir(), 'berth-gc-crash-'));
const databaseFile = join(dataDir, 'berth.db');
const adminToken = `berth_${randomBytes(24).toString('hex')}`;
const port = await freePort();
const registryPort = await freePort();
const shim = await slowGarbageCollectShim(join(dataDir, 'bin'));
let berth: ChildProcess | undefined;
let output = '';

afterAll(async () => {
  if (berth) await killGroup(berth, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

/** berth as `npm start` runs it, in its own process group so that a kill takes its registry along, as a crash of the host would. */
async function startBerthProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BERTH_DATA_DIR: dataDir,
      BERTH_PORT: String(port),
      BERTH_REGISTRY_PORT: String(registryPort),
      DATABASE_URL: `file:${databaseFile}`,
      BERTH_ADMIN_TOKEN: adminToken,
      BERTH_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited (${child.exitCode}):\n${output}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ready) return child;
    if (Date.now() > deadline) throw new Error(`berth did not get ready:\n${output}`);
    await sleep(100);
  }
}

async function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid!, signal);
  await exited;
}

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<Data> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Data; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function waitForJob(id: string, done: (job: Data) => boolean): Promise<Data> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = (await gql(GC_JOB, { id })).node;
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`GC job stuck: ${JSON.stringify(job)}`);
    await sleep(25);
  }
}

describe('a berth killed in the middle of a GC', () => {
  it('finds the job INTERRUPTED after the restart, the registry writable, and collects on the next run', { timeout: 90_000 }, async () => {
    // A migrated database to start from, as `npm run setup` leaves one.
    await copyFile(inject('sqliteTemplate'), databaseFile);
    berth = await startBerthProcess({ PATH: `${shim}:${process.env['PATH']}`, [GC_DELAY_ENV]: '60' });

    const namespace = (await gql(CREATE_NAMESPACE, { input: { slug: 'crash', name: 'Crash' } })).createNamespace.namespace;
    const registry = (await gql(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'crash', slug: 'crash' } })).createRegistry.registry;
    const signer = await RegistryTokenSigner.open({ dir: join(dataDir, 'keys'), issuer: TOKEN_ISSUER, service: TOKEN_SERVICE });
    const client = new RegistryClient({ baseUrl: `http://127.0.0.1:${registryPort}`, auth: bearerTokens(signedTokens(signer, 'berth')) });
    const deleted = buildImage();
    await pushArtifact(client, 'crash/app', 'v1', deleted);
    await client.deleteManifest('crash/app', deleted.digest);
    const kept = buildImage();
    await pushArtifact(client, 'crash/app', 'v2', kept);

    const started = (await gql(START_GC, { input: { registryId: registry.id } })).startGarbageCollection.job;
    await waitForJob(started.id, (job) => job.phase === 'MARKING');
    const db = createDb(`file:${databaseFile}`);
    try {
      expect((await db.registry.findMany({ select: { state: true } })).map((r) => r.state)).toEqual(['READ_ONLY']);
      expect(await db.gcJob.findFirst({ select: { status: true, leaseExpiresAt: true } })).toMatchObject({ status: 'RUNNING', leaseExpiresAt: expect.any(Date) });
    } finally {
      await db.$disconnect();
    }

    await killGroup(berth, 'SIGKILL');
    berth = await startBerthProcess({});

    const interrupted = (await gql(GC_JOB, { id: started.id })).node;
    expect(interrupted).toMatchObject({ status: 'INTERRUPTED', phase: 'MARKING', percent: 100, bytesFreed: 0 });
    expect(interrupted.error).toMatch(/^interrupted: berth stopped during MARKING/);
    expect(interrupted.finishedAt).not.toBeNull();
    expect((await gql(`query ($id: ID!) { node(id: $id) { ... on Registry { state } } }`, { id: registry.id })).node.state).toBe('ACTIVE');
    await pushArtifact(client, 'crash/app', 'after-crash', buildImage());

    const next = (await gql(START_GC, { input: { registryId: registry.id } })).startGarbageCollection.job;
    const done = await waitForJob(next.id, (job) => TERMINAL.includes(job.status));
    expect(done).toMatchObject({ status: 'SUCCEEDED', bytesFreed: artifactBytes(deleted), blobsDeleted: 3 });
    expect((await client.headManifest('crash/app', 'v2'))?.digest).toBe(kept.digest);

    await killGroup(berth, 'SIGTERM');
    expect(berth.exitCode).toBe(0);
    berth = undefined;
  });
});
