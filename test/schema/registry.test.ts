import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry, uniqueSlug } from '../support/fixtures.js';
import { CREATE_REGISTRY, DELETE_REGISTRY, NAMESPACE_WITH_REGISTRIES, UPDATE_REGISTRY } from './operations.js';

const app = useTestApp({ BERTH_PUBLIC_REGISTRY_HOST: 'registry.test:5000' });

describe('createRegistry', () => {
  it('creates an ACTIVE hosted registry whose endpoint is the public host and slug', async () => {
    const namespace = await createNamespace(app.admin);
    const slug = uniqueSlug('csaw');
    const { data } = await app.admin.execute(CREATE_REGISTRY, {
      input: { namespaceId: namespace.id, name: 'CSAW', slug, public: true, quotaBytes: 53_687_091_200 },
    });
    expect(data.createRegistry).toMatchObject({
      __typename: 'CreateRegistryPayload',
      registry: {
        kind: 'HOSTED',
        name: 'CSAW',
        slug,
        endpoint: `registry.test:5000/${slug}`,
        public: true,
        state: 'ACTIVE',
        isDefault: false,
        quota: { limitBytes: 53_687_091_200 },
        namespace: { slug: namespace.slug },
      },
    });
  });

  it('defaults to private and unlimited', async () => {
    const namespace = await createNamespace(app.admin);
    const { data } = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'plain', slug: uniqueSlug() } });
    expect(data.createRegistry.registry).toMatchObject({ public: false, quota: null });
  });

  it.each([
    ['a', 'slug'],
    ['Upper', 'slug'],
    ['ends-', 'slug'],
    ['-starts', 'slug'],
    ['two..dots', 'slug'],
    ['x'.repeat(64), 'slug'],
    ['has/slash', 'slug'],
  ])('refuses the slug %j with a ValidationError on %s', async (slug, field) => {
    const namespace = await createNamespace(app.admin);
    const { data } = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'n', slug } });
    expect(data.createRegistry).toMatchObject({ __typename: 'ValidationError', field });
  });

  it('refuses a reserved slug', async () => {
    const namespace = await createNamespace(app.admin);
    const { data } = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'n', slug: 'library' } });
    expect(data.createRegistry).toMatchObject({ __typename: 'ValidationError', field: 'slug', message: '"library" is reserved' });
  });

  it('refuses an empty name and a non-positive quota', async () => {
    const namespace = await createNamespace(app.admin);
    const empty = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: '  ', slug: uniqueSlug() } });
    expect(empty.data.createRegistry).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    const quota = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'q', slug: uniqueSlug(), quotaBytes: 0 } });
    expect(quota.data.createRegistry).toMatchObject({ __typename: 'ValidationError', field: 'quotaBytes' });
  });

  it('answers ConflictError for a slug taken in another namespace, and for a duplicate name', async () => {
    const first = await createNamespace(app.admin);
    const second = await createNamespace(app.admin);
    const taken = await createRegistry(app.admin, first.id, { name: 'shared-name' });
    const slugClash = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: second.id, name: 'other', slug: taken.slug } });
    expect(slugClash.data.createRegistry).toMatchObject({ __typename: 'ConflictError', message: `the slug "${taken.slug}" is taken` });
    const nameClash = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: first.id, name: 'shared-name', slug: uniqueSlug() } });
    expect(nameClash.data.createRegistry.__typename).toBe('ConflictError');
    expect(await app.db.registry.count({ where: { namespace: { slug: { in: [first.slug, second.slug] } } } })).toBe(1);
  });

  it('answers NotFoundError for a namespace ID that does not exist or names another type', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    for (const namespaceId of ['bm9wZQ==', 'not base64 at all', registry.id]) {
      const { data } = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId, name: 'x', slug: uniqueSlug() } });
      expect(data.createRegistry.__typename).toBe('NotFoundError');
    }
  });

  it('lets a MAINTAINER create and refuses a VIEWER with ForbiddenError', async () => {
    const namespace = await createNamespace(app.admin);
    const maintainer = await app.user();
    const viewer = await app.user();
    await addMember(app.admin, namespace.id, maintainer, 'MAINTAINER');
    await addMember(app.admin, namespace.id, viewer, 'VIEWER');
    const ok = await maintainer.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'm', slug: uniqueSlug() } });
    expect(ok.data.createRegistry.__typename).toBe('CreateRegistryPayload');
    const refused = await viewer.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'v', slug: uniqueSlug() } });
    expect(refused.data.createRegistry.__typename).toBe('ForbiddenError');
  });

  it('answers ForbiddenError to anonymous callers', async () => {
    const namespace = await createNamespace(app.admin);
    const { data } = await app.anonymous.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'x', slug: uniqueSlug() } });
    expect(data.createRegistry.__typename).toBe('ForbiddenError');
  });
});

describe('registrySlugAvailability', () => {
  const query = `query ($slug: String!) { registrySlugAvailability(slug: $slug) { slug available reason message } }`;

  it('reports available, TAKEN, INVALID and RESERVED', async () => {
    const namespace = await createNamespace(app.admin);
    const taken = await createRegistry(app.admin, namespace.id);
    const free = uniqueSlug();
    const answers = await Promise.all([free, taken.slug, 'No_Good', 'v2'].map((slug) => app.admin.execute(query, { slug })));
    expect(answers.map((a) => a.data.registrySlugAvailability)).toEqual([
      { slug: free, available: true, reason: null, message: null },
      { slug: taken.slug, available: false, reason: 'TAKEN', message: expect.any(String) },
      { slug: 'No_Good', available: false, reason: 'INVALID', message: expect.any(String) },
      { slug: 'v2', available: false, reason: 'RESERVED', message: '"v2" is reserved' },
    ]);
  });
});

describe('updateRegistry', () => {
  it('changes name, visibility and quota, and keeps omitted fields', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id, { name: 'before', quotaBytes: 1000 });
    const renamed = await app.admin.execute(UPDATE_REGISTRY, { input: { id: registry.id, name: 'after', public: true } });
    expect(renamed.data.updateRegistry.registry).toMatchObject({ name: 'after', public: true, quota: { limitBytes: 1000 } });
    const unlimited = await app.admin.execute(UPDATE_REGISTRY, { input: { id: registry.id, quotaBytes: null } });
    expect(unlimited.data.updateRegistry.registry).toMatchObject({ name: 'after', public: true, quota: null });
    const big = await app.admin.execute(UPDATE_REGISTRY, { input: { id: registry.id, quotaBytes: 2 ** 40 } });
    expect(big.data.updateRegistry.registry.quota).toEqual({ limitBytes: 2 ** 40 });
  });

  it('answers ValidationError, ConflictError and NotFoundError without changing anything', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id, { name: 'keep' });
    await createRegistry(app.admin, namespace.id, { name: 'taken' });
    const invalid = await app.admin.execute(UPDATE_REGISTRY, { input: { id: registry.id, name: '' } });
    expect(invalid.data.updateRegistry).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    const conflict = await app.admin.execute(UPDATE_REGISTRY, { input: { id: registry.id, name: 'taken' } });
    expect(conflict.data.updateRegistry.__typename).toBe('ConflictError');
    const missing = await app.admin.execute(UPDATE_REGISTRY, { input: { id: 'UmVnaXN0cnk6bm9wZQ==', name: 'x' } });
    expect(missing.data.updateRegistry.__typename).toBe('NotFoundError');
    const { data } = await app.admin.execute(`query ($id: ID!) { node(id: $id) { ... on Registry { name } } }`, { id: registry.id });
    expect(data.node.name).toBe('keep');
  });
});

describe('deleteRegistry', () => {
  it('deletes an empty registry, frees its slug, and then answers NotFoundError', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    const { data } = await app.admin.execute(DELETE_REGISTRY, { input: { id: registry.id } });
    expect(data.deleteRegistry).toEqual({ __typename: 'DeleteRegistryPayload', deletedId: registry.id });
    const again = await app.admin.execute(DELETE_REGISTRY, { input: { id: registry.id } });
    expect(again.data.deleteRegistry.__typename).toBe('NotFoundError');
    const reuse = await app.admin.execute(CREATE_REGISTRY, { input: { namespaceId: namespace.id, name: 'again', slug: registry.slug } });
    expect(reuse.data.createRegistry.__typename).toBe('CreateRegistryPayload');
  });

  it('is for OWNERs only: a MAINTAINER gets ForbiddenError', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    const maintainer = await app.user();
    await addMember(app.admin, namespace.id, maintainer, 'MAINTAINER');
    const { data } = await maintainer.execute(DELETE_REGISTRY, { input: { id: registry.id } });
    expect(data.deleteRegistry.__typename).toBe('ForbiddenError');
    expect(await app.db.registry.count({ where: { slug: registry.slug } })).toBe(1);
  });
});

describe('Namespace.registries', () => {
  it('pages through every registry exactly once, with totalCount, in name order', async () => {
    const namespace = await createNamespace(app.admin);
    const names = Array.from({ length: 7 }, (_, i) => `registry-${String.fromCharCode(103 - i)}`);
    for (const name of names) await createRegistry(app.admin, namespace.id, { name });
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const { data } = await app.admin.execute(NAMESPACE_WITH_REGISTRIES, { slug: namespace.slug, first: 3, after });
      const connection = data.namespace.registries;
      expect(connection.totalCount).toBe(7);
      seen.push(...connection.nodes.map((n: { name: string }) => n.name));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual([...names].sort());
  });

  it('orders by CREATED_AT descending and filters by kind', async () => {
    const namespace = await createNamespace(app.admin);
    for (const name of ['first', 'second', 'third']) await createRegistry(app.admin, namespace.id, { name });
    const newest = await app.admin.execute(NAMESPACE_WITH_REGISTRIES, {
      slug: namespace.slug,
      first: 10,
      orderBy: { field: 'CREATED_AT', direction: 'DESC' },
    });
    expect(newest.data.namespace.registries.nodes.map((n: { name: string }) => n.name)).toEqual(['third', 'second', 'first']);
    const external = await app.admin.execute(NAMESPACE_WITH_REGISTRIES, { slug: namespace.slug, first: 10, kind: 'EXTERNAL' });
    expect(external.data.namespace.registries).toMatchObject({ totalCount: 0, nodes: [] });
    const hosted = await app.admin.execute(NAMESPACE_WITH_REGISTRIES, { slug: namespace.slug, first: 10, kind: 'HOSTED' });
    expect(hosted.data.namespace.registries.totalCount).toBe(3);
  });

  it('refetches a registry through node(id) and nodes(ids)', async () => {
    const namespace = await createNamespace(app.admin);
    const a = await createRegistry(app.admin, namespace.id, { name: 'a' });
    const b = await createRegistry(app.admin, namespace.id, { name: 'b' });
    const { data } = await app.admin.execute(`query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Registry { name namespace { slug } } } }`, {
      ids: [b.id, a.id],
    });
    expect(data.nodes).toEqual([
      { id: b.id, name: 'b', namespace: { slug: namespace.slug } },
      { id: a.id, name: 'a', namespace: { slug: namespace.slug } },
    ]);
  });
});
