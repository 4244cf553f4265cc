import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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

interface UpstreamState {
  readonly agent: Agent;
  inFlight: number;
  readonly idle: Set<() => void>;
}

/**
 * berth's registry port. Clients keep their connections to berth, and each request goes to the
 * registry process that serves at that moment, so switching processes (read-only for garbage
 * collection and back) closes no client connection and refuses none: requests already sent to the
 * old process finish there, new ones go to the new process. The relay counts what is in flight per
 * process, so the old one is stopped only once it has nothing left to answer.
 *
 * Why HTTP and not a TCP relay: at a switch the old registry closes its idle keep-alive
 * connections, and a client that sends its next request at that moment sees the connection drop
 * (Node's fetch does not retry it). Ending each client connection at berth avoids that race.
 */
export class RegistryRelay {
  private readonly server: Server;
  /** By socket path: a process is the same upstream however its description reached the relay. */
  private readonly upstreams = new Map<string, UpstreamState>();
  private current: RelayUpstream | null = null;

  constructor(private readonly onUnreachable: (failure: RelayFailure) => void) {
    this.server = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 }, (req, res) => this.forward(req, res));
    // Blob uploads may take longer than any default; a dead client is found by TCP keep-alive instead.
    this.server.headersTimeout = 60_000;
    this.server.on('connection', (socket: Socket) => socket.setKeepAlive(true, 60_000));
    this.server.on('clientError', (error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy(error);
    });
  }

  /** Binds the public port; resolves once it accepts connections. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** From now on, new requests go to `upstream`; requests in flight elsewhere finish where they are. */
  serveFrom(upstream: RelayUpstream | null): void {
    if (upstream && !this.upstreams.has(upstream.socketPath)) {
      this.upstreams.set(upstream.socketPath, { agent: new Agent({ keepAlive: true }), inFlight: 0, idle: new Set() });
    }
    this.current = upstream;
  }

  /**
   * Resolves once nothing is in flight to `upstream` (true), or after `timeoutMs` (false). Then the
   * relay forgets it and closes its connections to it: the process can be stopped.
   */
  async release(upstream: RelayUpstream, timeoutMs: number): Promise<boolean> {
    const state = this.upstreams.get(upstream.socketPath);
    if (!state) return true;
    if (this.current?.socketPath === upstream.socketPath) this.current = null;
    let drained = state.inFlight === 0;
    if (!drained) {
      let onIdle: () => void = () => {};
      let timer: NodeJS.Timeout | undefined;
      drained = await Promise.race([
        new Promise<boolean>((resolve) => {
          onIdle = () => resolve(true);
          state.idle.add(onIdle);
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      state.idle.delete(onIdle);
    }
    state.agent.destroy();
    this.upstreams.delete(upstream.socketPath);
    return drained;
  }

  /** Stops accepting, ends every client connection and forgets every upstream. */
  async close(): Promise<void> {
    this.current = null;
    for (const state of this.upstreams.values()) state.agent.destroy();
    this.upstreams.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const upstream = this.current;
    const state = upstream && this.upstreams.get(upstream.socketPath);
    if (!upstream || !state) {
      unavailable(res, 'the registry is restarting');
      req.resume();
      return;
    }
    state.inFlight += 1;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      state.inFlight -= 1;
      if (state.inFlight === 0) for (const notify of state.idle) notify();
    };

    const outgoing = request({
      socketPath: upstream.socketPath,
      agent: state.agent,
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
      else unavailable(res, 'the registry process did not answer');
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
function unavailable(res: ServerResponse, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
  res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message }] }));
}
