import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import type { Config } from '../../config.js';
import { bearerTokens, type TokenFor } from '../v2/auth.js';
import { RegistryClient, type RegistryRequestEvent } from '../v2/client.js';
import { parseScopes } from '../v2/scope.js';
import { EmbeddedRegistry } from './embedded.js';
import { RegistryStorage } from './storage.js';
import { RegistryTokenSigner } from './token-signer.js';

/** The `service` and `iss` of berth's registry tokens; an existing registry must be configured with them. */
export const TOKEN_SERVICE = 'berth-registry';
export const TOKEN_ISSUER = 'berth';

/**
 * The `sub` of the tokens berth mints for its own calls; the registry reports it as the actor of
 * their events. '$' keeps it apart from every user name and robot account.
 */
export const BERTH_SUBJECT = 'berth$';

/** The V2 backend berth hosts registries on: the embedded registry (or an existing one), and how berth talks to it. */
export interface HostedBackend {
  /** berth's own client: full access, as BERTH_SUBJECT. */
  readonly client: RegistryClient;
  readonly signer: RegistryTokenSigner;
  /** Null when BERTH_REGISTRY_URL points at a registry berth does not run. */
  readonly embedded: EmbeddedRegistry | null;
  /** The secret the registry sends with its notifications. */
  readonly hookSecret: string;
  /**
   * Deletes all the registry stores under `<slug>/`: manifests, tags, upload sessions and the links
   * through which a repository serves a blob by digest, so nothing of a deleted registry is readable
   * under its slug. Blobs stay for GC. False when berth does not run the registry and cannot reach
   * its storage.
   */
  clearSlug(slug: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Tokens berth signs for `subject`, for any scopes asked. */
export function signedTokens(signer: Pick<RegistryTokenSigner, 'sign'>, subject: string): TokenFor {
  return async (scopes) => (await signer.sign(subject, parseScopes(scopes))).token;
}

/**
 * Opens the backend: starts the embedded registry unless BERTH_REGISTRY_URL names an existing one.
 * `onRequest` hears every call berth's own client makes (metrics).
 */
export async function openHostedBackend(config: Config, log: Logger, options: { onRequest?: (event: RegistryRequestEvent) => void } = {}): Promise<HostedBackend> {
  const signer = await RegistryTokenSigner.open({ dir: path.join(config.dataDir, 'keys'), issuer: TOKEN_ISSUER, service: TOKEN_SERVICE });
  const hookSecret = config.registry.hookSecret ?? randomBytes(32).toString('base64url');
  const embedded = config.registry.url
    ? null
    : new EmbeddedRegistry({
        port: config.registry.port,
        dataDir: config.dataDir,
        tokenRealm: `${config.publicUrl}/auth/token`,
        // The registry runs next to berth: it posts its events over loopback.
        hookUrl: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}/hooks/registry`,
        hookSecret,
        signer,
        logger: log,
        drainTimeoutMs: config.gc.drainTimeoutMs,
      });
  await embedded?.start();
  const direct = embedded && throughRelay(embedded);
  const client = new RegistryClient({
    baseUrl: config.registry.url ?? embedded!.url,
    auth: bearerTokens(signedTokens(signer, BERTH_SUBJECT)),
    ...(direct ? { dispatcher: direct.dispatcher } : {}),
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
  });
  return {
    client,
    signer,
    embedded,
    hookSecret,
    clearSlug: async (slug) => {
      if (!embedded) return false;
      await new RegistryStorage(embedded.storageDir).removeRepository(slug);
      return true;
    },
    close: async () => {
      await embedded?.stop();
      await direct?.close();
    },
  };
}

/**
 * berth's own requests (filling the index, deletions, imports) go to the relay's unix socket: the
 * same gate as clients' (writes refused during a GC window), without a TCP hop.
 */
function throughRelay(embedded: EmbeddedRegistry): { dispatcher: () => Dispatcher; close(): Promise<void> } {
  const agent = new Agent({ connect: { socketPath: embedded.internalSocketPath } });
  return { dispatcher: () => agent, close: () => agent.close() };
}
