// berth importing an image from an outside registry (distribution with htpasswd on loopback) into a
// hosted registry, against `skopeo copy` between the same two registries, in the same run: rounds
// alternate, each into a repository of its own, medians compared. Goal: ≤ 1.1× skopeo.
// The image has a 200 MiB layer; berth runs in its own process, and its resident memory is sampled
// during each import: it must grow by less than 64 MiB (blobs stream, never held whole).
// Run with `npx tsx bench/import.ts`.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployMigrations } from '../src/db/migrations.js';
import type { Data } from '../test/support/app.js';
import { type BerthProcess, startBerthProcess } from '../test/support/berth-process.js';
import { buildImage, skopeoCopy, writeOciLayout } from '../test/support/oci-images.js';
import { freePort } from '../test/support/registry-process.js';
import { startHtpasswdRegistry } from '../test/support/remote-registries.js';
import { report } from './report.js';

const MiB = 1024 * 1024;
const LAYERS = [200 * MiB, 48 * MiB, 16 * MiB];
const ROUNDS = 3;
const MEMORY_LIMIT = 64 * MiB;

const root = await mkdtemp(join(tmpdir(), 'berth-bench-import-'));
const source = await startHtpasswdRegistry();
const adminToken = `berth_${randomBytes(24).toString('hex')}`;
const databaseUrl = `file:${join(root, 'berth.db')}`;
let berth: BerthProcess | undefined;

async function gql(query: string, variables: Record<string, unknown>): Promise<Data> {
  const response = await fetch(`${berth!.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Data; errors?: unknown[] };
  if (!body.data || body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Resident memory of a process, from /proc. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Runs `work` while sampling berth's resident memory; returns its time and the growth over the memory before. */
async function sampled<T>(work: () => Promise<T>): Promise<{ ms: number; growth: number; result: T }> {
  const pid = berth!.child.pid!;
  const before = await residentBytes(pid);
  let peak = before;
  const timer = setInterval(() => void residentBytes(pid).then((rss) => (peak = Math.max(peak, rss)), () => undefined), 20);
  const started = performance.now();
  try {
    const result = await work();
    return { ms: performance.now() - started, growth: peak - before, result };
  } finally {
    clearInterval(timer);
  }
}

try {
  // A fresh image each round: skopeo remembers where it has seen a blob and would mount it the second time.
  const pushSourceImage = async (round: number): Promise<number> => {
    const image = buildImage({ layerCount: 0, baseLayers: LAYERS.map((bytes) => buildImage({ layerBytes: bytes }).layers[0]!) });
    const layout = await writeOciLayout(join(root, `layout${round}`), 'v1', image);
    await skopeoCopy(layout.reference, `docker://${source.host}/library/big${round}:v1`, { destinationCreds: `${source.username}:${source.password}`, timeoutMs: 600_000 });
    await rm(join(root, `layout${round}`), { recursive: true, force: true });
    return image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
  };

  await deployMigrations(databaseUrl);
  const registryPort = await freePort();
  berth = await startBerthProcess({
    BERTH_DATA_DIR: join(root, 'berth'),
    BERTH_PORT: String(await freePort()),
    BERTH_REGISTRY_PORT: String(registryPort),
    DATABASE_URL: databaseUrl,
    BERTH_ADMIN_TOKEN: adminToken,
    BERTH_LOG_LEVEL: 'warn',
  });
  const namespace = (await gql('mutation ($input: CreateNamespaceInput!) { createNamespace(input: $input) { ... on CreateNamespacePayload { namespace { id } } } }', { input: { slug: 'bench', name: 'Bench' } })).createNamespace.namespace;
  const target = (await gql('mutation ($input: CreateRegistryInput!) { createRegistry(input: $input) { ... on CreateRegistryPayload { registry { id } } } }', { input: { namespaceId: namespace.id, name: 'bench', slug: 'bench' } })).createRegistry.registry;
  const connection = (
    await gql('mutation ($input: ConnectExternalRegistryInput!) { connectExternalRegistry(input: $input) { __typename ... on ConnectExternalRegistryPayload { registry { id } } ... on Error { message } } }', {
      input: { namespaceId: namespace.id, name: 'source', url: source.url, username: source.username, password: source.password },
    })
  ).connectExternalRegistry.registry;

  const berthImport = async (round: number) => {
    const job = (
      await gql('mutation ($input: ImportImageInput!) { importImage(input: $input) { ... on ImportImagePayload { job { id } } } }', {
        input: { sourceRegistryId: connection.id, sourceRepository: `library/big${round}`, reference: 'v1', targetRegistryId: target.id, targetRepository: `imported${round}` },
      })
    ).importImage.job;
    for (;;) {
      const { node } = await gql('query ($id: ID!) { node(id: $id) { ... on ImportJob { status error bytesCopied } } }', { id: job.id });
      if (node.status === 'SUCCEEDED') return node;
      if (node.status !== 'QUEUED' && node.status !== 'RUNNING') throw new Error(`import ${node.status}: ${node.error}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const skopeo = (round: number) =>
    skopeoCopy(`docker://${source.host}/library/big${round}:v1`, `docker://127.0.0.1:${registryPort}/bench/skopeo${round}:v1`, {
      sourceCreds: `${source.username}:${source.password}`,
      destinationCreds: `admin:${adminToken}`,
      timeoutMs: 600_000,
    });

  const berthRuns: { ms: number; growth: number }[] = [];
  const skopeoRuns: number[] = [];
  let total = 0;
  for (let round = 0; round < ROUNDS; round++) {
    total = await pushSourceImage(round);
    const first = round % 2 === 0;
    if (!first) skopeoRuns.push(await timed(() => skopeo(round)));
    const run = await sampled(() => berthImport(round));
    if (run.result.bytesCopied !== total) throw new Error(`berth copied ${run.result.bytesCopied} bytes, not ${total}`);
    berthRuns.push(run);
    if (first) skopeoRuns.push(await timed(() => skopeo(round)));
    console.log(`round ${round + 1}: berth ${(run.ms / 1000).toFixed(2)} s (resident memory +${(run.growth / MiB).toFixed(1)} MiB), skopeo ${(skopeoRuns.at(-1)! / 1000).toFixed(2)} s`);
  }
  console.log('');
  report({
    figure: `import of ${(total / MiB).toFixed(0)} MiB (${LAYERS.length} layers) from an outside registry vs skopeo copy between the same registries (median of ${ROUNDS})`,
    berth: median(berthRuns.map((run) => run.ms)) / 1000,
    baseline: median(skopeoRuns) / 1000,
    unit: 's',
    goal: { max: 1.1 },
  });
  report({
    figure: 'berth’s resident memory growth during an import with a 200 MiB layer, against the 64 MiB allowed (worst of the rounds)',
    berth: Math.max(...berthRuns.map((run) => run.growth)) / MiB,
    baseline: MEMORY_LIMIT / MiB,
    unit: 'MB',
    goal: { max: 1 },
  });
} finally {
  await berth?.stop();
  await source.dispose();
  await rm(root, { recursive: true, force: true });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
