import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EmbeddedRegistryExit } from '../../../src/registry/hosted/embedded.js';
import { RegistryReadOnlyError } from '../../../src/registry/v2/errors.js';
import { renderRegistryConfig } from '../../../src/registry/hosted/registry-config.js';
import { buildImage, pushArtifact } from '../../support/oci-images.js';
import { createTestRegistry, freePort, useTestRegistry } from '../../support/registry-process.js';

describe('EmbeddedRegistry', () => {
  const test = useTestRegistry({ registry: { restartDelayMs: 100 } });

  it('sends the registry log to pino as component "registry", hook secret redacted', async () => {
    const lines = test.logs.filter((line) => line.component === 'registry');
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^listening on 127\.0\.0\.1:/)]));
    const endpoint = lines.find((line) => String(line.msg).startsWith('configuring endpoint berth'));
    expect(endpoint?.msg).toContain('Bearer [redacted]');
    expect(JSON.stringify(test.logs)).not.toContain('test-hook-secret');
  });

  it('keeps its config, with both secrets, readable by the owner only', async () => {
    const configPath = join(test.dataDir, 'registry-config.yml');
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(configPath, 'utf8')).toContain(`rootdirectory: ${JSON.stringify(join(test.dataDir, 'registry'))}`);
  });

  it('restarts the registry after it is killed, with growing delays, keeping its content', async () => {
    const { registry, client } = test;
    const image = buildImage();
    await pushArtifact(client, 'team/survivor', 'v1', image);

    for (let crash = 0; crash < 2; crash++) {
      const killedPid = registry.pid!;
      const exited = once(registry, 'exit');
      const ready = once(registry, 'ready');
      process.kill(killedPid, 'SIGKILL');
      expect((await exited)[0]).toMatchObject({ pid: killedPid, signal: 'SIGKILL', expected: false });
      expect(registry.state).toBe('restarting');
      const [newPid] = await ready;
      expect(newPid).not.toBe(killedPid);
      expect(registry.state).toBe('running');
    }
    expect(test.logs.filter((line) => line.msg === 'registry exited unexpectedly')).toHaveLength(2);
    const restarts = test.logs.filter((line) => line.msg === 'restarting registry');
    expect(restarts.map((line) => line.restartInMs)).toEqual([100, 200]);
    expect((await client.headManifest('team/survivor', 'v1'))?.digest).toBe(image.digest);
  });

  it('restart({ readOnly: true }) refuses pushes with 405 while pulls still work', async () => {
    const { registry, client } = test;
    const image = buildImage();
    await pushArtifact(client, 'team/ro', 'v1', image);

    await registry.restart({ readOnly: true });
    expect(registry.readOnly).toBe(true);
    const refused = await client.pushBlob('team/ro', Buffer.from('during gc')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryReadOnlyError);
    expect(refused).toMatchObject({ status: 405 });
    await expect(client.deleteManifest('team/ro', image.digest)).rejects.toBeInstanceOf(RegistryReadOnlyError);
    expect(await client.listTags('team/ro')).toEqual(['v1']);
    expect((await client.getManifest('team/ro', 'v1')).digest).toBe(image.digest);

    await registry.restart({ readOnly: false });
    await pushArtifact(client, 'team/ro', 'v2', buildImage());
    expect((await client.listTags('team/ro')).sort()).toEqual(['v1', 'v2']);
  });

  it('stop() waits for the process to exit; start() brings it back', async () => {
    const { registry, client } = test;
    const pid = registry.pid!;
    await registry.stop();
    expect(registry.state).toBe('stopped');
    expect(registry.pid).toBeUndefined();
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);

    await registry.start();
    await client.ping();
  });
});

describe('EmbeddedRegistry supervision', () => {
  const test = useTestRegistry({ registry: { restartDelayMs: 50 } });

  it('keeps retrying with growing delays while a relaunch fails, then recovers', async () => {
    const { registry } = test;
    const port = Number(new URL(registry.url).port);
    const squatter = createServer((_req, res) => res.writeHead(200).end('{}'));
    const exited = once(registry, 'exit');
    process.kill(registry.pid!, 'SIGKILL');
    await exited;
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));

    // Each relaunch exits with "address already in use"; the port is freed after the second one.
    const failedRelaunches: EmbeddedRegistryExit[] = [];
    const observeRelaunch = (exit: EmbeddedRegistryExit): void => {
      failedRelaunches.push(exit);
      if (failedRelaunches.length === 2) squatter.close();
    };
    registry.on('exit', observeRelaunch);
    try {
      await once(registry, 'ready');
    } finally {
      registry.off('exit', observeRelaunch);
      if (squatter.listening) squatter.close();
    }
    expect(failedRelaunches.map(({ code, expected }) => ({ code, expected }))).toEqual([
      { code: 1, expected: false },
      { code: 1, expected: false },
    ]);
    const restarts = test.logs.filter((line) => line.msg === 'restarting registry');
    expect(restarts.map((line) => line.restartInMs)).toEqual([50, 100, 200]);
    await test.client.ping();
  });
});

describe('EmbeddedRegistry start failures', () => {
  it('names the fix when the docker-registry binary is missing', async () => {
    const test = await createTestRegistry({ registry: { binary: 'docker-registry-not-installed' } });
    try {
      await expect(test.registry.start()).rejects.toThrow(/apt-get install docker-registry.*npm run setup/);
      expect(test.registry.state).toBe('stopped');
    } finally {
      await test.dispose();
    }
  });

  it('fails instead of trusting another server that holds its port', async () => {
    const port = await freePort();
    const squatter = createServer((_req, res) => res.writeHead(200).end('{}'));
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const test = await createTestRegistry({ registry: { port } });
    try {
      await expect(test.registry.start()).rejects.toThrow(/exited \(1\) before serving[\s\S]*address already in use/);
      expect(test.registry.state).toBe('stopped');
    } finally {
      await test.dispose();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});

describe('renderRegistryConfig', () => {
  it('renders token auth, notifications with pulls, delete, read-only and no blob descriptor cache', () => {
    const yaml = renderRegistryConfig({
      host: '127.0.0.1',
      port: 5000,
      storageDir: '/data/registry',
      httpSecret: 'http-secret',
      readOnly: true,
      auth: { realm: 'http://127.0.0.1:4000/auth/token', service: 'svc', issuer: 'iss', rootCertBundle: '/data/keys/token-signer.crt' },
      notifications: { url: 'http://127.0.0.1:4000/hooks/registry', secret: 's3cret' },
    });
    expect(yaml).toContain('  delete:\n    enabled: true\n');
    expect(yaml).toContain('    readonly:\n      enabled: true\n');
    expect(yaml).toContain('  token:\n    realm: "http://127.0.0.1:4000/auth/token"\n    service: "svc"\n    issuer: "iss"\n');
    expect(yaml).toContain(
      '  endpoints:\n    - name: "berth"\n      url: "http://127.0.0.1:4000/hooks/registry"\n' +
        '      headers:\n        Authorization: ["Bearer s3cret"]\n',
    );
    expect(yaml).toContain('includereferences: true');
    expect(yaml).not.toContain('blobdescriptor');
    expect(yaml).not.toContain('ignore');
  });
});
