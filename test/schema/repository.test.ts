import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { clientAs, dedupedBytes, eventually, recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';

const app = useTestApp();

let owner: Client;
let viewer: Client;
let outsider: Client;
let namespace: { id: string; slug: string };
let registry: { id: string; slug: string };
let second: { id: string; slug: string };

// `sibling` shares its first layer with `base`; `base` is also in a second repository.
const base = buildImage();
const sibling = buildImage({ baseLayers: base.layers });
const other = buildImage();
const dropped = buildImage();

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  outsider = await app.user('outsider');
  namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  registry = await createRegistry(owner, namespace.id, { quotaBytes: 50_000_000 });
  second = await createRegistry(owner, namespace.id);
  const { client } = app.registry;
  const web = `${registry.slug}/web`;
  const api = `${registry.slug}/team/api`;
  await pushArtifact(client, web, 'v1', base);
  await pushArtifact(client, web, 'latest', base);
  await pushArtifact(client, web, 'v2', sibling);
  const droppedDigest = await pushArtifact(client, `${registry.slug}/emptied`, 'gone', dropped);
  await clientAs(app, 'alice').deleteManifest(`${registry.slug}/emptied`, droppedDigest);
  await pushArtifact(client, `${second.slug}/other`, 'v1', other);
  await recordedPush(app.db, web, 'v2');
  // Pushed last, so it is the repository with the newest push.
  await pushArtifact(client, api, 'copy', base);
  await pushArtifact(client, api, '1.0', other);
  await recordedPush(app.db, api, '1.0');
  await eventually(async () => (await app.db.contentRepository.count({ where: { path: `${registry.slug}/emptied` } })) === 0);
});

const REGISTRY_CONTENT = /* GraphQL */ `
  query ($id: ID!, $first: Int, $after: String, $query: String, $orderBy: RepositoryOrder) {
    node(id: $id) {
      ... on Registry {
        storageBytes repositoryCount imageCount lastPushedAt quota { limitBytes usedBytes }
        namespace { storageBytes }
        repositories(first: $first, after: $after, query: $query, orderBy: $orderBy) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes { id name path tagCount imageCount sizeBytes lastPushedAt registry { id } }
        }
      }
    }
  }
`;

describe('Registry content', () => {
  it('counts repositories, images and deduplicated storage; the namespace sums its registries', async () => {
    const { data, errors } = await viewer.execute(REGISTRY_CONTENT, { id: registry.id });
    expect(errors).toBeUndefined();
    const storage = dedupedBytes(base, sibling, other);
    expect(data.node).toMatchObject({
      storageBytes: storage,
      repositoryCount: 2,
      imageCount: 4,
      quota: { limitBytes: 50_000_000, usedBytes: storage },
      namespace: { storageBytes: storage + dedupedBytes(other) },
    });
    expect(Date.parse(data.node.lastPushedAt)).toBe(Date.parse(data.node.repositories.nodes[0].lastPushedAt));
  });

  it('lists the repositories that hold tags, with their own counts and sizes', async () => {
    const { data } = await viewer.execute(REGISTRY_CONTENT, { id: registry.id });
    expect(data.node.repositories.totalCount).toBe(2);
    expect(data.node.repositories.nodes).toEqual([
      expect.objectContaining({ name: 'team/api', path: `${registry.slug}/team/api`, tagCount: 2, imageCount: 2, sizeBytes: dedupedBytes(base, other) }),
      expect.objectContaining({ name: 'web', path: `${registry.slug}/web`, tagCount: 3, imageCount: 2, sizeBytes: dedupedBytes(base, sibling) }),
    ]);
    for (const repository of data.node.repositories.nodes) expect(repository.registry.id).toBe(registry.id);
    const [api, web] = data.node.repositories.nodes.map((r: { lastPushedAt: string }) => Date.parse(r.lastPushedAt));
    expect(api).toBeGreaterThan(web);
  });

  it('filters by name, orders by last push and pages with cursors', async () => {
    const filtered = await viewer.execute(REGISTRY_CONTENT, { id: registry.id, query: 'WE' });
    expect(filtered.data.node.repositories).toMatchObject({ totalCount: 1, nodes: [{ name: 'web' }] });

    const orderBy = { field: 'LAST_PUSHED_AT', direction: 'ASC' };
    const first = await viewer.execute(REGISTRY_CONTENT, { id: registry.id, first: 1, orderBy });
    expect(first.data.node.repositories).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [{ name: 'web' }] });
    const after = first.data.node.repositories.pageInfo.endCursor;
    const next = await viewer.execute(REGISTRY_CONTENT, { id: registry.id, first: 1, after, orderBy });
    expect(next.data.node.repositories).toMatchObject({ pageInfo: { hasNextPage: false }, nodes: [{ name: 'team/api' }] });
  });

  it('hides a repository whose tags are all gone, though the registry keeps it in its catalog', async () => {
    const catalog: string[] = [];
    for await (const path of app.registry.client.catalog()) catalog.push(path);
    expect(catalog).toContain(`${registry.slug}/emptied`);
    const { data } = await viewer.execute(
      `query ($id: ID!) { node(id: $id) { ... on Registry { emptied: repository(name: "emptied") { name } web: repository(name: "web") { name tagCount } invalid: repository(name: "No Such") { name } } } }`,
      { id: registry.id },
    );
    expect(data.node).toEqual({ emptied: null, web: { name: 'web', tagCount: 3 }, invalid: null });
  });
});

describe('Repository as a node', () => {
  const REPOSITORY_NODE = `query ($id: ID!) { node(id: $id) { id ... on Repository { name path registry { slug } } } }`;

  it('encodes the registry and the name, and resolves for members only', async () => {
    const id = encodeGlobalID('Repository', `${decodeGlobalID(registry.id).id}/team/api`);
    const asViewer = await viewer.execute(REPOSITORY_NODE, { id });
    expect(asViewer.data.node).toEqual({ id, name: 'team/api', path: `${registry.slug}/team/api`, registry: { slug: registry.slug } });
    const asOutsider = await outsider.execute(REPOSITORY_NODE, { id });
    expect(asOutsider).toMatchObject({ data: { node: null } });
    expect(asOutsider.errors).toBeUndefined();
    expect((await app.anonymous.execute(REPOSITORY_NODE, { id })).data.node).toBeNull();
  });

  it('answers null for a repository without tags and for malformed IDs', async () => {
    const registryId = decodeGlobalID(registry.id).id;
    for (const raw of [`${registryId}/emptied`, `${registryId}/nope`, registryId, `/web`, `${registryId}/../web`]) {
      const { data, errors } = await owner.execute(REPOSITORY_NODE, { id: encodeGlobalID('Repository', raw) });
      expect({ raw, node: data.node, errors }).toEqual({ raw, node: null, errors: undefined });
    }
  });
});
