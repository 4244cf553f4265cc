import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { addMember, createNamespace, uniqueSlug } from '../support/fixtures.js';
import { CREATE_REGISTRY } from './operations.js';

const app = useTestApp({ BERTH_PUBLIC_REGISTRY_HOST: 'registry.test:5000' });

const CREATE_WITH_CREDENTIALS = CREATE_REGISTRY.replace(
  '... on CreateRegistryPayload {',
  '... on CreateRegistryPayload { credentials { username password endpoint dockerConfig }',
);
const ROTATE = `mutation ($input: RotateRegistryCredentialsInput!) {
  rotateRegistryCredentials(input: $input) {
    __typename
    ... on RotateRegistryCredentialsPayload { registry { id credentials { rotatedAt } } credentials { username password endpoint dockerConfig } }
    ... on Error { message }
  }
}`;
const CREDENTIALS = `query ($id: ID!) { node(id: $id) { ... on Registry { credentials { username endpoint createdAt rotatedAt lastUsedAt } } } }`;

async function hostedRegistry() {
  const namespace = await createNamespace(app.admin);
  const slug = uniqueSlug('robo');
  const { data } = await app.admin.execute(CREATE_WITH_CREDENTIALS, { input: { namespaceId: namespace.id, name: slug, slug } });
  return { namespace, slug, id: data.createRegistry.registry.id as string, credentials: data.createRegistry.credentials };
}

describe('robot credentials', () => {
  it('are issued once with the registry, with a docker config for its host', async () => {
    const { slug, id, credentials } = await hostedRegistry();
    expect(credentials).toMatchObject({ username: `robot$${slug}`, endpoint: 'registry.test:5000' });
    expect(credentials.password).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(JSON.parse(credentials.dockerConfig)).toEqual({
      auths: { 'registry.test:5000': { auth: Buffer.from(`robot$${slug}:${credentials.password}`).toString('base64') } },
    });
    const { data } = await app.admin.execute(CREDENTIALS, { id });
    expect(data.node.credentials).toEqual({
      username: `robot$${slug}`,
      endpoint: 'registry.test:5000',
      createdAt: expect.any(String),
      rotatedAt: null,
      lastUsedAt: null,
    });
    const stored = await app.db.robotAccount.findUniqueOrThrow({ where: { username: `robot$${slug}` } });
    expect(stored.secretHash).toMatch(/^scrypt\$/);
    expect(stored.secretHash).not.toContain(credentials.password);
  });

  it('rotate to a new password for MAINTAINERs and record when', async () => {
    const { id, credentials } = await hostedRegistry();
    const { data } = await app.admin.execute(ROTATE, { input: { registryId: id } });
    expect(data.rotateRegistryCredentials.__typename).toBe('RotateRegistryCredentialsPayload');
    expect(data.rotateRegistryCredentials.credentials.username).toBe(credentials.username);
    expect(data.rotateRegistryCredentials.credentials.password).not.toBe(credentials.password);
    expect(data.rotateRegistryCredentials.registry.credentials.rotatedAt).toEqual(expect.any(String));
  });

  it('cannot be rotated by a VIEWER or an outsider', async () => {
    const { namespace, id } = await hostedRegistry();
    const viewer = await app.user();
    const outsider = await app.user();
    await addMember(app.admin, namespace.id, viewer, 'VIEWER');
    expect((await viewer.execute(ROTATE, { input: { registryId: id } })).data.rotateRegistryCredentials.__typename).toBe('ForbiddenError');
    expect((await outsider.execute(ROTATE, { input: { registryId: id } })).data.rotateRegistryCredentials.__typename).toBe('NotFoundError');
    const viewed = await viewer.execute(CREDENTIALS, { id });
    expect(viewed.data.node.credentials.username).toMatch(/^robot\$/);
  });
});
