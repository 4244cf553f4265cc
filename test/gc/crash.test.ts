import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedTokens, TOKEN_ISSUER, TOKEN_SERVICE } from '../../src/registry/hosted/hosted-backend.js';
import { bearerTokens } from '../../src/registry/v2/auth.js';
import { RegistryClient } from '../../src/registry/v2/client.js';
import { RegistryTokenSigner } from '../../src/registry/hosted/token-signer.js';
import type { Data } from '../support/app.js';
import { type BerthProcess, startBerthProcess } from '../support/berth-process.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { GC_JOB, START_GC, TERMINAL } from '../support/gc.js';
import { blobsOf, buildImage, pushArtifact, type TestImage } from '../support/oci-images.js';
import { freePort } from '../support/registry-process.js';
import { CREATE_NAMESPACE, CREATE_REGISTRY } from '../schema/operations.js';

// Blobs no manifest references, written straight into the storage: enough that the real sweep
// takes seconds, so berth can be killed in the middle of it.
const ORPHAN_BLOBS = 10_000;

const dataDir = await mkdtemp(join(tmpdir(), 'berth-gc-crash-'));
const adminToken = `berth_${randomBytes(24).toString('hex')}`;
const port = await freePort();
const registryPort = await freePort();
let database: TestDatabase;
let berth: BerthProcess | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await berth?.stop('SIGKILL');
  // After a failure berth may not have been there to end what its killed predecessor left running.
  for (const { pid } of await processesOnStorage()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone between the listing and the kill.
    }
  }
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function startBerth(): Promise<BerthProcess> {
  return startBerthProcess({
    BERTH_DATA_DIR: dataDir,
    BERTH_PORT: String(port),
    BERTH_REGISTRY_PORT: String(registryPort),
    DATABASE_URL: database.url,
    BERTH_ADMIN_TOKEN: adminToken,
    BERTH_GC_MIN_INTERVAL: '0',
    BERTH_LOG_LEVEL: 'warn',
  });
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
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await gql(GC_JOB, { id })).node;
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`GC job stuck: ${JSON.stringify(job)}`);
    await sleep(25);
  }
}

/** Every live process started with berth's registry config: registry processes and garbage-collect runs. */
async function processesOnStorage(): Promise<{ pid: number; args: string[] }[]> {
  const config = join(dataDir, 'registry-config.yml');
  const found: { pid: number; args: string[] }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const args = cmdline.split('\0').filter(Boolean);
    if (args.includes(config) && !/\) Z /.test(stat)) found.push({ pid: Number(entry), args });
  }
  return found;
}

async function writeOrphanBlobs(count: number): Promise<void> {
  const blobs = join(dataDir, 'registry', 'docker', 'registry', 'v2', 'blobs', 'sha256');
  const write = async (): Promise<void> => {
    const hex = randomBytes(32).toString('hex');
    await mkdir(join(blobs, hex.slice(0, 2), hex), { recursive: true });
    await writeFile(join(blobs, hex.slice(0, 2), hex, 'data'), hex);
  };
  for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: 100 }, write));
}

describe('berth SIGKILLed alone while garbage-collect sweeps', () => {
  it('ends the orphaned sweep and registry at restart, finds the job INTERRUPTED, the registry writable, and collects on the next run', { timeout: 180_000 }, async () => {
    berth = await startBerth();
    const namespace = (await gql(CREATE_NAMESPACE, { input: { slug: 'crash', name: 'Crash' } })).createNamespace.namespace;
    const registry = (await gql(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'crash', slug: 'crash' } })).createRegistry.registry;
    const signer = await RegistryTokenSigner.open({ dir: join(dataDir, 'keys'), issuer: TOKEN_ISSUER, service: TOKEN_SERVICE });
    const client = new RegistryClient({ baseUrl: `http://127.0.0.1:${registryPort}`, auth: bearerTokens(signedTokens(signer, 'berth')) });
    const deleted = buildImage();
    await pushArtifact(client, 'crash/app', 'v1', deleted);
    await client.deleteManifest('crash/app', deleted.digest);
    const kept = buildImage();
    await pushArtifact(client, 'crash/app', 'v2', kept);
    await writeOrphanBlobs(ORPHAN_BLOBS);

    const started = (await gql(START_GC, { input: { registryId: registry.id } })).startGarbageCollection.job;
    await waitForJob(started.id, (job) => job.phase === 'SWEEPING' && job.blobsDeleted > 0);
    const sweeping = (await processesOnStorage()).find(({ args }) => args.includes('garbage-collect'));
    expect(sweeping).toBeDefined();

    // berth alone: what it spawned lives on, as after an OOM kill.
    const exited = once(berth.child, 'exit');
    process.kill(berth.child.pid!, 'SIGKILL');
    await exited;
    // garbage-collect dies of SIGPIPE at its next output line; the read-only registry lives on.
    const orphans = [sweeping!, ...(await processesOnStorage()).filter(({ pid }) => pid !== sweeping!.pid)];
    expect(orphans.some(({ args }) => args.includes('serve'))).toBe(true);

    berth = await startBerth();
    const running = await processesOnStorage();
    expect(running.filter(({ args }) => args.includes('garbage-collect'))).toEqual([]);
    expect(running.filter(({ args }) => args.includes('serve'))).toHaveLength(1);
    for (const { pid } of orphans) expect(running.map((p) => p.pid)).not.toContain(pid);

    const interrupted = (await gql(GC_JOB, { id: started.id })).node;
    expect(interrupted).toMatchObject({ status: 'INTERRUPTED', phase: 'SWEEPING', percent: 100 });
    expect(interrupted.error).toMatch(/^interrupted: berth stopped during SWEEPING/);
    expect(interrupted.finishedAt).not.toBeNull();
    expect((await gql(`query ($id: ID!) { node(id: $id) { ... on Registry { state } } }`, { id: registry.id })).node.state).toBe('ACTIVE');
    const afterCrash = buildImage();
    await pushArtifact(client, 'crash/app', 'after-crash', afterCrash);

    const next = (await gql(START_GC, { input: { registryId: registry.id } })).startGarbageCollection.job;
    const done = await waitForJob(next.id, (job) => TERMINAL.includes(job.status));
    expect(done.status).toBe('SUCCEEDED');
    // What the interrupted sweep left is gone now: only the two tagged images' blobs remain.
    expect(await storedBlobs()).toEqual(new Set([...blobDigests(kept), ...blobDigests(afterCrash)]));
    expect((await client.headManifest('crash/app', 'v2'))?.digest).toBe(kept.digest);

    await berth.stop('SIGTERM');
    expect(berth.child.exitCode).toBe(0);
    berth = undefined;
  });
});

function blobDigests(image: TestImage): string[] {
  return [image.digest, ...blobsOf(image).map((blob) => blob.digest)];
}

async function storedBlobs(): Promise<Set<string>> {
  const base = join(dataDir, 'registry', 'docker', 'registry', 'v2', 'blobs', 'sha256');
  const digests = new Set<string>();
  for (const prefix of await readdir(base)) for (const hex of await readdir(join(base, prefix))) digests.add(`sha256:${hex}`);
  return digests;
}
