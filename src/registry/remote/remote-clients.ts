import { challengeAuth, type Credentials } from '../v2/auth.js';
import { RegistryClient } from '../v2/client.js';
import { decryptPassword } from './password-cipher.js';

/** What berth keeps of a connection to an outside registry. */
export interface RemoteConnection {
  id: string;
  url: string | null;
  username: string | null;
  passwordCiphertext: string | null;
  updatedAt: Date;
}

export interface RemoteClientOptions {
  /** Per request. @default 15_000 */
  timeoutMs?: number;
}

/** A V2 client for an outside registry at `url`, authenticating as its challenge asks. */
export function remoteClient(url: string, credentials: Credentials | null, options: RemoteClientOptions = {}): RegistryClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new RegistryClient({
    baseUrl: url,
    timeoutMs,
    // Remotes are shared services: a handful of requests at once is polite and enough.
    maxConcurrency: 8,
    auth: challengeAuth({ credentials, timeoutMs, allowHttpRealm: url.startsWith('http:') }),
  });
}

/**
 * One client per connection for the life of the process, so its tokens are reused across
 * requests; a changed connection (new URL or credentials) gets a new client.
 */
export class RemoteClients {
  private readonly clients = new Map<string, { version: number; client: RegistryClient }>();

  constructor(
    /** The key stored passwords are encrypted with. */
    private readonly passwordKey: Buffer,
    private readonly options: RemoteClientOptions = {},
  ) {}

  for(connection: RemoteConnection): RegistryClient {
    const version = connection.updatedAt.getTime();
    const cached = this.clients.get(connection.id);
    if (cached && cached.version === version) return cached.client;
    if (!connection.url) throw new Error(`registry ${connection.id} has no URL`);
    const client = remoteClient(connection.url, this.credentials(connection), this.options);
    this.clients.set(connection.id, { version, client });
    return client;
  }

  private credentials(connection: RemoteConnection): Credentials | null {
    if (!connection.username) return null;
    const password = connection.passwordCiphertext ? decryptPassword(this.passwordKey, connection.passwordCiphertext) : '';
    return { username: connection.username, password };
  }
}
