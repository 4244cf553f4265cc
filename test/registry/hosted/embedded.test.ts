import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EmbeddedRegistryExit } from '../../../src/registry/hosted/embedded.js';
import { RegistryReadOnlyError } from '../../../src/registry/v2/errors.js';
import { renderRegistryConfig } from '../../../src/registry/hosted/registry-config.js';
import { buildImage, pushArtifact, sha256Digest } from '../../support/oci-images.js';
import { slowRequest } from '../../support/slow-request.js';
import { createTestRegistry, freePort, useTestRegistry } from '../../support/registry-process.js';

describe('EmbeddedRegistry', () => {
  const test = useTestRegistry({ registry: { restartDelayMs: 100 } });

  it('sends the registry log to pino as component "registry", hook secret redacted', async () => {
    const lines = test.logs.filter((line) => line.component === 'registry');
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^listening on \/.*\.sock$/)]));
    const endpoint = lines.find((line) => String(line.msg).startsWith('configuring endpoint berth'));
    expect(endpoint?.msg).toContain('Bearer [redacted]');
    expect(JSON.stringify(test.logs)).not.toContain('test-hook-secret');
  });

  it('logs a 4xx answer as routine, not as an error', async () => {
    const { client } = test;
    await expect(client.getManifest('team/nothing', 'v404')).rejects.toMatchObject({ status: 404 });
    // The registry logs a request after answering it: give the line time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const clientErrors = test.logs.filter((line) => line.component === 'registry' && line['http.response.status'] === 404);
    expect(clientErrors).toEqual([]);
    expect(test.logs.filter((line) => line.component === 'registry' && Number(line.level) >= 50)).toEqual([]);
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

  it('refuseWrites answers pushes and deletes 405 with the reason while pulls go on; acceptWrites lets them through', async () => {
    const { registry, client } = test;
    const image = buildImage();
    await pushArtifact(client, 'team/ro', 'v1', image);
    const pid = registry.pid;

    expect(await registry.refuseWrites('registry in maintenance: testing')).toBe(true);
    expect(registry.writesRefused).toBe(true);
    const refused = await client.pushBlob('team/ro', Buffer.from('during gc')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryReadOnlyError);
    expect(refused).toMatchObject({ status: 405, message: expect.stringContaining('registry in maintenance: testing') });
    await expect(client.deleteManifest('team/ro', image.digest)).rejects.toBeInstanceOf(RegistryReadOnlyError);
    expect(await client.listTags('team/ro')).toEqual(['v1']);
    expect((await client.getManifest('team/ro', 'v1')).digest).toBe(image.digest);

    registry.acceptWrites();
    await pushArtifact(client, 'team/ro', 'v2', buildImage());
    expect((await client.listTags('team/ro')).sort()).toEqual(['v1', 'v2']);
    // The same process all along: nothing restarted.
    expect(registry.pid).toBe(pid);
  });

  it('refuseWrites resolves once a push already under way has finished, and the push lands', async () => {
    const { registry } = test;
    const token = await test.token(['repository:team/slow:push,pull']);
    const upload = await fetch(`${registry.url}/v2/team/slow/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(upload.status).toBe(202);
    const chunk = randomBytes(256 * 1024);
    const patch = slowRequest(new URL(upload.headers.get('location')!, registry.url), 'PATCH', token, chunk);
    await patch.started;

    let settled = false;
    const refusing = registry.refuseWrites('registry in maintenance: testing').then((drained) => {
      settled = true;
      return drained;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    patch.finish();
    expect(await patch.status).toBe(202);
    expect(await refusing).toBe(true);
    registry.acceptWrites();
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
  // A docker-registry that refuses to serve while the marker file exists.
  const dir = join(tmpdir(), `berth-failing-registry-${process.pid}`);
  const marker = join(dir, 'fail');
  const real = execFileSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' }).trim();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'docker-registry'), `#!/bin/sh\nif [ "$1" = serve ] && [ -e ${JSON.stringify(marker)} ]; then echo "failing on purpose" >&2; exit 1; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
  const test = useTestRegistry({ registry: { restartDelayMs: 50, binary: join(dir, 'docker-registry') } });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps retrying with growing delays while a relaunch fails, then recovers', async () => {
    const { registry } = test;
    await writeFile(marker, '');
    const exited = once(registry, 'exit');
    process.kill(registry.pid!, 'SIGKILL');
    await exited;

    // Each relaunch exits at once; the marker goes after the second one.
    const failedRelaunches: EmbeddedRegistryExit[] = [];
    const observeRelaunch = (exit: EmbeddedRegistryExit): void => {
      failedRelaunches.push(exit);
      if (failedRelaunches.length === 2) void rm(marker, { force: true });
    };
    registry.on('exit', observeRelaunch);
    try {
      // Meanwhile the port is still berth's: it answers, with 503.
      const down = await fetch(`${registry.url}/v2/`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ errors: [{ code: 'UNAVAILABLE', message: 'the registry is restarting' }] });
      await once(registry, 'ready');
    } finally {
      registry.off('exit', observeRelaunch);
    }
    expect(failedRelaunches.map(({ code, expected }) => ({ code, expected }))).toEqual([
      { code: 1, expected: true },
      { code: 1, expected: true },
    ]);
    const restarts = test.logs.filter((line) => line.msg === 'restarting registry');
    expect(restarts.map((line) => line.restartInMs)).toEqual([50, 100, 200]);
    await test.client.ping();
  });
});

describe('EmbeddedRegistry write gate', () => {
  const test = useTestRegistry({ registry: { drainTimeoutMs: 300 } });

  it('keeps serving pulls, cut by nothing, while writes are refused and let through again', async () => {
    const { registry, client } = test;
    const image = buildImage({ layerBytes: 64 * 1024 });
    await pushArtifact(client, 'team/steady', 'v1', image);
    const big = await client.pushBlob('team/steady', randomBytes(32 * 1024 * 1024));
    const token = await test.token(['repository:team/steady:pull']);
    const layer = image.layers[0]!;

    // A slow reader: its download is in flight across every switch.
    const slow = rawGet(registry.url, `/v2/team/steady/blobs/${big.digest}`, token, { keepAlive: false, slow: true });
    const failures: unknown[] = [];
    let requests = 0;
    let stop = false;
    const loop = async (keepAlive: boolean): Promise<void> => {
      while (!stop) {
        try {
          const { status, body } = await rawGet(registry.url, `/v2/team/steady/blobs/${layer.digest}`, token, { keepAlive });
          if (status !== 200 || sha256Digest(body) !== layer.digest) failures.push(new Error(`status ${status}`));
        } catch (error) {
          failures.push(error);
        }
        requests += 1;
      }
    };
    const loops = [loop(true), loop(true), loop(false), loop(false)];
    for (let i = 0; i < 2; i++) {
      expect(await registry.refuseWrites('registry in maintenance: testing')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      registry.acceptWrites();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    stop = true;
    await Promise.all(loops);
    const download = await slow;

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    expect(download.status).toBe(200);
    expect(sha256Digest(download.body)).toBe(big.digest);
    await pushArtifact(client, 'team/steady', 'v2', buildImage());
  });

  it('says so when a push under way outlasts the drain timeout, and still refuses new ones', async () => {
    const { registry, client } = test;
    const token = await test.token(['repository:team/stuck:push,pull']);
    const upload = await fetch(`${registry.url}/v2/team/stuck/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const patch = slowRequest(new URL(upload.headers.get('location')!, registry.url), 'PATCH', token, randomBytes(1024));
    await patch.started;

    expect(await registry.refuseWrites('registry in maintenance: testing')).toBe(false);
    await expect(client.pushBlob('team/stuck', Buffer.from('refused'))).rejects.toBeInstanceOf(RegistryReadOnlyError);
    patch.finish();
    expect(await patch.status).toBe(202);
    registry.acceptWrites();
    await pushArtifact(client, 'team/stuck', 'v1', buildImage());
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

  it('refuses to start when another server holds its port', async () => {
    const port = await freePort();
    const squatter = createServer((_req, res) => res.writeHead(200).end('{}'));
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const test = await createTestRegistry({ registry: { port } });
    try {
      await expect(test.registry.start()).rejects.toThrow(/EADDRINUSE/);
      expect(test.registry.state).toBe('stopped');
      expect(test.registry.pid).toBeUndefined();
    } finally {
      await test.dispose();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});

describe('renderRegistryConfig', () => {
  it('renders a unix socket with a drain timeout, token auth, notifications with pulls, delete and no blob descriptor cache', () => {
    const yaml = renderRegistryConfig({
      socketPath: '/data/run/registry.sock',
      drainTimeoutS: 30,
      storageDir: '/data/registry',
      httpSecret: 'http-secret',
      auth: { realm: 'http://127.0.0.1:4000/auth/token', service: 'svc', issuer: 'iss', rootCertBundle: '/data/keys/token-signer.crt' },
      notifications: { url: 'http://127.0.0.1:4000/hooks/registry', secret: 's3cret' },
    });
    expect(yaml).toContain('  delete:\n    enabled: true\n');
    expect(yaml).toContain('    readonly:\n      enabled: false\n');
    expect(yaml).toContain('http:\n  net: "unix"\n  addr: "/data/run/registry.sock"\n  draintimeout: "30s"\n');
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

/** A GET with a bearer token over a fresh connection (or a kept-alive one); `slow` reads the body in small sips. */
function rawGet(base: string, path: string, token: string, options: { keepAlive: boolean; slow?: boolean }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, agent: options.keepAlive ? keepAliveAgent : false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (options.slow) {
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 2 });

