// berth answering one nested query over 3 registries × 10 repositories × 5 tags with every content
// field, next to the floor: the same V2 calls made directly with RegistryClient, in the same run.
// Run with `npx tsx bench/nested-query.ts`; it prints the wall times, the calls and the ratio.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startBerth } from '../src/app.js';
import { issueApiToken } from '../src/auth/api-tokens.js';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db/client.js';
import { deployMigrations } from '../src/db/migrations.js';
import { RegistryClient } from '../src/registry/v2/client.js';
import type { BackendCallSummary } from '../src/registry/remote/live-loaders.js';
import { signedTokens } from '../src/registry/hosted/hosted-backend.js';
import { bearerTokens } from '../src/registry/v2/auth.js';
import { NESTED_CONTENT_QUERY } from '../test/support/content.js';
import { buildImage, pushArtifact } from '../test/support/oci-images.js';
import { freePort } from '../test/support/registry-process.js';

const REGISTRIES = 3;
const REPOSITORIES = 10;
const TAGS = 5;
const ITERATIONS = 20;


const root = await mkdtemp(join(tmpdir(), 'berth-bench-nested-'));
const dataDir = join(root, 'berth');
const databaseUrl = `file:${join(dataDir, 'berth.db')}`;
await mkdir(dataDir, { recursive: true });
await deployMigrations(databaseUrl);
const db = createDb(databaseUrl);
const port = await freePort();
const config = loadConfig({
  DATABASE_URL: databaseUrl,
  BERTH_DATA_DIR: dataDir,
  BERTH_PORT: String(port),
  BERTH_REGISTRY_PORT: String(await freePort()),
});
const berth = await startBerth(config, db, pino({ level: 'warn' }));

try {
  const admin = await db.user.create({ data: { name: 'bench', isAdmin: true } });
  const { secret: token } = await issueApiToken(db, berth.services.serverKey, { userId: admin.id, name: 'bench' });
  const namespace = await db.namespace.create({ data: { slug: 'bench', name: 'Bench' } });
  const { client, signer } = berth.services.registry;
  const seeded = performance.now();
  for (let r = 0; r < REGISTRIES; r++) {
    const slug = `bench${r}`;
    await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: slug, slug, quotaBytes: 1_000_000_000n } });
    await Promise.all(
      Array.from({ length: REPOSITORIES }, async (_, i) => {
        for (let t = 0; t < TAGS; t++) await pushArtifact(client, `${slug}/repo${i}`, `v${t}`, buildImage({ layerBytes: 512 }));
      }),
    );
  }
  const images = REGISTRIES * REPOSITORIES * TAGS;
  while ((await db.contentTag.count()) < images) await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`seeded ${images} images in ${REGISTRIES * REPOSITORIES} repositories, notifications recorded, in ${seconds(performance.now() - seeded)}`);

  /** One query through berth's HTTP endpoint; `cold` empties the cross-request digest cache first. */
  const throughBerth = async (cold: boolean): Promise<{ ms: number; calls: BackendCallSummary }> => {
    if (cold) berth.services.contentCache.clear();
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-berth-debug': 'calls' },
      body: JSON.stringify({ query: NESTED_CONTENT_QUERY, variables: { slug: 'bench' } }),
    });
    const body = (await response.json()) as { errors?: unknown[]; extensions: { backendCalls: BackendCallSummary } };
    const ms = performance.now() - started;
    if (body.errors) throw new Error(`the query failed: ${JSON.stringify(body.errors)}`);
    return { ms, calls: body.extensions.backendCalls };
  };

  // The floor: the calls berth makes, each as early as its input is known, with the same client settings.
  const direct = new RegistryClient({ baseUrl: berth.services.registry.embedded!.url, auth: bearerTokens(signedTokens(signer, 'berth')) });
  const floor = async (withConfigs: boolean): Promise<{ ms: number; calls: number }> => {
    const before = direct.calls;
    const started = performance.now();
    const paths: string[] = [];
    for await (const path of direct.catalog()) paths.push(path);
    await Promise.all(
      paths.map(async (path) => {
        const tags = await direct.listTags(path);
        await Promise.all(
          tags.map(async (tag) => {
            const { manifest } = await direct.getManifest(path, tag);
            if (withConfigs && manifest.kind === 'image') await direct.getBlobJson(path, manifest.config.digest);
          }),
        );
      }),
    );
    return { ms: performance.now() - started, calls: direct.calls - before };
  };

  // Warm-up: tokens minted, connections open, code paths compiled.
  await throughBerth(true);
  await floor(true);

  const runs = { berthCold: [] as number[], berthWarm: [] as number[], floorCold: [] as number[], floorWarm: [] as number[] };
  let coldCalls: BackendCallSummary | undefined;
  let warmCalls: BackendCallSummary | undefined;
  let floorCalls = { cold: 0, warm: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const cold = await throughBerth(true);
    runs.berthCold.push(cold.ms);
    coldCalls = cold.calls;
    const warm = await throughBerth(false);
    runs.berthWarm.push(warm.ms);
    warmCalls = warm.calls;
    const floorCold = await floor(true);
    runs.floorCold.push(floorCold.ms);
    const floorWarm = await floor(false);
    runs.floorWarm.push(floorWarm.ms);
    floorCalls = { cold: floorCold.calls, warm: floorWarm.calls };
  }

  console.log(`\n${ITERATIONS} runs each, median (mean) wall time per query`);
  console.log(`berth, digest cache emptied    ${summary(runs.berthCold)}   ${coldCalls!.total} backend calls ${JSON.stringify(coldCalls)}`);
  console.log(`floor, same calls              ${summary(runs.floorCold)}   ${floorCalls.cold} calls`);
  console.log(`berth, digest cache warm       ${summary(runs.berthWarm)}   ${warmCalls!.total} backend calls (configs from the cache)`);
  console.log(`floor, same calls              ${summary(runs.floorWarm)}   ${floorCalls.warm} calls`);
  console.log(`\nratio berth / floor: ${(median(runs.berthCold) / median(runs.floorCold)).toFixed(2)} cold, ${(median(runs.berthWarm) / median(runs.floorWarm)).toFixed(2)} warm`);
} finally {
  await berth.close();
  await db.$disconnect();
  await rm(root, { recursive: true, force: true });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function summary(values: number[]): string {
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  return `${median(values).toFixed(1).padStart(7)} ms (${mean.toFixed(1)} ms)`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
