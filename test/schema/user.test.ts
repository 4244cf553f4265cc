import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';

const app = useTestApp();

const CREATE_USER = `mutation ($input: CreateUserInput!) {
  createUser(input: $input) { __typename ... on CreateUserPayload { token user { id name isAdmin } } ... on ValidationError { field } ... on Error { message } }
}`;
const CREATE_TOKEN = `mutation ($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { __typename ... on CreateApiTokenPayload { token } ... on ValidationError { field } ... on Error { message } }
}`;

async function post(body: unknown, authorization?: string) {
  const response = await app.server.yoga.fetch('http://berth.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: { viewer: unknown }; errors?: { message: string }[] } };
}

describe('viewer', () => {
  it('is the user behind the token, and null when anonymous', async () => {
    const admin = await app.admin.execute(`{ viewer { name isAdmin } }`);
    expect(admin.data.viewer).toEqual({ name: 'admin', isAdmin: true });
    const anonymous = await app.anonymous.execute(`{ viewer { name } }`);
    expect(anonymous.data.viewer).toBeNull();
  });

  it('rejects an unknown or malformed token with HTTP 401', async () => {
    const unknown = await post({ query: '{ viewer { name } }' }, 'Bearer berth_not-a-real-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body.errors?.[0]?.message).toBe('the API token is not valid');
    const malformed = await post({ query: '{ viewer { name } }' }, 'Basic abc');
    expect(malformed.status).toBe(401);
  });
});

describe('createUser', () => {
  it('lets an admin create a user whose token works at once', async () => {
    const { data } = await app.admin.execute(CREATE_USER, { input: { name: 'carol' } });
    expect(data.createUser).toMatchObject({ __typename: 'CreateUserPayload', user: { name: 'carol', isAdmin: false } });
    const asCarol = await post({ query: '{ viewer { name } }' }, `Bearer ${data.createUser.token}`);
    expect(asCarol.body.data?.viewer).toEqual({ name: 'carol' });
    const stored = await app.db.apiToken.findMany({ where: { user: { name: 'carol' } } });
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenHash).not.toContain(data.createUser.token);
  });

  it('answers ValidationError, ConflictError and ForbiddenError', async () => {
    const invalid = await app.admin.execute(CREATE_USER, { input: { name: 'Has Space' } });
    expect(invalid.data.createUser).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    await app.admin.execute(CREATE_USER, { input: { name: 'dave' } });
    const duplicate = await app.admin.execute(CREATE_USER, { input: { name: 'dave' } });
    expect(duplicate.data.createUser).toMatchObject({ __typename: 'ConflictError', message: 'a user named "dave" already exists' });
    const user = await app.user();
    const forbidden = await user.execute(CREATE_USER, { input: { name: 'eve' } });
    expect(forbidden.data.createUser.__typename).toBe('ForbiddenError');
    expect(await app.db.user.count({ where: { name: 'eve' } })).toBe(0);
  });
});

describe('createApiToken', () => {
  it('creates another working token for the viewer', async () => {
    const user = await app.user('frank');
    const { data } = await user.execute(CREATE_TOKEN, { input: { name: 'ci' } });
    expect(data.createApiToken.__typename).toBe('CreateApiTokenPayload');
    const viaNew = await post({ query: '{ viewer { name } }' }, `Bearer ${data.createApiToken.token}`);
    expect(viaNew.body.data?.viewer).toEqual({ name: 'frank' });
  });

  it('lets admins create tokens for others, and nobody else', async () => {
    const target = await app.user('grace');
    const other = await app.user();
    const byAdmin = await app.admin.execute(CREATE_TOKEN, { input: { name: 'support', userId: target.userId } });
    const viaAdminToken = await post({ query: '{ viewer { name } }' }, `Bearer ${byAdmin.data.createApiToken.token}`);
    expect(viaAdminToken.body.data?.viewer).toEqual({ name: 'grace' });
    const byOther = await other.execute(CREATE_TOKEN, { input: { name: 'steal', userId: target.userId } });
    expect(byOther.data.createApiToken.__typename).toBe('ForbiddenError');
    const unknownUser = await app.admin.execute(CREATE_TOKEN, { input: { name: 'x', userId: 'VXNlcjpub2JvZHk=' } });
    expect(unknownUser.data.createApiToken.__typename).toBe('NotFoundError');
    const blank = await other.execute(CREATE_TOKEN, { input: { name: ' ' } });
    expect(blank.data.createApiToken).toMatchObject({ __typename: 'ValidationError', field: 'name' });
    const anonymous = await app.anonymous.execute(CREATE_TOKEN, { input: { name: 'x' } });
    expect(anonymous.data.createApiToken.__typename).toBe('ForbiddenError');
  });
});
