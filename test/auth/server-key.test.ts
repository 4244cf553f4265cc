import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerKey } from '../../src/auth/server-key.js';

describe('ServerKey', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('generates a key once into the data dir, private to berth, and loads the same one afterwards', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-key-'));
    const first = await ServerKey.load({ secretKey: null, dataDir: dir });
    const file = path.join(dir, 'secret.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url')).toHaveLength(32);
    const second = await ServerKey.load({ secretKey: null, dataDir: dir });
    expect(second.derive('registry-password').equals(first.derive('registry-password'))).toBe(true);
  });

  it('derives a different 256-bit key per purpose, and BERTH_SECRET_KEY decides them all', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-key-'));
    const configured = await ServerKey.load({ secretKey: 'a configured secret of at least thirty-two chars', dataDir: dir });
    const again = await ServerKey.load({ secretKey: 'a configured secret of at least thirty-two chars', dataDir: dir });
    const other = await ServerKey.load({ secretKey: 'another configured secret of thirty-two chars', dataDir: dir });
    expect(configured.derive('api-token-hash')).toHaveLength(32);
    expect(configured.derive('api-token-hash').equals(configured.derive('registry-password'))).toBe(false);
    expect(configured.derive('api-token-hash').equals(again.derive('api-token-hash'))).toBe(true);
    expect(configured.derive('api-token-hash').equals(other.derive('api-token-hash'))).toBe(false);
    await expect(stat(path.join(dir, 'secret.key'))).rejects.toThrow();
  });
});
