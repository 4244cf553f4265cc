import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from './db/client.js';
import { GcStatus, ImportStatus } from './generated/prisma/enums.js';

/** Operation names are the client's to choose: past this many, new ones are counted as `other`. */
const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export type BackendKind = 'hosted' | 'remote';

/**
 * berth's Prometheus metrics: requests per operation, backend calls, GC and import jobs, live
 * subscriptions and connections, and Node's process metrics (event-loop lag among them). Job
 * figures are read from the database when scraped, so every instance reports the same totals.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation'>;
  private readonly requestSeconds: Histogram<'operation'>;
  private readonly backendCalls: Counter<'backend' | 'kind'>;
  private readonly subscriptions: Gauge;
  private readonly operationNames = new Set<string>();
  private webSocketConnections: () => number = () => 0;

  constructor(db: Db) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'berth_graphql_requests_total', help: 'GraphQL requests over HTTP, by operation name.', labelNames: ['operation'], registers });
    this.requestSeconds = new Histogram({
      name: 'berth_graphql_request_duration_seconds',
      help: 'Time from a GraphQL request to its response, by operation name.',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.backendCalls = new Counter({
      name: 'berth_backend_calls_total',
      help: 'Registry V2 API calls, by backend (hosted, remote) and kind.',
      labelNames: ['backend', 'kind'],
      registers,
    });
    this.subscriptions = new Gauge({ name: 'berth_graphql_subscriptions', help: 'GraphQL subscriptions running (graphql-ws and SSE).', registers });
    const metrics = this;
    /** A gauge per status, every status present (0 when no job has it), counted in the database when scraped. */
    const jobsByStatus = (name: string, help: string, statuses: string[], count: () => Promise<{ status: string; count: number }[]>) =>
      new Gauge({
        name,
        help,
        labelNames: ['status'],
        registers,
        async collect() {
          const counts = await count();
          for (const status of statuses) this.set({ status }, counts.find((row) => row.status === status)?.count ?? 0);
        },
      });
    new Gauge({
      name: 'berth_websocket_connections',
      help: 'graphql-ws connections open.',
      registers,
      collect() {
        this.set(metrics.webSocketConnections());
      },
    });
    jobsByStatus('berth_gc_jobs', 'Garbage collection jobs, by status.', Object.values(GcStatus), async () => {
      const rows = await db.gcJob.groupBy({ by: ['status'], _count: { _all: true } });
      return rows.map((row) => ({ status: row.status, count: row._count._all }));
    });
    new Gauge({
      name: 'berth_gc_freed_bytes',
      help: 'Bytes that succeeded real GC runs freed, each run counted once (its jobs share the figure).',
      registers,
      async collect() {
        const runs = await db.gcJob.groupBy({ by: ['runId'], where: { status: 'SUCCEEDED', dryRun: false }, _max: { bytesFreed: true } });
        this.set(runs.reduce((total, run) => total + Number(run._max.bytesFreed ?? 0n), 0));
      },
    });
    jobsByStatus('berth_import_jobs', 'Image import jobs, by status.', Object.values(ImportStatus), async () => {
      const rows = await db.importJob.groupBy({ by: ['status'], _count: { _all: true } });
      return rows.map((row) => ({ status: row.status, count: row._count._all }));
    });
    new Gauge({
      name: 'berth_import_copied_bytes',
      help: 'Bytes that import jobs copied into hosted registries.',
      registers,
      async collect() {
        const { _sum } = await db.importJob.aggregate({ _sum: { bytesCopied: true } });
        this.set(Number(_sum.bytesCopied ?? 0n));
      },
    });
  }

  /** One GraphQL request over HTTP, answered after `seconds`. */
  requestServed(operationName: string | null | undefined, seconds: number): void {
    const operation = this.operationLabel(operationName);
    this.requests.inc({ operation });
    this.requestSeconds.observe({ operation }, seconds);
  }

  backendCall(backend: BackendKind, kind: string): void {
    this.backendCalls.inc({ backend, kind });
  }

  /** A subscription started; call what it returns when it ends. */
  subscriptionStarted(): () => void {
    this.subscriptions.inc();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.subscriptions.dec();
    };
  }

  countWebSocketConnections(count: () => number): void {
    this.webSocketConnections = count;
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }
}

/** The kind of a V2 API call, from its method and path. */
export function v2CallKind(method: string, path: string): string {
  if (path === '/v2/' || path === '/v2') return 'ping';
  if (path.endsWith('/_catalog')) return 'catalog';
  if (path.endsWith('/tags/list')) return 'tags';
  if (path.includes('/manifests/')) return method === 'DELETE' ? 'manifest_delete' : 'manifest';
  if (path.includes('/blobs/uploads')) return 'upload';
  if (path.includes('/blobs/')) return method === 'DELETE' ? 'blob_delete' : 'blob';
  return 'other';
}
