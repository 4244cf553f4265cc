// How long /auth/token takes to refuse wrong credentials, for an account that exists and for one
// that does not: equal times mean the answer's timing tells nobody which robot slugs or user
// names exist. Run with `npx tsx bench/login-timing.ts`; it prints the medians, and as a figure
// the slower of the two robot cases against the faster.
import pino from 'pino';
import { startBerth } from '../src/app.js';
import { issueApiToken } from '../src/auth/api-tokens.js';
import { generateRobotCredentials } from '../src/registry/hosted/robot-accounts.js';
import { report } from './report.js';
import { scratchDatabase } from './support/databases.js';
import { inProcessConfig } from './support/in-process-config.js';

const ROUNDS = 40;
/** Either way round, a difference past this would tell existing accounts apart. */
const TIMING_GOAL = 1.1;

const database = await scratchDatabase('SQLite', 'login');
const { db } = database;
const config = await inProcessConfig(database);
const port = config.port;
const berth = await startBerth(config, db, pino({ level: 'warn' }));

try {
  const namespace = await db.namespace.create({ data: { slug: 'bench', name: 'Bench' } });
  const registry = await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: 'bench', slug: 'bench' } });
  const { secretHash } = await generateRobotCredentials('bench', config.registry.publicHost);
  await db.robotAccount.create({ data: { registryId: registry.id, username: 'robot$bench', secretHash } });
  const user = await db.user.create({ data: { name: 'bench-user' } });
  await issueApiToken(db, berth.services.serverKey, { userId: user.id, name: 'bench' });

  const cases: [string, string][] = [
    ['existing robot, wrong password', 'robot$bench'],
    ['unknown robot', 'robot$nosuchslug'],
    ['existing user, wrong token', 'bench-user'],
    ['unknown user', 'nosuchuser'],
  ];
  const times = new Map<string, number[]>(cases.map(([label]) => [label, []]));
  // Interleaved, so drift on a shared machine hits every case alike. Past the failure limit the
  // answer is 429, after the same check, so the times stay comparable.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, username] of cases) {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/auth/token?service=berth-registry&scope=repository:bench/app:pull`, {
        headers: { authorization: `Basic ${Buffer.from(`${username}:wrong-${round}`).toString('base64')}` },
      });
      await response.arrayBuffer();
      times.get(label)!.push(performance.now() - started);
    }
  }
  for (const [label, values] of times) console.log(`${label.padEnd(32)} median ${median(values).toFixed(1).padStart(6)} ms`);
  console.log('');
  const robots = [median(times.get('existing robot, wrong password')!), median(times.get('unknown robot')!)];
  report({
    figure: `/auth/token refusing a robot login: the slower of existing and unknown account vs the faster (median of ${ROUNDS})`,
    berth: Math.max(...robots),
    baseline: Math.min(...robots),
    unit: 'ms',
    goal: { max: TIMING_GOAL },
  });
} finally {
  await berth.close();
  await database.drop();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
