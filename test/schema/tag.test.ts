import { decodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { recordedPush } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, buildIndex, pushArtifact } from '../support/oci-images.js';

const app = useTestApp();

let owner: Client;
let outsider: Client;
let registry: { id: string; slug: string };

const stable = buildImage();
const edge = buildIndex([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
]);

// Pushed in this order (b, c, a), so push order and name order differ.
beforeAll(async () => {
  owner = await app.user('owner');
  outsider = await app.user('outsider');
  registry = await createRegistry(owner, (await createNamespace(owner)).id);
  const repository = `${registry.slug}/tools`;
  for (const [tag, artifact] of [['b-stable', stable], ['c-edge', edge], ['a-stable', stable]] as const) {
    await pushArtifact(app.registry.client, repository, tag, artifact);
    await recordedPush(app.db, repository, tag);
  }
  const signatureTag = `${stable.digest.replace(':', '-')}.sig`;
  await pushArtifact(app.registry.client, repository, signatureTag, buildImage());
  await recordedPush(app.db, repository, signatureTag);
});

const TAGS = /* GraphQL */ `
  query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $orderBy: TagOrder) {
    node(id: $id) {
      ... on Registry {
        repository(name: "tools") {
          tags(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            nodes { id name digest sizeBytes pushedAt pulledAt signed image { digest } repository { path } }
          }
        }
      }
    }
  }
`;

async function tags(variables: Record<string, unknown>) {
  const { data, errors } = await owner.execute(TAGS, { id: registry.id, ...variables });
  expect(errors).toBeUndefined();
  return data.node.repository.tags;
}

describe('Repository.tags', () => {
  it('orders by name by default and pages forward and backward with totalCount', async () => {
    const page = await tags({ first: 2 });
    expect(page.totalCount).toBe(4);
    expect(page.nodes.map((t: { name: string }) => t.name)).toEqual(['a-stable', 'b-stable']);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const rest = await tags({ first: 10, after: page.pageInfo.endCursor });
    expect(rest.nodes.map((t: { name: string }) => t.name)).toEqual(['c-edge', `${stable.digest.replace(':', '-')}.sig`]);
    const back = await tags({ last: 1, before: rest.pageInfo.startCursor });
    expect(back.nodes.map((t: { name: string }) => t.name)).toEqual(['b-stable']);
  });

  it('orders by push time, newest first, and pages through that order', async () => {
    // The signature was pushed last; dated back, it sorts first in ascending order.
    await app.db.contentTag.updateMany({ where: { name: { endsWith: '.sig' } }, data: { pushedAt: new Date('2020-01-01T00:00:00Z') } });
    const page = await tags({ first: 10, orderBy: { field: 'PUSHED_AT', direction: 'DESC' } });
    expect(page.nodes.map((t: { name: string }) => t.name)).toEqual(['a-stable', 'c-edge', 'b-stable', `${stable.digest.replace(':', '-')}.sig`]);
    expect(page.nodes[3].pushedAt).toBe('2020-01-01T00:00:00.000Z');
    const first = await tags({ first: 2, orderBy: { field: 'PUSHED_AT', direction: 'ASC' } });
    const next = await tags({ first: 2, after: first.pageInfo.endCursor, orderBy: { field: 'PUSHED_AT', direction: 'ASC' } });
    expect([...first.nodes, ...next.nodes].map((t: { name: string }) => t.name)).toEqual([`${stable.digest.replace(':', '-')}.sig`, 'b-stable', 'c-edge', 'a-stable']);
    expect(next.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it('gives each tag its digest, image, size and signature flag', async () => {
    const byName = new Map((await tags({ first: 10 })).nodes.map((t: { name: string }) => [t.name, t]));
    const stableSize = stable.config.size + stable.layers[0]!.size;
    const edgeSize = edge.children.reduce((total, child) => total + child.config.size + child.layers[0]!.size, 0);
    expect(byName.get('a-stable')).toMatchObject({ digest: stable.digest, image: { digest: stable.digest }, sizeBytes: stableSize, signed: true, pulledAt: null });
    expect(byName.get('b-stable')).toMatchObject({ digest: stable.digest, sizeBytes: stableSize, signed: true });
    expect(byName.get('c-edge')).toMatchObject({ digest: edge.digest, image: { digest: edge.digest }, sizeBytes: edgeSize, signed: false });
    expect(byName.get('c-edge')).toMatchObject({ repository: { path: `${registry.slug}/tools` } });
  });
});

describe('Tag lookups', () => {
  const TAG_NODE = `query ($id: ID!) { node(id: $id) { ... on Tag { name digest } } }`;

  it('finds a tag by name and by node ID, for members only', async () => {
    const { data } = await owner.execute(
      `query ($id: ID!) { node(id: $id) { ... on Registry { repository(name: "tools") {
        found: tag(name: "c-edge") { id name digest } missing: tag(name: "zzz") { name } invalid: tag(name: "../x") { name }
      } } } }`,
      { id: registry.id },
    );
    const { found, missing, invalid } = data.node.repository;
    expect({ missing, invalid }).toEqual({ missing: null, invalid: null });
    expect(decodeGlobalID(found.id)).toEqual({ typename: 'Tag', id: `${decodeGlobalID(registry.id).id}/tools:c-edge` });
    expect((await owner.execute(TAG_NODE, { id: found.id })).data.node).toEqual({ name: 'c-edge', digest: edge.digest });
    expect((await outsider.execute(TAG_NODE, { id: found.id })).data.node).toBeNull();
  });
});
