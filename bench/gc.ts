// berth's garbage collection job against bare `docker-registry garbage-collect`, on identical copies
// of one storage: 200 repositories × 5 images (3,000 blobs), 3 images of 5 deleted per repository.
// Run with `npx tsx bench/gc.ts`; it prints both wall times, their ratio and the progress events.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startBerth } from '../src/app.js';
import { issueApiToken } from '../src/auth/api-tokens.js';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db/client.js';
import { deployMigrations } from '../src/db/migrations.js';
import type { GcJob } from '../src/generated/prisma/client.js';
import { buildImage, pushArtifact } from '../test/support/oci-images.js';
import { fileBytes } from '../test/support/gc.js';
import { freePort } from '../test/support/registry-process.js';

const REPOSITORIES = 200;
const IMAGES_PER_REPOSITORY = 5;
const DELETED_PER_REPOSITORY = 3;
const SEED_CONCURRENCY = 16;

const run = promisify(execFile);
const log = pino({ level: 'warn' });
const root = await mkdtemp(join(tmpdir(), 'berth-bench-gc-'));
const dataDir = join(root, 'berth');
const databaseUrl = `file:${join(dataDir, 'berth.db')}`;
await mkdir(dataDir, { recursive: true });
await deployMigrations(databaseUrl);
const db = createDb(databaseUrl);
const config = loadConfig({
  DATABASE_URL: databaseUrl,
  BERTH_DATA_DIR: dataDir,
  BERTH_PORT: String(await freePort()),
  BERTH_REGISTRY_PORT: String(await freePort()),
});

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

/** The bare command on a copy of the storage, with berth's config pointed at the copy. */
async function bare(): Promise<{ ms: number; freed: number; deleted: number }> {
  const storage = join(root, 'bare', 'registry');
  await cp(join(dataDir, 'registry'), storage, { recursive: true });
  const original = await readFile(join(dataDir, 'registry-config.yml'), 'utf8');
  const configFile = join(root, 'bare', 'config.yml');
  await writeFile(configFile, original.replace(/rootdirectory: .*/, `rootdirectory: ${JSON.stringify(storage)}`));
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

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

try {
  const { registryId, token } = await seed();
  const plain = await bare();
  const berth = await withBerth(registryId, token);
  const { job } = berth;
  if (job.status !== 'SUCCEEDED') throw new Error(`the GC job ended ${job.status}: ${job.error}`);
  console.log(`bare garbage-collect: ${seconds(plain.ms)}  (${plain.deleted} blobs deleted, ${plain.freed} bytes freed)`);
  console.log(
    `berth GC job:         ${seconds(berth.ms)}  (${job.blobsDeleted} of ${job.blobsTotal} blobs deleted, ${job.bytesFreed} bytes freed; read-only window up to ${seconds(berth.windowMs)})`,
  );
  console.log(`ratio berth / bare:   ${(berth.ms / plain.ms).toFixed(2)}`);
  console.log(`progress events:      ${berth.events} in ${seconds(berth.ms)} = ${(berth.events / (berth.ms / 1000)).toFixed(1)} per second`);
  if (job.blobsDeleted !== plain.deleted || Number(job.bytesFreed) !== plain.freed) throw new Error('berth and the bare run disagree on what was collected');
} finally {
  await db.$disconnect();
  await rm(root, { recursive: true, force: true });
}
// The WebAssembly schema engine leaves timers behind.
process.exit(0);
