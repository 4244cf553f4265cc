import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bearerTokens } from '../../../src/registry/v2/auth.js';
import { RegistryClient } from '../../../src/registry/v2/client.js';
import { RegistryUnavailableError } from '../../../src/registry/v2/errors.js';
import { freePort, startTestRegistry } from '../../support/registry-process.js';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
}

describe('RegistryClient when the registry does not answer', () => {
  it('fails fast with RegistryUnavailableError once the registry is stopped', async () => {
    const test = await startTestRegistry();
    const client = test.newClient({ timeoutMs: 2_000 });
    await client.ping();
    await test.dispose();

    const startedAt = performance.now();
    const error = await failure(client.listTags('team/app'));
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', status: undefined });
    expect((error as Error).message).toMatch(/unreachable: .*ECONNREFUSED/);
  });

  it('gives up after timeoutMs on a server that accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const client = new RegistryClient({
        baseUrl: `http://127.0.0.1:${port}`,
        auth: bearerTokens(async () => 'unused'),
        timeoutMs: 300,
      });
      const startedAt = performance.now();
      const error = await failure(client.getManifest('team/app', 'v1'));
      const elapsed = performance.now() - startedAt;
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect((error as Error).message).toContain('no answer within 300 ms');
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
