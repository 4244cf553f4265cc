import { readFile } from 'node:fs/promises';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, type GraphQLResponse, useTestApp } from '../support/app.js';
import { executeCountingCalls } from '../support/content.js';
import { addMember, createNamespace } from '../support/fixtures.js';
import { buildImage, buildIndex, pushArtifact } from '../support/oci-images.js';
import { freePort } from '../support/registry-process.js';
import {
  type OtherBerth,
  type OutsideRegistry,
  startHtpasswdRegistry,
  startOtherBerth,
  startSelfSignedServer,
  startWebServer,
} from '../support/remote-registries.js';

const app = useTestApp({}, {}, { captureLogs: true });

let owner: Client;
let viewer: Client;
let namespace: { id: string; slug: string };
let outside: OutsideRegistry;
let readOnly: OutsideRegistry;
let other: OtherBerth;
/** Every GraphQL answer of this file, searched for the passwords at the end. */
const answers: GraphQLResponse[] = [];

const image = buildImage({ layerCount: 2 });
const index = buildIndex([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]);

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  [outside, readOnly, other] = await Promise.all([startHtpasswdRegistry(), startHtpasswdRegistry({ deletes: false }), startOtherBerth()]);
  await pushArtifact(outside.client, 'library/app', 'v1', image);
  await pushArtifact(outside.client, 'library/app', 'multi', index);
  await pushArtifact(outside.client, 'library/app', `${image.digest.replace(':', '-')}.sig`, buildImage());
  await pushArtifact(outside.client, 'tools/cli', 'latest', buildImage());
  await pushArtifact(readOnly.client, 'kept/app', 'v1', buildImage());
});

afterAll(async () => {
  await Promise.all([outside?.dispose(), readOnly?.dispose(), other?.close()]);
});

async function run(client: Client, query: string, variables?: Record<string, unknown>) {
  const answer = await client.execute(query, variables);
  answers.push(answer);
  return answer;
}

const CONNECT = /* GraphQL */ `
  mutation ($input: ConnectExternalRegistryInput!) {
    connectExternalRegistry(input: $input) {
      __typename
      ... on ConnectExternalRegistryPayload { registry { id kind name url endpoint username hasPassword isDefault insecure slug state } }
      ... on RegistryConnectionError { reason message }
      ... on ValidationError { field message }
      ... on Error { message }
    }
  }
`;

const UPDATE = /* GraphQL */ `
  mutation ($input: UpdateRegistryInput!) {
    updateRegistry(input: $input) {
      __typename
      ... on UpdateRegistryPayload { registry { id url username hasPassword isDefault } }
      ... on RegistryConnectionError { reason message }
      ... on ValidationError { field message }
      ... on Error { message }
    }
  }
`;

const TEST = /* GraphQL */ `
  mutation ($input: TestRegistryConnectionInput!) {
    testRegistryConnection(input: $input) { __typename ... on TestRegistryConnectionPayload { ok latencyMs reason answer: message } ... on Error { message } }
  }
`;

async function connect(input: Record<string, unknown>, as = owner) {
  const { data, errors } = await run(as, CONNECT, { input: { namespaceId: namespace.id, ...input } });
  expect(errors).toBeUndefined();
  return data.connectExternalRegistry;
}

describe('connectExternalRegistry', () => {
  let connectionId: string;

  it('signs in to a registry with htpasswd (Basic) and keeps the password out of sight', async () => {
    const result = await connect({ name: 'outside', url: `${outside.url}/v2/`, username: outside.username, password: outside.password });
    expect(result).toMatchObject({
      __typename: 'ConnectExternalRegistryPayload',
      registry: { kind: 'EXTERNAL', name: 'outside', url: outside.url, endpoint: outside.url, username: outside.username, hasPassword: true, slug: null, state: 'ACTIVE' },
    });
    connectionId = result.registry.id;
    const stored = await app.db.registry.findUniqueOrThrow({ where: { id: decodeGlobalID(connectionId).id } });
    expect(stored.passwordCiphertext).toMatch(/^v1\./);
    expect(stored.passwordCiphertext).not.toContain(outside.password);
  });

  it('names what went wrong: a wrong password, a host nobody listens on, a web server, an untrusted certificate', async () => {
    const wrong = await connect({ name: 'wrong', url: `http://localhost:${new URL(outside.url).port}`, username: outside.username, password: 'not-the-password' });
    expect(wrong).toMatchObject({ __typename: 'RegistryConnectionError', reason: 'UNAUTHORIZED' });
    expect(wrong.message).toContain(`http://localhost:${new URL(outside.url).port}`);
    expect(wrong.message).not.toContain('not-the-password');

    const nobody = await connect({ name: 'nobody', url: `http://127.0.0.1:${await freePort()}` });
    expect(nobody).toMatchObject({ __typename: 'RegistryConnectionError', reason: 'UNREACHABLE', message: expect.stringContaining('unreachable') });

    const web = await startWebServer();
    const tls = await startSelfSignedServer();
    try {
      const notRegistry = await connect({ name: 'web', url: web.url });
      expect(notRegistry).toMatchObject({ __typename: 'RegistryConnectionError', reason: 'NOT_A_REGISTRY', message: expect.stringContaining('text/html') });
      expect(await connect({ name: 'tls', url: tls.url })).toMatchObject({ __typename: 'RegistryConnectionError', reason: 'TLS' });
    } finally {
      await Promise.all([web.close(), tls.close()]);
    }
    expect(await app.db.registry.count({ where: { kind: 'EXTERNAL', name: { in: ['wrong', 'nobody', 'web', 'tls'] } } })).toBe(0);
  });

  it('refuses plain http to a host that is not loopback unless insecure, paths, and the same URL twice', async () => {
    expect(await connect({ name: 'plain', url: 'http://10.1.2.3:5000' })).toMatchObject({ __typename: 'ValidationError', field: 'url' });
    expect(await connect({ name: 'path', url: `${outside.url}/some/path` })).toMatchObject({ __typename: 'ValidationError', field: 'url' });
    expect(await connect({ name: 'again', url: outside.url.replace('http://', 'HTTP://'), username: outside.username, password: outside.password })).toMatchObject({
      __typename: 'ConflictError',
      message: expect.stringContaining('already connected'),
    });
    expect(await connect({ name: 'viewer', url: readOnly.url }, viewer)).toMatchObject({ __typename: 'ForbiddenError' });
  });

  it('keeps one default per namespace: a new default clears the old one', async () => {
    const first = await connect({ name: 'readonly', url: readOnly.url, username: readOnly.username, password: readOnly.password, isDefault: true });
    expect(first.registry.isDefault).toBe(true);
    const { data } = await run(owner, UPDATE, { input: { id: connectionId, isDefault: true } });
    expect(data.updateRegistry).toMatchObject({ registry: { isDefault: true } });
    const defaults = await app.db.registry.findMany({ where: { namespaceId: decodeGlobalID(namespace.id).id, isDefault: true } });
    expect(defaults.map((registry) => registry.name)).toEqual(['outside']);
  });

  it('tests a connection on demand', async () => {
    const { data, errors } = await run(viewer, TEST, { input: { id: connectionId } });
    expect(errors).toBeUndefined();
    expect(data.testRegistryConnection).toMatchObject({ __typename: 'TestRegistryConnectionPayload', ok: true, reason: null, latencyMs: expect.any(Number) });
  });
});

const CONTENT = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Registry {
        storageBytes repositoryCount reclaimableBytes lastPushedAt
        repositories(first: 10) { totalCount nodes { name path tagCount exclusiveBytes } }
        repository(name: "library/app") {
          tags(first: 10) { totalCount nodes { name digest sizeBytes pushedAt signed exclusiveBytes } }
          v1: image(reference: "v1") { digest mediaType sizeBytes os architecture layers { digest sizeBytes } platforms { os } exclusiveBytes }
          multi: image(reference: "multi") { digest platforms { os architecture variant sizeBytes } }
        }
      }
    }
  }
`;

const registryId = async (name: string) => {
  const row = await app.db.registry.findFirstOrThrow({ where: { name, namespaceId: decodeGlobalID(namespace.id).id } });
  return Buffer.from(`Registry:${row.id}`).toString('base64');
};

describe('browsing an outside registry', () => {
  it('lists repositories, tags and images with sizes, platforms and signatures; no push times or exclusive bytes', async () => {
    const { data, errors } = await run(viewer, CONTENT, { id: await registryId('outside') });
    expect(JSON.stringify(errors)).toBeUndefined();
    const node = data.node;
    expect(node).toMatchObject({ repositoryCount: 2, reclaimableBytes: null, lastPushedAt: null });
    expect(node.repositories.nodes.map((r: { name: string; path: string; exclusiveBytes: null }) => [r.name, r.path, r.exclusiveBytes])).toEqual([
      ['library/app', 'library/app', null],
      ['tools/cli', 'tools/cli', null],
    ]);
    const tags = new Map(node.repository.tags.nodes.map((tag: { name: string }) => [tag.name, tag]));
    expect(tags.get('v1')).toEqual({ name: 'v1', digest: image.digest, sizeBytes: image.config.size + image.layers[0]!.size + image.layers[1]!.size, pushedAt: null, signed: true, exclusiveBytes: null });
    expect(node.repository.v1).toMatchObject({ digest: image.digest, os: 'linux', architecture: 'amd64', platforms: [], exclusiveBytes: null });
    expect(node.repository.v1.layers).toHaveLength(2);
    expect(node.repository.multi.platforms).toEqual([
      { os: 'linux', architecture: 'amd64', variant: null, sizeBytes: index.children[0]!.config.size + index.children[0]!.layers[0]!.size },
      { os: 'linux', architecture: 'arm64', variant: 'v8', sizeBytes: index.children[1]!.config.size + index.children[1]!.layers[0]!.size },
    ]);
  });

  it('batches its V2 calls: one catalog walk, one tag list per repository, and digests fetched once per process', async () => {
    const query = `query ($id: ID!) { node(id: $id) { ... on Registry { repositories(first: 10) { nodes { tags(first: 10) { nodes { digest image { os } } } } } } } }`;
    const id = await registryId('outside');
    const first = await executeCountingCalls(app, owner.token!, query, { id });
    expect(first.errors).toBeUndefined();
    expect(first.extensions?.backendCalls).toMatchObject({ catalog: 1, tags: 2, repeated: 0 });
    const again = await executeCountingCalls(app, owner.token!, query, { id });
    expect(again.extensions?.backendCalls).toMatchObject({ catalog: 1, tags: 2, configs: 0, repeated: 0 });
  });

  it('reaches another berth through its token flow: no catalog for a non-admin, repositories by name still work', async () => {
    const alice = await other.user('alice');
    const ns = await other.database.db.namespace.create({ data: { slug: 'team', name: 'Team', memberships: { create: { userId: alice.id, role: 'VIEWER' } } } });
    await other.database.db.registry.create({ data: { namespaceId: ns.id, kind: 'HOSTED', name: 'apps', slug: 'apps' } });
    await pushArtifact(other.berth.services.registry.client, 'apps/web', 'v2', image);
    const connected = await connect({ name: 'other berth', url: other.registryUrl, username: 'alice', password: alice.token });
    expect(connected.__typename).toBe('ConnectExternalRegistryPayload');
    const { data, errors } = await run(
      viewer,
      `query ($id: ID!) { node(id: $id) { ... on Registry { repositories(first: 5) { totalCount } repository(name: "apps/web") { tag(name: "v2") { digest sizeBytes } } } } }`,
      { id: connected.registry.id },
    );
    expect(data.node).toEqual({ repositories: null, repository: { tag: { digest: image.digest, sizeBytes: image.config.size + image.layers[0]!.size + image.layers[1]!.size } } });
    expect(errors?.map((error) => [error.path?.join('.'), error.extensions?.['code']])).toEqual([['node.repositories', 'CATALOG_REFUSED']]);
  });

  it('answers null with BACKEND_UNAVAILABLE while the outside registry is down', async () => {
    await readOnly.stop();
    try {
      const { data, errors } = await run(viewer, `query ($id: ID!) { node(id: $id) { ... on Registry { name repositories(first: 5) { totalCount } } } }`, {
        id: await registryId('readonly'),
      });
      expect(data.node).toEqual({ name: 'readonly', repositories: null });
      expect(errors?.map((error) => error.extensions?.['code'])).toEqual(['BACKEND_UNAVAILABLE']);
    } finally {
      await readOnly.start();
    }
  });
});

const DELETE_TAGS = /* GraphQL */ `
  mutation ($input: DeleteTagsInput!) {
    deleteTags(input: $input) { __typename ... on DeleteTagsPayload { deletedTagNames } ... on Error { message } }
  }
`;
const DELETE_REPOSITORY = /* GraphQL */ `
  mutation ($input: DeleteRepositoryInput!) {
    deleteRepository(input: $input) { __typename ... on DeleteRepositoryPayload { deletedTagNames } ... on Error { message } }
  }
`;

describe('deleting in an outside registry', () => {
  const repositoryId = async (registry: string, name: string) => Buffer.from(`Repository:${decodeGlobalID(await registryId(registry)).id}/${name}`).toString('base64');

  it('deletes a repository where the registry allows it (seed 001), and says so where it does not', async () => {
    const { data } = await run(owner, DELETE_REPOSITORY, { input: { id: await repositoryId('outside', 'tools/cli') } });
    expect(data.deleteRepository).toEqual({ __typename: 'DeleteRepositoryPayload', deletedTagNames: ['latest'] });
    expect(await outside.client.listTags('tools/cli')).toEqual([]);

    const refused = await run(owner, DELETE_TAGS, { input: { repositoryId: await repositoryId('readonly', 'kept/app'), names: ['v1'] } });
    expect(refused.data.deleteTags).toMatchObject({ __typename: 'OperationRefusedError', message: expect.stringContaining('refuses') });
    expect(await readOnly.client.listTags('kept/app')).toEqual(['v1']);
  });
});

describe('changing a connection', () => {
  it('drops the stored password when the URL changes without a new one, and signs in again first', async () => {
    const id = await registryId('readonly');
    const moved = await run(owner, UPDATE, { input: { id, url: `http://localhost:${new URL(outside.url).port}` } });
    // The password given for the old host is not sent to the new one: anonymous there is refused.
    expect(moved.data.updateRegistry).toMatchObject({ __typename: 'RegistryConnectionError', reason: 'UNAUTHORIZED' });
    const withPassword = await run(owner, UPDATE, { input: { id, url: `http://localhost:${new URL(readOnly.url).port}`, password: readOnly.password } });
    expect(withPassword.data.updateRegistry).toMatchObject({ registry: { url: `http://localhost:${new URL(readOnly.url).port}`, hasPassword: true } });
    const hosted = await app.db.registry.findFirst({ where: { kind: 'EXTERNAL', name: 'readonly' } });
    expect(hosted?.url).toBe(`http://localhost:${new URL(readOnly.url).port}`);
  });
});

describe('the passwords', () => {
  it('appear in no GraphQL answer, no log line and nowhere in the database file', async () => {
    const secrets = [outside.password, readOnly.password];
    const serialized = JSON.stringify(answers);
    for (const secret of secrets) expect(serialized).not.toContain(secret);
    expect(app.logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(app.logs.filter((line) => line.includes(secret))).toEqual([]);
    if (process.env['BERTH_TEST_DATABASE'] !== 'postgres') {
      const file = new URL(app.services.config.databaseUrl.replace(/^file:/, 'file://')).pathname;
      const bytes = Buffer.concat(await Promise.all([file, `${file}-wal`].map((name) => readFile(name).catch(() => Buffer.alloc(0)))));
      for (const secret of secrets) expect(bytes.includes(Buffer.from(secret))).toBe(false);
    }
  });
});
