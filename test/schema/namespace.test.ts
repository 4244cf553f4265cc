import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry, uniqueSlug } from '../support/fixtures.js';
import { ADD_MEMBER, CREATE_NAMESPACE, DELETE_NAMESPACE, DELETE_REGISTRY, UPDATE_NAMESPACE } from './operations.js';

const app = useTestApp();

describe('createNamespace', () => {
  it('creates the namespace and makes the creator its OWNER', async () => {
    const alice = await app.user('alice');
    const slug = uniqueSlug('acme');
    const { data } = await alice.execute(CREATE_NAMESPACE, { input: { slug, name: '  Acme Corp ' } });
    expect(data.createNamespace).toMatchObject({
      __typename: 'CreateNamespacePayload',
      namespace: { slug, name: 'Acme Corp', viewerRole: 'OWNER' },
    });
    const members = await alice.execute(`query ($slug: String!) { namespace(slug: $slug) { members(first: 5) { totalCount nodes { role user { name } } } } }`, { slug });
    expect(members.data.namespace.members).toEqual({ totalCount: 1, nodes: [{ role: 'OWNER', user: { name: 'alice' } }] });
  });

  it('answers ValidationError for a bad slug or name, ConflictError for a taken slug, ForbiddenError when anonymous', async () => {
    const bad = await app.admin.execute(CREATE_NAMESPACE, { input: { slug: 'Bad Slug', name: 'x' } });
    expect(bad.data.createNamespace).toMatchObject({ __typename: 'ValidationError', field: 'slug' });
    const noName = await app.admin.execute(CREATE_NAMESPACE, { input: { slug: uniqueSlug(), name: '' } });
    expect(noName.data.createNamespace).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    const existing = await createNamespace(app.admin);
    const taken = await app.admin.execute(CREATE_NAMESPACE, { input: { slug: existing.slug, name: 'again' } });
    expect(taken.data.createNamespace).toMatchObject({ __typename: 'ConflictError', message: `the namespace slug "${existing.slug}" is taken` });
    const anonymous = await app.anonymous.execute(CREATE_NAMESPACE, { input: { slug: uniqueSlug(), name: 'x' } });
    expect(anonymous.data.createNamespace.__typename).toBe('ForbiddenError');
  });
});

describe('updateNamespace', () => {
  it('renames for an OWNER; refuses MAINTAINERs, bad names and unknown IDs', async () => {
    const owner = await app.user();
    const maintainer = await app.user();
    const namespace = await createNamespace(owner);
    await addMember(owner, namespace.id, maintainer, 'MAINTAINER');
    const renamed = await owner.execute(UPDATE_NAMESPACE, { input: { id: namespace.id, name: 'Renamed' } });
    expect(renamed.data.updateNamespace.namespace).toMatchObject({ name: 'Renamed', slug: namespace.slug });
    const forbidden = await maintainer.execute(UPDATE_NAMESPACE, { input: { id: namespace.id, name: 'Nope' } });
    expect(forbidden.data.updateNamespace.__typename).toBe('ForbiddenError');
    const invalid = await owner.execute(UPDATE_NAMESPACE, { input: { id: namespace.id, name: 'x'.repeat(101) } });
    expect(invalid.data.updateNamespace).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    const missing = await owner.execute(UPDATE_NAMESPACE, { input: { id: 'TmFtZXNwYWNlOm5vbmU=', name: 'x' } });
    expect(missing.data.updateNamespace.__typename).toBe('NotFoundError');
    const { data } = await owner.execute(`query ($slug: String!) { namespace(slug: $slug) { name } }`, { slug: namespace.slug });
    expect(data.namespace.name).toBe('Renamed');
  });
});

describe('deleteNamespace', () => {
  it('refuses while registries remain, then deletes once they are gone', async () => {
    const namespace = await createNamespace(app.admin);
    const registry = await createRegistry(app.admin, namespace.id);
    const refused = await app.admin.execute(DELETE_NAMESPACE, { input: { id: namespace.id } });
    expect(refused.data.deleteNamespace).toMatchObject({ __typename: 'ConflictError', message: expect.stringContaining('1 registry') });
    await app.admin.execute(DELETE_REGISTRY, { input: { id: registry.id } });
    const deleted = await app.admin.execute(DELETE_NAMESPACE, { input: { id: namespace.id } });
    expect(deleted.data.deleteNamespace).toEqual({ __typename: 'DeleteNamespacePayload', deletedId: namespace.id });
    const { data } = await app.admin.execute(`query ($slug: String!) { namespace(slug: $slug) { id } }`, { slug: namespace.slug });
    expect(data.namespace).toBeNull();
    const again = await app.admin.execute(DELETE_NAMESPACE, { input: { id: namespace.id } });
    expect(again.data.deleteNamespace.__typename).toBe('NotFoundError');
  });

  it('is for OWNERs only', async () => {
    const owner = await app.user();
    const maintainer = await app.user();
    const namespace = await createNamespace(owner);
    await addMember(owner, namespace.id, maintainer, 'MAINTAINER');
    const { data } = await maintainer.execute(DELETE_NAMESPACE, { input: { id: namespace.id } });
    expect(data.deleteNamespace.__typename).toBe('ForbiddenError');
    expect(await app.db.namespace.count({ where: { slug: namespace.slug } })).toBe(1);
  });
});

describe('addNamespaceMember', () => {
  it('gives the role, which then governs what the member may do', async () => {
    const owner = await app.user();
    const viewer = await app.user();
    const namespace = await createNamespace(owner);
    const { data } = await owner.execute(ADD_MEMBER, { input: { namespaceId: namespace.id, userId: viewer.userId, role: 'VIEWER' } });
    expect(data.addNamespaceMember).toMatchObject({ __typename: 'AddNamespaceMemberPayload', member: { role: 'VIEWER' } });
    const seen = await viewer.execute(`{ namespaces(first: 5) { totalCount nodes { slug viewerRole } } }`);
    expect(seen.data.namespaces).toEqual({ totalCount: 1, nodes: [{ slug: namespace.slug, viewerRole: 'VIEWER' }] });
    const escalate = await viewer.execute(ADD_MEMBER, { input: { namespaceId: namespace.id, userId: viewer.userId, role: 'OWNER' } });
    expect(escalate.data.addNamespaceMember.__typename).toBe('ForbiddenError');
  });

  it('answers ConflictError for an existing member and NotFoundError for an unknown user or namespace', async () => {
    const owner = await app.user();
    const namespace = await createNamespace(owner);
    const twice = await owner.execute(ADD_MEMBER, { input: { namespaceId: namespace.id, userId: owner.userId, role: 'VIEWER' } });
    expect(twice.data.addNamespaceMember.__typename).toBe('ConflictError');
    const noUser = await owner.execute(ADD_MEMBER, { input: { namespaceId: namespace.id, userId: 'VXNlcjpub2JvZHk=', role: 'VIEWER' } });
    expect(noUser.data.addNamespaceMember.__typename).toBe('NotFoundError');
    const wrongType = await owner.execute(ADD_MEMBER, { input: { namespaceId: namespace.id, userId: namespace.id, role: 'VIEWER' } });
    expect(wrongType.data.addNamespaceMember.__typename).toBe('NotFoundError');
    const noNamespace = await owner.execute(ADD_MEMBER, { input: { namespaceId: 'TmFtZXNwYWNlOm5vbmU=', userId: owner.userId, role: 'VIEWER' } });
    expect(noNamespace.data.addNamespaceMember.__typename).toBe('NotFoundError');
  });
});

describe('namespaces', () => {
  it('pages in slug order with totalCount; admins see every namespace', async () => {
    const user = await app.user();
    const slugs = [uniqueSlug('p'), uniqueSlug('q'), uniqueSlug('r'), uniqueSlug('s'), uniqueSlug('t')];
    for (const slug of slugs) await createNamespace(user, slug);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const { data } = await user.execute(`query ($after: String) { namespaces(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { slug } } }`, { after });
      expect(data.namespaces.totalCount).toBe(5);
      seen.push(...data.namespaces.nodes.map((n: { slug: string }) => n.slug));
      after = data.namespaces.pageInfo.hasNextPage ? data.namespaces.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual([...slugs].sort());
    const all = await app.admin.execute(`{ namespaces(first: 100) { totalCount nodes { slug } } }`);
    const adminSlugs = all.data.namespaces.nodes.map((n: { slug: string }) => n.slug);
    expect(adminSlugs).toEqual(expect.arrayContaining(slugs));
    expect(all.data.namespaces.totalCount).toBe(await app.db.namespace.count());
  });

  it('answers every field of a first page as the lookup by slug does, whether or not nodes select a relation', async () => {
    const user = await app.user();
    const namespace = await createNamespace(user);
    await createRegistry(user, namespace.id);
    const fields = 'id slug name createdAt updatedAt viewerRole';
    const page = await user.execute(`{ namespaces(first: 10, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount nodes { ${fields} } } }`);
    const withRelation = await user.execute(`{ namespaces(first: 10) { totalCount nodes { ${fields} registries(first: 1) { totalCount } } } }`);
    const lookup = await user.execute(`query ($slug: String!) { namespace(slug: $slug) { ${fields} } }`, { slug: namespace.slug });
    expect(page.data.namespaces).toEqual({ totalCount: 1, nodes: [lookup.data.namespace] });
    expect(withRelation.data.namespaces).toEqual({ totalCount: 1, nodes: [{ ...lookup.data.namespace, registries: { totalCount: 1 } }] });
  });

  it("answers the same instants whatever the server's time zone", async () => {
    const user = await app.user();
    const namespace = await createNamespace(user);
    const lookup = await user.execute(`query ($slug: String!) { namespace(slug: $slug) { createdAt updatedAt } }`, { slug: namespace.slug });
    const zone = process.env['TZ'];
    process.env['TZ'] = 'America/New_York';
    try {
      const page = await user.execute(`{ namespaces(first: 1) { nodes { createdAt updatedAt } } }`);
      expect(page.data.namespaces.nodes).toEqual([lookup.data.namespace]);
    } finally {
      if (zone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = zone;
    }
  });

  it('counts the same whether totalCount comes alone, with nodes, through fragments, or after a cursor', async () => {
    const user = await app.user();
    for (let i = 0; i < 3; i++) await createNamespace(user);
    const count = (query: string) => user.execute(query).then(({ data }) => data.namespaces);
    expect(await count('{ namespaces(first: 2) { totalCount } }')).toEqual({ totalCount: 3 });
    expect(await count('{ namespaces(first: 2) { ... on NamespaceConnection { totalCount } nodes { slug } } }')).toMatchObject({ totalCount: 3, nodes: [{}, {}] });
    expect(await count('{ namespaces(first: 2) { ...counted nodes { slug } } } fragment counted on NamespaceConnection { totalCount }')).toMatchObject({ totalCount: 3 });
    const first = await count('{ namespaces(first: 1) { totalCount pageInfo { endCursor } } }');
    expect(await count(`{ namespaces(first: 5, after: "${first.pageInfo.endCursor}") { totalCount nodes { slug } } }`)).toMatchObject({ totalCount: 3, nodes: [{}, {}] });
    expect(await count('{ namespaces(first: 5) { nodes { slug } } }')).toMatchObject({ nodes: [{}, {}, {}] });
  });

  it('orders by NAME descending', async () => {
    const user = await app.user();
    await createNamespace(user);
    await createNamespace(user);
    await createNamespace(user);
    const { data } = await user.execute(`{ namespaces(first: 10, orderBy: { field: NAME, direction: DESC }) { nodes { name } } }`);
    const names = data.namespaces.nodes.map((n: { name: string }) => n.name);
    expect(names).toEqual([...names].sort().reverse());
    expect(names).toHaveLength(3);
  });
});
