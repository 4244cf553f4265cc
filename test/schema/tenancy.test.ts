import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../support/app.js';
import { useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry, uniqueSlug } from '../support/fixtures.js';
import { ADD_MEMBER, CREATE_REGISTRY, DELETE_NAMESPACE, DELETE_REGISTRY, UPDATE_NAMESPACE, UPDATE_REGISTRY } from './operations.js';

const app = useTestApp();

/** Alice owns a namespace with a registry; Mallory is a user of the same berth who belongs to none of it. */
let alice: Client;
let mallory: Client;
let namespace: { id: string; slug: string };
let registry: { id: string; slug: string };
let aliceUserId: string;

beforeAll(async () => {
  alice = await app.user('alice');
  mallory = await app.user('mallory');
  namespace = await createNamespace(alice);
  registry = await createRegistry(alice, namespace.id, { name: 'private-images' });
  aliceUserId = alice.userId;
  await createNamespace(mallory);
});

describe('a user outside the namespace', () => {
  it('does not see it in namespaces or namespace(slug)', async () => {
    const { data } = await mallory.execute(`query ($slug: String!) {
      namespaces(first: 100) { totalCount nodes { slug } }
      namespace(slug: $slug) { id }
    }`, { slug: namespace.slug });
    expect(data.namespaces.totalCount).toBe(1);
    expect(data.namespaces.nodes.map((n: { slug: string }) => n.slug)).not.toContain(namespace.slug);
    expect(data.namespace).toBeNull();
  });

  it('gets null from node and nodes for the namespace, the registry and alice', async () => {
    const ids = [namespace.id, registry.id, aliceUserId];
    for (const id of ids) {
      const { data, errors } = await mallory.execute(`query ($id: ID!) { node(id: $id) { id } }`, { id });
      expect(errors).toBeUndefined();
      expect(data.node).toBeNull();
    }
    const { data } = await mallory.execute(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids });
    expect(data.nodes).toEqual([null, null, null]);
  });

  it('learns only that the slug is taken, as anyone must before choosing one', async () => {
    const { data } = await mallory.execute(`query ($slug: String!) { registrySlugAvailability(slug: $slug) { available reason } }`, { slug: registry.slug });
    expect(data.registrySlugAvailability).toEqual({ available: false, reason: 'TAKEN' });
  });

  it('gets NotFoundError from every mutation, and nothing changes', async () => {
    const attempts: [string, string, Record<string, unknown>][] = [
      ['updateNamespace', UPDATE_NAMESPACE, { id: namespace.id, name: 'pwned' }],
      ['deleteNamespace', DELETE_NAMESPACE, { id: namespace.id }],
      ['addNamespaceMember', ADD_MEMBER, { namespaceId: namespace.id, userId: mallory.userId, role: 'OWNER' }],
      ['createRegistry', CREATE_REGISTRY, { namespaceId: namespace.id, name: 'sneaky', slug: uniqueSlug() }],
      ['updateRegistry', UPDATE_REGISTRY, { id: registry.id, public: true }],
      ['deleteRegistry', DELETE_REGISTRY, { id: registry.id, force: true }],
    ];
    for (const [field, document, input] of attempts) {
      const { data } = await mallory.execute(document, { input });
      expect({ field, typename: data[field].__typename }).toEqual({ field, typename: 'NotFoundError' });
    }
    const { data } = await alice.execute(`query ($slug: String!) {
      namespace(slug: $slug) { name members(first: 10) { totalCount } registries(first: 10) { totalCount nodes { name public } } }
    }`, { slug: namespace.slug });
    expect(data.namespace).toEqual({
      name: `Namespace ${namespace.slug}`,
      members: { totalCount: 1 },
      registries: { totalCount: 1, nodes: [{ name: 'private-images', public: false }] },
    });
  });

  it('sees the namespace once added, and only as the role given', async () => {
    const late = await app.user();
    await addMember(alice, namespace.id, late, 'VIEWER');
    const { data } = await late.execute(`query ($id: ID!) { node(id: $id) { ... on Registry { name namespace { viewerRole } } } }`, { id: registry.id });
    expect(data.node).toEqual({ name: 'private-images', namespace: { viewerRole: 'VIEWER' } });
    const update = await late.execute(UPDATE_REGISTRY, { input: { id: registry.id, public: true } });
    expect(update.data.updateRegistry.__typename).toBe('ForbiddenError');
  });
});

describe('an anonymous caller', () => {
  it('sees no namespaces and no nodes', async () => {
    const { data } = await app.anonymous.execute(`query ($id: ID!) { namespaces(first: 10) { totalCount } node(id: $id) { id } }`, { id: registry.id });
    expect(data).toEqual({ namespaces: { totalCount: 0 }, node: null });
  });
});
