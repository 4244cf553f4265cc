// Two figures, each against its baseline measured in the same run:
// 1. berth's garbage collection job against bare `docker-registry garbage-collect`, on identical
//    copies of one storage: 200 repositories × 5 images (3,000 blobs), 3 of 5 deleted per repository.
//    Median of 5 each, taking turns, each from a synced disk. Goal: ≤ 1.25×.
// 2. A pull of 1 GiB of layers (skopeo, 8 × 128 MiB) through berth's registry port, which relays to
//    the registry process, against the same pull straight from a registry process on its own port
//    over the same storage. Goal: ≤ 1.1×.
// Run with `npx tsx bench/gc.ts`.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startBerth } from '../src/app.js';
import { issueApiToken } from '../src/auth/api-tokens.js';
import type { GcJob } from '../src/generated/prisma/client.js';
import { parseScopes } from '../src/registry/v2/scope.js';
import { buildImage, pushArtifact, sha256Digest } from '../test/support/oci-images.js';
import { fileBytes } from '../test/support/gc.js';
import { freePort } from '../test/support/registry-process.js';
import { report } from './report.js';
import { scratchDatabase } from './support/databases.js';
import { inProcessConfig } from './support/in-process-config.js';

const REPOSITORIES = 200;
const IMAGES_PER_REPOSITORY = 5;
const DELETED_PER_REPOSITORY = 3;
const SEED_CONCURRENCY = 16;
const PULL_LAYERS = 8;
const PULL_LAYER_BYTES = 128 * 1024 * 1024;
const PULL_ROUNDS = 3;
const GC_ROUNDS = 5;
const GC_GOAL = 1.25;
const PULL_GOAL = 1.1;

const run = promisify(execFile);
const log = pino({ level: 'warn' });
const database = await scratchDatabase('SQLite', 'gc');
const { db, root, dataDir } = database;
const config = await inProcessConfig(database, { BERTH_GC_MIN_INTERVAL: '0' });

async function seed(): Promise<{ registryId: string; token: string }> {
  const berth = await startBerth(config, db, log);
  try {
    const admin = await db.user.create({ data: { name: 'bench', isAdmin: true } });
    const namespace = await db.namespace.create({ data: { slug: 'bench', name: 'Bench' } });
    const registry = await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: 'bench', slug: 'bench' } });
    const { client } = berth.services.registry;
    const repositories = Array.from({ length: REPOSITORIES }, (_, i) => `bench/r${String(i).padStart(3, '0')}`);
    const started = performance.now();
    let next = 0;
    // One worker per repository at a time: 2.8 answers 500 to a manifest DELETE racing a tag push in the same repository.
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        for (let repository = repositories[next++]; repository; repository = repositories[next++]) {
          for (let i = 0; i < IMAGES_PER_REPOSITORY; i++) {
            const image = buildImage({ layerBytes: 512 });
            await pushArtifact(client, repository, `v${i}`, image);
            if (i < DELETED_PER_REPOSITORY) await client.deleteManifest(repository, image.digest);
          }
        }
      }),
    );
    console.log(`seeded ${REPOSITORIES * IMAGES_PER_REPOSITORY} images in ${REPOSITORIES} repositories through the V2 API in ${seconds(performance.now() - started)}`);
    const { secret } = await issueApiToken(db, berth.services.serverKey, { userId: admin.id, name: 'bench' });
    return { registryId: registry.id, token: secret };
  } finally {
    await berth.close();
  }
}

/** A copy of the storage with berth's config pointed at it, written to disk before anything is timed. */
async function storageCopy(name: string): Promise<{ storage: string; configFile: string }> {
  const storage = join(root, name, 'registry');
  await cp(join(dataDir, 'registry'), storage, { recursive: true });
  const original = await readFile(join(dataDir, 'registry-config.yml'), 'utf8');
  const configFile = join(root, name, 'config.yml');
  await writeFile(configFile, original.replace(/rootdirectory: .*/, `rootdirectory: ${JSON.stringify(storage)}`));
  return { storage, configFile };
}

/** The bare command on a copy of the storage. */
async function bare(copy: { storage: string; configFile: string }): Promise<{ ms: number; freed: number; deleted: number }> {
  const { storage, configFile } = copy;
  const before = await fileBytes(join(storage, 'docker', 'registry', 'v2', 'blobs'));
  const started = performance.now();
  const { stdout } = await run('docker-registry', ['garbage-collect', configFile], { maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  const freed = before - (await fileBytes(join(storage, 'docker', 'registry', 'v2', 'blobs')));
  return { ms, freed, deleted: stdout.split('\n').filter((line) => line.startsWith('blob eligible for deletion')).length };
}

/** berth's job through the API, from the mutation to the SUCCEEDED event, counting the events published. */
async function withBerth(registryId: string, token: string): Promise<{ ms: number; job: GcJob; events: number; windowMs: number }> {
  const berth = await startBerth(config, db, log);
  try {
    // The content index's first pass at start reads every repository; the job is timed on an idle
    // berth, with nothing of the round's earlier run left to write back to the disk.
    await berth.services.reconciler.runNow();
    await run('sync');
    const { encodeGlobalID } = await import('@pothos/plugin-relay');
    const started = performance.now();
    const response = await berth.server.yoga.fetch('http://berth.bench/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation ($id: ID!) { startGarbageCollection(input: { registryId: $id }) { ... on StartGarbageCollectionPayload { job { id } } } }',
        variables: { id: encodeGlobalID('Registry', registryId) },
      }),
    });
    const globalId = ((await response.json()) as { data: { startGarbageCollection: { job: { id: string } } } }).data.startGarbageCollection.job.id;
    const jobId = Buffer.from(globalId, 'base64').toString().split(':')[1]!;
    let events = 0;
    let windowOpened = 0;
    let windowClosed = 0;
    for await (const job of berth.services.pubsub.subscribe('gcJob:progress', jobId)) {
      events += 1;
      if (job.phase === 'READ_ONLY' && !windowOpened) windowOpened = performance.now();
      if (job.status !== 'QUEUED' && job.status !== 'RUNNING') {
        windowClosed = performance.now();
        return { ms: windowClosed - started, job, events, windowMs: windowClosed - windowOpened };
      }
    }
    throw new Error('the progress stream ended early');
  } finally {
    await berth.close();
  }
}

/** A 1 GiB image, pushed through berth's port; then skopeo pulls it through berth and straight from a registry process, in turns. */
async function relayPull(): Promise<{ berthMs: number; directMs: number }> {
  const berth = await startBerth(config, db, log);
  let direct: ReturnType<typeof spawn> | undefined;
  try {
    const { client, signer } = berth.services.registry;
    const pushed = [];
    // One layer in memory at a time: every skopeo start forks this process, and a fork of a
    // process holding 1 GiB blocks its event loop (the relay's too) for longer.
    for (let i = 0; i < PULL_LAYERS; i++) pushed.push(await client.pushBlob('bench/big', randomBytes(PULL_LAYER_BYTES)));
    const configBlob = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: pushed.map((l) => l.digest) } }));
    const configDigest = (await client.pushBlob('bench/big', configBlob)).digest;
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length },
        layers: pushed.map(({ digest, size }) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size })),
      }),
    );
    await client.putManifest('bench/big', 'v1', 'application/vnd.oci.image.manifest.v1+json', manifest);
    if (sha256Digest(manifest) !== (await client.headManifest('bench/big', 'v1'))?.digest) throw new Error('the 1 GiB image did not land');

    // The same registry, config and storage, on a TCP port of its own: no relay in between.
    const directPort = await freePort();
    const embedded = berth.services.registry.embedded!;
    direct = spawn(embedded.binary, ['serve', embedded.configFile], {
      stdio: 'ignore',
      env: { ...process.env, REGISTRY_HTTP_NET: 'tcp', REGISTRY_HTTP_ADDR: `127.0.0.1:${directPort}` },
    });
    while (!(await fetch(`http://127.0.0.1:${directPort}/v2/`).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 50));

    const token = (await signer.sign('bench', parseScopes(['repository:bench/big:pull']))).token;
    const pull = async (host: string): Promise<number> => {
      const out = join('/dev/shm', `berth-bench-pull-${process.pid}`);
      await rm(out, { recursive: true, force: true });
      const started = performance.now();
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-registry-token', token, `docker://${host}/bench/big:v1`, `dir:${out}`]);
      const ms = performance.now() - started;
      await rm(out, { recursive: true, force: true });
      return ms;
    };
    const berthHost = new URL(embedded.url).host;
    const berthRuns: number[] = [];
    const directRuns: number[] = [];
    // A warm-up each, then in turns, so that both see the same page cache and machine load.
    await pull(berthHost);
    await pull(`127.0.0.1:${directPort}`);
    for (let round = 0; round < PULL_ROUNDS; round++) {
      berthRuns.push(await pull(berthHost));
      directRuns.push(await pull(`127.0.0.1:${directPort}`));
    }
    return { berthMs: median(berthRuns), directMs: median(directRuns) };
  } finally {
    if (direct?.exitCode === null) {
      direct.kill('SIGTERM');
      await once(direct, 'exit');
    }
    await berth.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

try {
  const { registryId, token } = await seed();
  // Every round starts from the seeded storage: berth's is put back before each of its jobs, and
  // each bare run gets a copy written out beforehand. Turns alternate, as the machine's load varies.
  const pristine = join(root, 'pristine');
  await cp(join(dataDir, 'registry'), pristine, { recursive: true });
  const copies = [];
  for (let round = 0; round < GC_ROUNDS; round++) copies.push(await storageCopy(`bare-${round}`));
  const bareRuns: Awaited<ReturnType<typeof bare>>[] = [];
  const berthRuns: Awaited<ReturnType<typeof withBerth>>[] = [];
  for (let round = 0; round < GC_ROUNDS; round++) {
    if (round > 0) {
      await rm(join(dataDir, 'registry'), { recursive: true });
      await cp(pristine, join(dataDir, 'registry'), { recursive: true });
    }
    await run('sync');
    bareRuns.push(await bare(copies[round]!));
    berthRuns.push(await withBerth(registryId, token));
  }
  const plain = bareRuns[0]!;
  for (const { job } of berthRuns) {
    if (job.status !== 'SUCCEEDED') throw new Error(`the GC job ended ${job.status}: ${job.error}`);
    if (job.blobsDeleted !== plain.deleted || Number(job.bytesFreed) !== plain.freed) throw new Error('berth and the bare run disagree on what was collected');
  }
  const { job } = berthRuns[0]!;
  const berth = { ms: median(berthRuns.map((r) => r.ms)), windowMs: Math.max(...berthRuns.map((r) => r.windowMs)), events: berthRuns[0]!.events };
  const bareMs = median(bareRuns.map((r) => r.ms));
  console.log(`GC: ${job.blobsDeleted} of ${job.blobsTotal} blobs deleted, ${job.bytesFreed} bytes freed; read-only window up to ${seconds(berth.windowMs)}; ${berth.events} progress events`);
  console.log(`GC rounds (berth / bare): ${berthRuns.map((r, i) => `${seconds(r.ms)} / ${seconds(bareRuns[i]!.ms)}`).join(', ')}`);
  const pull = await relayPull();
  console.log('');
  report({ figure: `GC job, mutation to SUCCEEDED, vs bare garbage-collect (3,000 blobs; median of ${GC_ROUNDS} each)`, berth: berth.ms / 1000, baseline: bareMs / 1000, unit: 's', goal: { max: GC_GOAL } });
  report({
    figure: 'skopeo pull of 1 GiB of layers through berth’s registry port vs straight from the registry (median of 3)',
    berth: pull.berthMs / 1000,
    baseline: pull.directMs / 1000,
    unit: 's',
    goal: { max: PULL_GOAL },
  });
} finally {
  await database.drop();
}
// The WebAssembly schema engine leaves timers behind.
process.exit(0);
