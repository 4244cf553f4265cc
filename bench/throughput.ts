// Requests per second and p99 latency of small queries through berth's HTTP endpoint, next to
// graphql-yoga alone serving the same response shape from memory, measured in the same run, on
// SQLite and on PostgreSQL. autocannon: 50 connections for 10 s, POST /graphql; the load generator
// (this process), berth (src/main.ts) and yoga alone each run in a process of their own. Each
// figure is the median of ROUNDS rounds, berth and yoga taking turns within each round.
// Run with `npx tsx bench/throughput.ts`.
import autocannon from 'autocannon';
import { issueApiToken } from '../src/auth/api-tokens.js';
import { freePort } from '../test/support/registry-process.js';
import { format, report } from './report.js';
import { type Provider, scratchDatabase } from './support/databases.js';
import { benchServerKey, startBerthProcess } from './support/berth-process.js';
import { startServerProcess } from './support/processes.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = 50;
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const NAMESPACES = 12;
const QUERY_GOAL = 0.5;
const TYPENAME_GOAL = 0.7;
const P99_GOAL_MS = 50;

const SMALL_QUERY = '{ namespaces(first: 10) { totalCount nodes { slug name } } }';
const TYPENAME_QUERY = '{ __typename }';

interface Load {
  reqPerSec: number;
  p99: number;
}

/** One autocannon run; a non-2xx answer or an error fails the benchmark rather than flattering it. */
async function load(url: string, query: string, token: string | null): Promise<Load> {
  const result = await autocannon({
    url: `${url}/graphql`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { reqPerSec: result.requests.average, p99: result.latency.p99 };
}

/** The answer must be the one expected before its speed means anything. */
async function expectAnswer(url: string, query: string, token: string | null, check: (data: Record<string, unknown>) => boolean): Promise<void> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
  if (!body.data || body.errors || !check(body.data)) throw new Error(`${url} answered ${query} with ${JSON.stringify(body)}`);
}

async function measure(provider: Provider): Promise<void> {
  const database = await scratchDatabase(provider, 'throughput');
  const { db } = database;
  try {
    // A member of NAMESPACES namespaces, next to as many it must not see: tenancy stays in the query.
    const user = await db.user.create({ data: { name: 'bench' } });
    for (let i = 0; i < NAMESPACES * 2; i++) {
      const member = i % 2 === 0;
      await db.namespace.create({
        data: {
          slug: `bench-${String(i).padStart(2, '0')}`,
          name: `Bench namespace ${i}`,
          ...(member ? { memberships: { create: { userId: user.id, role: 'VIEWER' } } } : {}),
        },
      });
    }
    const serverKey = await benchServerKey(database);
    const { secret: token } = await issueApiToken(db, serverKey, { userId: user.id, name: 'bench' });

    const berth = await startBerthProcess(database);
    const yogaPort = await freePort();
    const yoga = await startServerProcess('bench/support/yoga-alone.ts', { port: yogaPort, args: [String(yogaPort)], readyPath: '/health' });
    try {
      const tenNamespaces = (data: Record<string, unknown>) => {
        const namespaces = data['namespaces'] as { totalCount: number; nodes: unknown[] };
        return namespaces.totalCount === NAMESPACES && namespaces.nodes.length === 10;
      };
      await expectAnswer(berth.url, SMALL_QUERY, token, tenNamespaces);
      await expectAnswer(yoga.url, SMALL_QUERY, null, tenNamespaces);

      const rows = {
        yogaQuery: () => load(yoga.url, SMALL_QUERY, null),
        berthQuery: () => load(berth.url, SMALL_QUERY, token),
        yogaTypename: () => load(yoga.url, TYPENAME_QUERY, null),
        berthTypename: () => load(berth.url, TYPENAME_QUERY, token),
        berthAnonymousTypename: () => load(berth.url, TYPENAME_QUERY, null),
      };
      const runs = Object.fromEntries(Object.keys(rows).map((row) => [row, [] as Load[]])) as Record<keyof typeof rows, Load[]>;
      // Warm-up: JIT, connection pools, caches.
      await autocannon({ url: `${berth.url}/graphql`, connections: 10, duration: 2, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: SMALL_QUERY }) });
      await autocannon({ url: `${yoga.url}/graphql`, connections: 10, duration: 2, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: SMALL_QUERY }) });
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [row, run] of Object.entries(rows) as [keyof typeof rows, () => Promise<Load>][]) runs[row].push(await run());
        console.log(`${provider} round ${round}/${ROUNDS}: ${Object.entries(runs).map(([row, loads]) => `${row} ${Math.round(loads.at(-1)!.reqPerSec)} req/s p99 ${loads.at(-1)!.p99} ms`).join('; ')}`);
      }
      const median = (row: keyof typeof rows) => ({ reqPerSec: medianOf(runs[row].map((r) => r.reqPerSec)), p99: medianOf(runs[row].map((r) => r.p99)) });
      const table: [string, Load][] = [
        ['graphql-yoga alone, same response shape from memory', median('yogaQuery')],
        ['graphql-yoga alone, `{ __typename }`', median('yogaTypename')],
        ['berth, anonymous `{ __typename }`', median('berthAnonymousTypename')],
        ['berth, authenticated `{ __typename }`', median('berthTypename')],
        [`berth, authenticated \`${SMALL_QUERY}\``, median('berthQuery')],
      ];
      console.log(`\n${provider}, ${CONNECTIONS} connections × ${DURATION_S} s, median of ${ROUNDS} rounds`);
      console.log('| request | req/s | p99 |\n| --- | --- | --- |');
      for (const [label, { reqPerSec, p99 }] of table) console.log(`| ${label} | ${format(reqPerSec, 'req/s')} | ${p99} ms |`);
      console.log('');
      const yogaQuery = median('yogaQuery');
      const berthQuery = median('berthQuery');
      report({ figure: `${provider}: authenticated namespaces(first: 10) query, req/s vs yoga alone (median of ${ROUNDS})`, berth: berthQuery.reqPerSec, baseline: yogaQuery.reqPerSec, unit: 'req/s', goal: { min: QUERY_GOAL } });
      report({ figure: `${provider}: authenticated namespaces(first: 10) query, p99 at ${CONNECTIONS} connections vs yoga alone`, berth: berthQuery.p99, baseline: yogaQuery.p99, unit: 'ms', goal: { atMost: P99_GOAL_MS } });
      report({ figure: `${provider}: authenticated { __typename }, req/s vs yoga alone's { __typename } (median of ${ROUNDS})`, berth: median('berthTypename').reqPerSec, baseline: median('yogaTypename').reqPerSec, unit: 'req/s', goal: { min: TYPENAME_GOAL } });
    } finally {
      await berth.stop();
      await yoga.stop();
    }
  } finally {
    await database.drop();
  }
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const providers = (process.env['BENCH_PROVIDERS']?.split(',') ?? ['SQLite', 'PostgreSQL']) as Provider[];
for (const provider of providers) await measure(provider);
// The WebAssembly schema engine leaves timers behind.
process.exit(0);
