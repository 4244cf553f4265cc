import type { RegistryClient } from '../v2/client.js';
import { RegistryError, RegistryUnavailableError } from '../v2/errors.js';
import { type ConnectionFailure, RegistryConnectionError } from './errors.js';

export type ProbeResult =
  | { ok: true; latencyMs: number }
  | { ok: false; latencyMs: number; reason: ConnectionFailure; message: string };

/**
 * Asks an outside registry `GET /v2/` the way a docker client logs in: without credentials first,
 * then as its challenge (Basic, or the Docker token flow) asks. Says what went wrong in terms a
 * person can act on; the message quotes what the remote answered, never the password.
 */
export async function probeRegistry(client: RegistryClient): Promise<ProbeResult> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const { isV2, contentType } = await client.ping();
    if (isV2) return { ok: true, latencyMs: latencyMs() };
    return {
      ok: false,
      latencyMs: latencyMs(),
      reason: 'NOT_A_REGISTRY',
      message: `${client.baseUrl.origin} answered GET /v2/ with 200 (${contentType ?? 'no content type'}) but not as a V2 registry does`,
    };
  } catch (error) {
    const failure = probeFailure(client.baseUrl.origin, error);
    return { ok: false, latencyMs: latencyMs(), reason: failure.reason, message: failure.message };
  }
}

/** Throws RegistryConnectionError unless the probe succeeded. */
export async function requireReachableRegistry(client: RegistryClient): Promise<void> {
  const result = await probeRegistry(client);
  if (!result.ok) throw new RegistryConnectionError(result.reason, result.message);
}

function probeFailure(origin: string, error: unknown): { reason: ConnectionFailure; message: string } {
  if (error instanceof RegistryUnavailableError && error.status === undefined) {
    return { reason: error.transport === 'tls' ? 'TLS' : 'UNREACHABLE', message: `${origin}: ${error.message}` };
  }
  if (error instanceof RegistryError) {
    if (error.status === undefined && error.code === 'UNAUTHORIZED') return { reason: 'UNAUTHORIZED', message: error.message };
    if (error.status === 401 || error.status === 403) return { reason: 'UNAUTHORIZED', message: `${origin} refused the credentials: ${error.message}` };
    if (error.status !== undefined && error.status >= 500) return { reason: 'UNREACHABLE', message: `${origin}: ${error.message}` };
    return { reason: 'NOT_A_REGISTRY', message: `${origin} is not a V2 registry: ${error.message}` };
  }
  throw error;
}
