import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { READ_ONLY_DETAIL } from '../v2/read-only-detail.js';

/** A registry process as the relay reaches it: its unix socket. */
export interface RelayUpstream {
  readonly socketPath: string;
}

/** A request the relay could not hand to the registry process it was meant for. */
export interface RelayFailure {
  method: string | undefined;
  url: string | undefined;
  error: string;
}

/**
 * Headers that describe one connection, not the request (RFC 9110 §7.6.1): each side of the relay
 * keeps its own connection, so they never cross it.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Methods that never write to the storage: everything else is a push or a delete. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Upstream {
  readonly socketPath: string;
  readonly agent: Agent;
}

/**
 * berth's way into the registry process, for clients on its public port and for berth's own
 * requests on an internal unix socket alike. Whatever writes to the storage passes here, so this is
 * where writes are held off for garbage collection: while `refuseWrites` is in force, pushes and
 * deletes are answered 405 with the reason, pulls go on, and `writesSettled` says when the writes
 * already in flight are done. The registry process itself never changes for a collection.
 *
 * When the registry process is restarted after a crash, requests go to the new one; in between
 * they are answered 503, the port never refuses a connection. HTTP rather than a TCP relay, since
 * the gate goes by each request's method.
 */
export class RegistryRelay {
  private readonly servers: Server[] = [];
  private current: Upstream | null = null;
  private writeRefusal: string | null = null;
  private writesInFlight = 0;
  private readonly writesDone = new Set<() => void>();

  constructor(private readonly onUnreachable: (failure: RelayFailure) => void) {}

  /** Binds a TCP port or a unix socket; resolves once it accepts connections. */
  listen(target: { port: number; host: string } | { path: string }): Promise<AddressInfo | string> {
    const server = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 }, (req, res) => this.forward(req, res));
    // Blob uploads may take longer than any default; a dead client is found by TCP keep-alive instead.
    server.headersTimeout = 60_000;
    server.on('connection', (socket: Socket) => socket.setKeepAlive(true, 60_000));
    server.on('clientError', (error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy(error);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(target, () => {
        server.off('error', reject);
        this.servers.push(server);
        resolve(server.address() as AddressInfo | string);
      });
    });
  }

  get listening(): boolean {
    return this.servers.some((server) => server.listening);
  }

  /** From now on, requests go to `upstream` (null: answered 503 until one serves). */
  serveFrom(upstream: RelayUpstream | null): void {
    if (this.current?.socketPath === upstream?.socketPath) return;
    this.current?.agent.destroy();
    this.current = upstream && { socketPath: upstream.socketPath, agent: new Agent({ keepAlive: true }) };
  }

  /** Answers pushes and deletes 405 with `reason` from now on, until called with null. */
  refuseWrites(reason: string | null): void {
    this.writeRefusal = reason;
  }

  /** Resolves true once no write is in flight, or false after `timeoutMs`. */
  async writesSettled(timeoutMs: number): Promise<boolean> {
    if (this.writesInFlight === 0) return true;
    let onDone: () => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<boolean>((resolve) => {
          onDone = () => resolve(true);
          this.writesDone.add(onDone);
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.writesDone.delete(onDone);
    }
  }

  /** Stops accepting and ends every connection. */
  async close(): Promise<void> {
    this.serveFrom(null);
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map((server) => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        return closed;
      }),
    );
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const upstream = this.current;
    if (!upstream) {
      refuse(res, 503, 'UNAVAILABLE', 'the registry is restarting');
      req.resume();
      return;
    }
    const writes = !READ_METHODS.has(req.method ?? 'GET');
    if (writes && this.writeRefusal !== null) {
      refuse(res, 405, 'UNSUPPORTED', this.writeRefusal, READ_ONLY_DETAIL);
      req.resume();
      return;
    }
    let finished = false;
    if (writes) this.writesInFlight += 1;
    const done = (): void => {
      if (finished) return;
      finished = true;
      if (!writes) return;
      this.writesInFlight -= 1;
      if (this.writesInFlight === 0) for (const notify of this.writesDone) notify();
    };

    const outgoing = request({
      socketPath: upstream.socketPath,
      agent: upstream.agent,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req),
    });
    outgoing.on('response', (incoming) => {
      res.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, withoutHopByHop(incoming.rawHeaders));
      incoming.pipe(res);
      incoming.on('error', () => res.destroy());
    });
    outgoing.on('error', (error) => {
      if (res.headersSent) res.destroy(error);
      else refuse(res, 503, 'UNAVAILABLE', 'the registry process did not answer');
      this.onUnreachable({ method: req.method, url: req.url, error: error.message });
      done();
    });
    // The answer is complete, or the client went away: either way the upstream request is over.
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
      done();
    });
    req.pipe(outgoing);
  }
}

function forwardedHeaders(req: IncomingMessage): string[] {
  const headers = withoutHopByHop(req.rawHeaders);
  // The registry records who pulled and pushed (notifications, access log) by this header.
  headers.push('X-Forwarded-For', req.socket.remoteAddress ?? '');
  return headers;
}

function withoutHopByHop(raw: readonly string[]): string[] {
  const named = new Set(HOP_BY_HOP);
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const name of raw[i + 1]!.split(',')) named.add(name.trim().toLowerCase());
  }
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!named.has(raw[i]!.toLowerCase())) kept.push(raw[i]!, raw[i + 1]!);
  return kept;
}

/** The V2 error envelope, so clients show the reason. */
function refuse(res: ServerResponse, status: 405 | 503, code: 'UNSUPPORTED' | 'UNAVAILABLE', message: string, detail?: object): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', ...(status === 503 ? { 'retry-after': '1' } : {}) });
  res.end(JSON.stringify({ errors: [{ code, message, ...(detail ? { detail } : {}) }] }));
}
