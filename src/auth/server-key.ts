import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';

/** What a derived key is for; each purpose gets its own key material. */
export type KeyPurpose = 'api-token-hash' | 'registry-password';

const KEY_FILE = 'secret.key';
const KEY_BYTES = 32;

/**
 * berth's own secret: `BERTH_SECRET_KEY`, or 256 random bits generated once into the data dir
 * (mode 0600). Every instance of one installation must share it: it keys the API-token hashes and
 * encrypts stored external-registry passwords, so a different key turns both into noise.
 */
export class ServerKey {
  private readonly derived = new Map<KeyPurpose, Buffer>();

  private constructor(private readonly master: Buffer) {}

  static async load(options: { secretKey: string | null; dataDir: string }): Promise<ServerKey> {
    if (options.secretKey !== null) return new ServerKey(Buffer.from(options.secretKey, 'utf8'));
    const file = path.join(options.dataDir, KEY_FILE);
    const existing = await readFile(file, 'utf8').catch((error: unknown) => {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
      throw error;
    });
    if (existing !== null) return new ServerKey(Buffer.from(existing.trim(), 'base64url'));
    const generated = randomBytes(KEY_BYTES);
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    // 'wx' inside writeFileAtomic's temp file plus rename: a concurrent first start keeps one of the two.
    await writeFileAtomic(file, generated.toString('base64url'), 0o600);
    return ServerKey.load(options);
  }

  /** A 256-bit key for one purpose (HKDF-SHA256), so no two uses ever share key material. */
  derive(purpose: KeyPurpose): Buffer {
    let key = this.derived.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.master, Buffer.alloc(0), `berth ${purpose}`, KEY_BYTES));
      this.derived.set(purpose, key);
    }
    return key;
  }
}
