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
  it('answers the database fields, and null with BACKEND_UNAVAILABLE for the rest; then recovers', async () => {
    const before = await owner.execute(QUERY, { id: registry.id });
    expect(before.errors).toBeUndefined();
    const lastPushedAt = before.data.node.lastPushedAt;
    expect(lastPushedAt).not.toBeNull();

    await app.registry.embedded!.stop();
    const down = await owner.execute(QUERY, { id: registry.id });
    expect(down.status).toBe(200);
    expect(down.data).toEqual({
      node: {
        name: registry.slug,
        slug: registry.slug,
        lastPushedAt,
        quota: { limitBytes: 1_000_000, usedBytes: null },
        storageBytes: null,
        repositoryCount: null,
        repositories: null,
        repository: null,
      },
      viewer: { name: 'owner' },
    });
    expect(down.errors?.map((error) => [error.path?.join('.'), error.extensions?.['code']]).sort()).toEqual([
      ['node.quota.usedBytes', 'BACKEND_UNAVAILABLE'],
      ['node.repositories', 'BACKEND_UNAVAILABLE'],
      ['node.repository', 'BACKEND_UNAVAILABLE'],
      ['node.repositoryCount', 'BACKEND_UNAVAILABLE'],
      ['node.storageBytes', 'BACKEND_UNAVAILABLE'],
    ]);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

    await app.registry.embedded!.start();
    const after = await owner.execute(QUERY, { id: registry.id });
    expect(after.errors).toBeUndefined();
    expect(after.data.node).toMatchObject({
      storageBytes: dedupedBytes(image),
      repositoryCount: 1,
      repositories: { totalCount: 1, nodes: [{ name: 'app' }] },
      repository: { name: 'app', tag: { digest: image.digest } },
    });
  });
});
