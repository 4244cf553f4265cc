import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../../src/registry/v2/manifest.js';
import { buildImage, buildIndex, skopeoCopy, writeOciLayout } from '../../support/oci-images.js';
import { useTestRegistry } from '../../support/registry-process.js';

const registry = useTestRegistry();
const scratch = await mkdtemp(join(tmpdir(), 'berth-skopeo-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function layoutDigest(dir: string, tag: string): Promise<string | undefined> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  return index.manifests.find((entry) => entry.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest;
}

describe('skopeo with tokens minted by berth', () => {
  it('copies an OCI layout into the registry and back out, digests intact', async () => {
    const image = buildImage({ layerCount: 2 });
    const source = await writeOciLayout(join(scratch, 'in'), 'v1', image);
    const pushToken = await registry.token(['repository:team/app:pull,push'], 'alice');

    await skopeoCopy(source.reference, `docker://${registry.host}/team/app:v1`, { destinationToken: pushToken });
    expect(await registry.client.headManifest('team/app', 'v1')).toMatchObject({
      digest: image.digest,
      mediaType: MediaType.ociManifest,
    });

    const pullToken = await registry.token(['repository:team/app:pull'], 'bob');
    const out = join(scratch, 'out');
    await skopeoCopy(`docker://${registry.host}/team/app:v1`, `oci:${out}:copied`, { sourceToken: pullToken });
    expect(await layoutDigest(out, 'copied')).toBe(image.digest);
  });

  it('copies a multi-arch index with --all', async () => {
    const index = buildIndex([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    const source = await writeOciLayout(join(scratch, 'in'), 'multi', index);
    const token = await registry.token(['repository:team/multi:pull,push']);

    await skopeoCopy(source.reference, `docker://${registry.host}/team/multi:latest`, {
      destinationToken: token,
      all: source.all,
    });
    expect((await registry.client.headManifest('team/multi', 'latest'))?.digest).toBe(index.digest);
    for (const child of index.children) {
      expect((await registry.client.headManifest('team/multi', child.digest))?.digest).toBe(child.digest);
    }
  });

  it('is denied a push with a pull-only token', async () => {
    const source = await writeOciLayout(join(scratch, 'in'), 'denied', buildImage());
    const pullOnly = await registry.token(['repository:team/app:pull']);
    await expect(
      skopeoCopy(source.reference, `docker://${registry.host}/team/app:denied`, { destinationToken: pullOnly }),
    ).rejects.toThrow(/denied|unauthorized/i);
    expect(await registry.client.headManifest('team/app', 'denied')).toBeNull();
  });
});
