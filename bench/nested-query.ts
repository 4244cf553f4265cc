// berth answering one nested query over a registry of 20 repositories × 10 tags with every content
// field, against the floor: the V2 calls the same data needs, made directly with RegistryClient (one
// catalog walk, one tag list per repository, one manifest and one config per tag), in the same run.
// Then 5,000 repositories of other registries join the same backend, and everything is measured
// again: hosted content comes from the content index, so others' repositories must not slow it.
// Run with `npx tsx bench/nested-query.ts`.
import { join } from 'node:path';
import pino from 'pino';
import { startBerth, type RunningBerth } from '../src/app.js';
import { issueApiToken } from '../src/auth/api-tokens.js';
import { type Db } from '../src/db/client.js';
import { quotaRefusals } from '../src/registry/hosted/quota.js';
import { BERTH_SUBJECT, signedTokens } from '../src/registry/hosted/hosted-backend.js';
import type { BackendCallSummary } from '../src/registry/remote/live-loaders.js';
import { bearerTokens } from '../src/registry/v2/auth.js';
import { RegistryClient } from '../src/registry/v2/client.js';
import { NESTED_CONTENT_QUERY } from '../test/support/content.js';
import { writeLargeStorage } from '../test/support/large-storage.js';
import { buildImage, pushArtifact } from '../test/support/oci-images.js';
import { report } from './report.js';
import { scratchDatabase } from './support/databases.js';
import { inProcessConfig } from './support/in-process-config.js';

const REPOSITORIES = 20;
const TAGS = 10;
const OTHER_REGISTRIES = 10;
const OTHER_REPOSITORIES_EACH = 500;
const ITERATIONS = 15;

const database = await scratchDatabase('SQLite', 'nested');
const { db, dataDir } = database;
const config = await inProcessConfig(database);
const port = config.port;
const log = pino({ level: 'warn' });

interface Timing {
  ms: number;
  calls: BackendCallSummary;
}

/** One query through berth's HTTP endpoint, reporting the V2 calls it made. */
async function throughBerth(token: string): Promise<Timing> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-berth-debug': 'calls' },
    body: JSON.stringify({ query: NESTED_CONTENT_QUERY, variables: { slug: 'bench', registries: 1, repositories: REPOSITORIES, tags: TAGS } }),
  });
  const body = (await response.json()) as { data?: { namespace: { registries: { nodes: { repositories: { nodes: { tags: { nodes: unknown[] } }[] } }[] } } }; errors?: unknown[]; extensions: { backendCalls: BackendCallSummary } };
  const ms = performance.now() - started;
  if (body.errors) throw new Error(`the query failed: ${JSON.stringify(body.errors)}`);
  const tags = body.data!.namespace.registries.nodes[0]!.repositories.nodes.reduce((total, repository) => total + repository.tags.nodes.length, 0);
  if (tags !== REPOSITORIES * TAGS) throw new Error(`the query answered ${tags} tags, not ${REPOSITORIES * TAGS}`);
  return { ms, calls: body.extensions.backendCalls };
}

/**
 * The same data straight from the registry, each call as early as its input is known, with a client
 * that caches nothing. It reads as berth does, so the registry's pull notifications of these reads
 * are dropped by berth's hook instead of recorded while berth is being measured.
 */
async function floor(berth: RunningBerth): Promise<{ ms: number; calls: number }> {
  const client = new RegistryClient({ baseUrl: berth.services.registry.embedded!.url, auth: bearerTokens(signedTokens(berth.services.registry.signer, BERTH_SUBJECT)) });
  const started = performance.now();
  const paths: string[] = [];
  for await (const path of client.catalog()) if (path.startsWith('bench/')) paths.push(path);
  await Promise.all(
    paths.map(async (path) => {
      const tags = await client.listTags(path);
      await Promise.all(
        tags.map(async (tag) => {
          const { manifest } = await client.getManifest(path, tag);
          if (manifest.kind === 'image') await client.getBlobJson(path, manifest.config.digest);
        }),
      );
    }),
  );
  return { ms: performance.now() - started, calls: client.calls };
}

/** Cold: the first query after berth started. Warm: the median of the next ones. Floor: the median of as many direct runs. */
async function measure(token: string): Promise<{ cold: Timing; warm: Timing; floor: { ms: number; calls: number } }> {
  const berth = await startBerth(config, db, log, { reconcileIntervalMs: 3_600_000 });
  try {
    await berth.services.reconciler.runNow();
    const cold = await throughBerth(token);
    const warm: Timing[] = [];
    const direct: { ms: number; calls: number }[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      warm.push(await throughBerth(token));
      direct.push(await floor(berth));
    }
    return { cold, warm: median(warm, (t) => t.ms), floor: median(direct, (t) => t.ms) };
  } finally {
    await berth.close();
  }
}

async function seed(): Promise<string> {
  const berth = await startBerth(config, db, log);
  try {
    const admin = await db.user.create({ data: { name: 'bench', isAdmin: true } });
    const token = (await issueApiToken(db, berth.services.serverKey, { userId: admin.id, name: 'bench' })).secret;
    const namespace = await db.namespace.create({ data: { slug: 'bench', name: 'Bench' } });
    await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: 'bench', slug: 'bench', quotaBytes: 1_000_000_000n } });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: REPOSITORIES }, async (_, i) => {
        for (let t = 0; t < TAGS; t++) await pushArtifact(berth.services.registry.client, `bench/repo${i}`, `v${t}`, buildImage({ layerBytes: 512 }));
      }),
    );
    while ((await db.contentTag.count()) < REPOSITORIES * TAGS) await new Promise((resolve) => setTimeout(resolve, 50));
    console.log(`seeded ${REPOSITORIES * TAGS} images in ${REPOSITORIES} repositories through the V2 API, notifications recorded, in ${seconds(performance.now() - started)}`);
    return token;
  } finally {
    await berth.close();
  }
}

/** Other tenants' registries on the same backend, written into its storage while berth is stopped. */
async function addOthers(): Promise<void> {
  const namespace = await db.namespace.create({ data: { slug: 'others', name: 'Others' } });
  const image = buildImage();
  for (let r = 0; r < OTHER_REGISTRIES; r++) {
    await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: `other${r}`, slug: `other${r}` } });
    await writeLargeStorage(join(dataDir, 'registry'), `other${r}/repo`, OTHER_REPOSITORIES_EACH, image);
  }
}

/** Prisma operations the token endpoint's quota check makes, counted through a client extension. */
async function quotaStatements(): Promise<number> {
  let statements = 0;
  const counting = db.$extends({
    query: {
      $allOperations: ({ args, query }) => {
        statements += 1;
        return query(args);
      },
    },
  }) as unknown as Db;
  await quotaRefusals(counting, new Map([['bench', 1_000_000_000n]]));
  return statements;
}

try {
  const token = await seed();
  const alone = await measure(token);
  await addOthers();
  const crowded = await measure(token);
  const statements = await quotaStatements();

  console.log('');
  for (const [label, run] of [['alone', alone], [`with ${(OTHER_REGISTRIES * OTHER_REPOSITORIES_EACH).toLocaleString('en')} other repositories`, crowded]] as const) {
    console.log(`${label}: floor ${run.floor.ms.toFixed(1)} ms (${run.floor.calls} V2 calls); berth cold ${run.cold.ms.toFixed(1)} ms (${run.cold.calls.total} V2 calls), warm ${run.warm.ms.toFixed(1)} ms (${run.warm.calls.total} V2 calls)`);
  }
  console.log(`quota check at the token endpoint: ${statements} SQL statement${statements === 1 ? '' : 's'}\n`);
  report({ figure: `nested query over ${REPOSITORIES} × ${TAGS}, warm, vs the direct V2 floor`, berth: crowded.warm.ms, baseline: crowded.floor.ms, unit: 'ms', goal: { max: 0.05 } });
  report({ figure: 'nested query, warm, with 5,000 other repositories on the backend vs without', berth: crowded.warm.ms, baseline: alone.warm.ms, unit: 'ms', goal: { max: 1.25 } });
  const calls = [alone.cold, alone.warm, crowded.cold, crowded.warm].reduce((total, t) => total + t.calls.total, 0);
  report({ figure: 'V2 calls of the nested query, cold and warm, alone and crowded, vs the direct V2 floor’s', berth: calls, baseline: alone.floor.calls + crowded.floor.calls, unit: 'calls', goal: { atMost: 0 } });
  report({ figure: 'SQL statements of the quota check at the token endpoint', berth: statements, baseline: 1, unit: 'statements', goal: { atMost: 1 } });
} finally {
  await database.drop();
}

function median<T>(values: T[], key: (value: T) => number): T {
  return [...values].sort((a, b) => key(a) - key(b))[Math.floor(values.length / 2)]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
