// 1,000 graphql-ws subscribers on one GC job: the spread between the first and the last receipt of
// each progress event, and the resident memory each idle subscriber costs the server, next to
// graphql-yoga alone serving the same subscription from the same pub/sub, measured in the same run.
// berth (src/main.ts) and yoga alone each run in a process of their own, with REDIS_URL; this process
// holds the subscribers (one connection each, as 10 users) and publishes the events through Redis,
// as a berth instance running the GC would. Run with `npx tsx bench/fanout.ts`.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { issueApiToken } from '../src/auth/api-tokens.js';
import type { GcJob } from '../src/generated/prisma/client.js';
import { createBerthPubSub } from '../src/pubsub.js';
import { freePort } from '../test/support/registry-process.js';
import { report } from './report.js';
import { scratchDatabase } from './support/databases.js';
import { benchServerKey, startBerthProcess } from './support/berth-process.js';
import { residentBytes, type ServerProcess, startServerProcess } from './support/processes.js';

const SUBSCRIBERS = Number(process.env['BENCH_SUBSCRIBERS'] ?? 1_000);
const USERS = 10;
const EVENTS = 100;
const EVENT_INTERVAL_MS = 100;
const CONNECT_BATCH = 50;
const SPREAD_GOAL_MS = 50;
const RSS_GOAL_KB = 50;
const REDIS_URL = process.env['BERTH_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const SUBSCRIPTION = 'subscription ($id: ID!) { gcJobProgress(id: $id) { id status phase percent blobsTotal blobsMarked blobsDeleted bytesFreed } }';

interface Progress {
  status: string;
  blobsMarked: number;
}

interface FanOut {
  /** Per event, ms between the first and the last subscriber receiving it. */
  spreads: number[];
  rssPerSubscriberKb: number;
}

/** Subscribes SUBSCRIBERS connections, publishes EVENTS events and a terminal one, and times every receipt. */
async function fanOut(server: ServerProcess, jobId: string, subscriptionId: string, tokens: (string | null)[], job: GcJob): Promise<FanOut> {
  const pubsub = createBerthPubSub(REDIS_URL);
  const receipts = Array.from({ length: EVENTS + 1 }, () => [] as number[]);
  const sockets: WebSocket[] = [];
  const ended: Promise<void>[] = [];
  try {
    await sleep(1_000);
    const rssBefore = await residentBytes(server.pid);
    for (let start = 0; start < SUBSCRIBERS; start += CONNECT_BATCH) {
      const subscribed: Promise<void>[] = [];
      for (let i = start; i < Math.min(start + CONNECT_BATCH, SUBSCRIBERS); i++) {
        const token = tokens[i % tokens.length]!;
        let first: () => void = () => {};
        subscribed.push(new Promise((resolve) => (first = resolve)));
        ended.push(
          subscribe(server.url.replace('http:', 'ws:') + '/graphql', token, subscriptionId, (at, { status, blobsMarked }) => {
            first();
            if (blobsMarked > 0) receipts[blobsMarked - 1]!.push(at);
            // yoga alone never completes the stream: its subscribers leave after the terminal event.
            return status === 'SUCCEEDED';
          }).then((socket) => void sockets.push(socket)),
        );
      }
      await Promise.all(subscribed);
    }
    await sleep(2_000);
    const rssPerSubscriberKb = ((await residentBytes(server.pid)) - rssBefore) / 1024 / SUBSCRIBERS;
    for (let event = 1; event <= EVENTS + 1; event++) {
      const last = event === EVENTS + 1;
      pubsub.publish('gcJob:progress', jobId, { ...job, status: last ? 'SUCCEEDED' : 'RUNNING', phase: last ? 'SWEEPING' : 'MARKING', percent: event / (EVENTS + 1) * 100, blobsMarked: event, finishedAt: last ? new Date() : null });
      await sleep(EVENT_INTERVAL_MS);
    }
    await Promise.all(ended);
    const incomplete = receipts.findIndex((times) => times.length !== SUBSCRIBERS);
    if (incomplete >= 0) throw new Error(`event ${incomplete + 1} reached ${receipts[incomplete]!.length} of ${SUBSCRIBERS} subscribers`);
    return { spreads: receipts.map((times) => Math.max(...times) - Math.min(...times)), rssPerSubscriberKb };
  } finally {
    for (const socket of sockets) socket.terminate();
    await pubsub.close();
  }
}

/**
 * One subscriber on a connection of its own, speaking graphql-transport-ws with a bare WebSocket:
 * the receipt time is taken as the frame arrives, so the client's own work adds as little as can
 * be to the spread. Resolves with the socket once `onEvent` says the stream is over, or it completes.
 */
function subscribe(url: string, token: string | null, id: string, onEvent: (at: number, progress: Progress) => boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
    socket.on('error', reject);
    socket.on('close', (code, reason) => reject(new Error(`closed with ${code} ${reason.toString()}`)));
    socket.on('message', (data) => {
      const at = performance.now();
      const message = JSON.parse(data.toString()) as { type: string; payload?: { data?: { gcJobProgress: Progress }; errors?: unknown } };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { id } } }));
      else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      else if (message.type === 'complete') resolve(socket);
      else if (message.type === 'next' && message.payload?.data) {
        if (onEvent(at, message.payload.data.gcJobProgress)) resolve(socket);
      } else reject(new Error(`a subscriber got ${JSON.stringify(message)}`));
    });
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const database = await scratchDatabase('SQLite', 'fanout');
const { db } = database;
try {
  const namespace = await db.namespace.create({ data: { slug: 'bench', name: 'Bench' } });
  const registry = await db.registry.create({ data: { namespaceId: namespace.id, kind: 'HOSTED', name: 'bench', slug: 'bench' } });
  const serverKey = await benchServerKey(database);
  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const user = await db.user.create({ data: { name: `watcher${i}`, memberships: { create: { namespaceId: namespace.id, role: 'VIEWER' } } } });
    tokens.push((await issueApiToken(db, serverKey, { userId: user.id, name: 'bench' })).secret);
  }

  const berth = await startBerthProcess(database, { REDIS_URL });
  let berthRun: FanOut;
  try {
    // A job as a running GC leaves it: the subscribers' snapshot, then the events published for it.
    const job = await db.gcJob.create({ data: { registryId: registry.id, status: 'RUNNING', phase: 'MARKING', blobsTotal: 3_000, startedAt: new Date() } });
    berthRun = await fanOut(berth, job.id, encodeGlobalID('GcJob', job.id), tokens, job);
  } finally {
    await berth.stop();
  }

  const yogaPort = await freePort();
  const yoga = await startServerProcess('bench/support/yoga-alone.ts', { port: yogaPort, args: [String(yogaPort)], readyPath: '/health', env: { REDIS_URL } });
  let yogaRun: FanOut;
  try {
    const job = await db.gcJob.create({ data: { registryId: registry.id, status: 'RUNNING', phase: 'MARKING', blobsTotal: 3_000 } });
    yogaRun = await fanOut(yoga, job.id, job.id, [null], job);
  } finally {
    await yoga.stop();
  }

  console.log(`\n${SUBSCRIBERS} subscribers, ${EVENTS + 1} events ${EVENT_INTERVAL_MS} ms apart; spread between first and last receipt of an event:`);
  for (const [label, run] of [['berth', berthRun], ['yoga alone', yogaRun]] as const) {
    console.log(`${label.padEnd(11)} p50 ${percentile(run.spreads, 50).toFixed(1)} ms, p99 ${percentile(run.spreads, 99).toFixed(1)} ms, max ${Math.max(...run.spreads).toFixed(1)} ms; ${run.rssPerSubscriberKb.toFixed(1)} KB RSS per idle subscriber`);
  }
  console.log('');
  report({ figure: `${SUBSCRIBERS} graphql-ws subscribers on one GC job: p99 spread first→last receipt vs yoga alone`, berth: percentile(berthRun.spreads, 99), baseline: percentile(yogaRun.spreads, 99), unit: 'ms', goal: { atMost: SPREAD_GOAL_MS } });
  report({ figure: `${SUBSCRIBERS} idle graphql-ws subscribers: server RSS per subscriber vs yoga alone`, berth: berthRun.rssPerSubscriberKb, baseline: yogaRun.rssPerSubscriberKb, unit: 'KB', goal: { atMost: RSS_GOAL_KB } });
} finally {
  await database.drop();
}
// The WebAssembly schema engine leaves timers behind.
process.exit(0);
