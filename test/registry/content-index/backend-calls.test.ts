import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../../support/app.js';
import { eventually, executeCountingCalls, NESTED_CONTENT_QUERY } from '../../support/content.js';
import { createNamespace, createRegistry } from '../../support/fixtures.js';
import { buildImage, pushArtifact } from '../../support/oci-images.js';

const app = useTestApp();

const REGISTRIES = 3;
const REPOSITORIES = 10;
const TAGS = 5;

let owner: Client;
let namespace: { id: string; slug: string };

beforeAll(async () => {
  owner = await app.user('owner');
  namespace = await createNamespace(owner);
  for (let r = 0; r < REGISTRIES; r += 1) {
    const { slug } = await createRegistry(owner, namespace.id, { quotaBytes: 1_000_000_000 });
    await Promise.all(
      Array.from({ length: REPOSITORIES }, async (_, i) => {
        for (let t = 0; t < TAGS; t += 1) await pushArtifact(app.registry.client, `${slug}/repo${i}`, `v${t}`, buildImage());
      }),
    );
  }
  await eventually(async () => (await app.db.contentTag.count()) === REGISTRIES * REPOSITORIES * TAGS, 60_000);
});


describe('hosted content', () => {
  it('answers the whole nested query from the content index, with no call to the registry', async () => {
    const { data, errors, extensions } = await executeCountingCalls(app, owner.token!, NESTED_CONTENT_QUERY, { slug: namespace.slug });
    expect(errors).toBeUndefined();
    const registries = data.namespace.registries.nodes;
    expect(registries).toHaveLength(REGISTRIES);
    for (const registry of registries) {
      expect(registry).toMatchObject({ repositoryCount: REPOSITORIES, imageCount: REPOSITORIES * TAGS });
      expect(registry.repositories.nodes).toHaveLength(REPOSITORIES);
      for (const repository of registry.repositories.nodes) {
        expect(repository.tags.nodes).toHaveLength(TAGS);
        for (const tag of repository.tags.nodes) expect(tag.image).toMatchObject({ os: 'linux', architecture: 'amd64', layers: [expect.any(Object)] });
      }
    }
    expect(extensions?.backendCalls).toEqual({ total: 0, catalog: 0, tags: 0, manifests: 0, configs: 0, repeated: 0 });
  });

  it('reports the calls only when asked to', async () => {
    const response = await app.server.yoga.fetch('http://berth.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: '{ viewer { name } }' }),
    });
    expect(await response.json()).toEqual({ data: { viewer: { name: 'owner' } } });
  });
});
