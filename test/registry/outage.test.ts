import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { dedupedBytes, recordedPush } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';

const app = useTestApp();

let owner: Client;
let registry: { id: string; slug: string };
const image = buildImage();

beforeAll(async () => {
  owner = await app.user('owner');
  registry = await createRegistry(owner, (await createNamespace(owner)).id, { quotaBytes: 1_000_000 });
  await pushArtifact(app.registry.client, `${registry.slug}/app`, 'v1', image);
  await recordedPush(app.db, `${registry.slug}/app`, 'v1');
});

const TEST_CONNECTION = /* GraphQL */ `
  mutation ($input: TestRegistryConnectionInput!) {
    testRegistryConnection(input: $input) { __typename ... on TestRegistryConnectionPayload { ok latencyMs reason message } }
  }
`;

const QUERY = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Registry {
        name slug lastPushedAt quota { limitBytes usedBytes }
        storageBytes repositoryCount
        repositories(first: 5) { totalCount nodes { name } }
        repository(name: "app") { name tag(name: "v1") { digest } }
      }
    }
    viewer { name }
  }
`;

describe('while the registry is down', () => {
  it('answers hosted content in full from the content index, and knows when the registry is back', async () => {
    const before = await owner.execute(QUERY, { id: registry.id });
    expect(before.errors).toBeUndefined();

    await app.registry.embedded!.stop();
    try {
      const down = await owner.execute(QUERY, { id: registry.id });
      expect(down).toEqual({ status: 200, data: before.data });
      expect(down.data.node).toMatchObject({
        quota: { limitBytes: 1_000_000, usedBytes: dedupedBytes(image) },
        storageBytes: dedupedBytes(image),
        repositoryCount: 1,
        repositories: { totalCount: 1, nodes: [{ name: 'app' }] },
        repository: { name: 'app', tag: { digest: image.digest } },
      });
      const probe = await owner.execute(TEST_CONNECTION, { input: { id: registry.id } });
      expect(probe.data.testRegistryConnection).toMatchObject({ ok: false, reason: 'UNREACHABLE', message: expect.stringContaining('unreachable') });
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    } finally {
      await app.registry.embedded!.start();
    }
    const probe = await owner.execute(TEST_CONNECTION, { input: { id: registry.id } });
    expect(probe.data.testRegistryConnection).toMatchObject({ ok: true, reason: null, latencyMs: expect.any(Number) });
  });
});
