import { createHash } from 'node:crypto';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';

const app = useTestApp();

const API_TOKENS = `query ($id: ID!) { node(id: $id) { ... on User { apiTokens(first: 10) { totalCount nodes { id name createdAt lastUsedAt expiresAt } } } } }`;
const CREATE_TOKEN = `mutation ($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { __typename ... on CreateApiTokenPayload { token apiToken { id name expiresAt } } ... on ValidationError { field } ... on Error { message } }
}`;
const REVOKE_TOKEN = `mutation ($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { __typename ... on RevokeApiTokenPayload { revokedId } ... on Error { message } } }`;
const UPDATE_MEMBER = `mutation ($input: UpdateNamespaceMemberInput!) {
  updateNamespaceMember(input: $input) { __typename ... on UpdateNamespaceMemberPayload { member { role user { name } } } ... on Error { message } }
}`;
const REMOVE_MEMBER = `mutation ($input: RemoveNamespaceMemberInput!) {
  removeNamespaceMember(input: $input) { __typename ... on RemoveNamespaceMemberPayload { removedUserId } ... on Error { message } }
}`;
const DELETE_USER = `mutation ($input: DeleteUserInput!) { deleteUser(input: $input) { __typename ... on DeleteUserPayload { deletedId } ... on Error { message } } }`;

/** What the user behind `token` sees at /graphql, at /auth/token and on a new graphql-ws connection. */
async function accessOf(token: string, slug: string) {
  const graphql = await fetch(new URL('/graphql', app.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { name } namespaces(first: 10) { nodes { slug } } }' }),
  });
  const body = (await graphql.json()) as { data?: { viewer: { name: string }; namespaces: { nodes: { slug: string }[] } } };
  const name = body.data?.viewer.name ?? 'unknown';
  const url = new URL('/auth/token', app.url);
  url.searchParams.set('scope', `repository:${slug}/app:pull`);
  const tokenResponse = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${name}:${token}`).toString('base64')}` } });
  const grant = tokenResponse.ok ? ((await tokenResponse.json()) as { token: string }).token : null;
  const pull = grant ? (JSON.parse(Buffer.from(grant.split('.')[1]!, 'base64url').toString()) as { access: { actions: string[] }[] }).access[0]!.actions : null;
  const ws = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${token}` } });
  let wsCode: number | undefined;
  try {
    for await (const _ of ws.iterate({ query: '{ viewer { name } }' })) break;
  } catch (error) {
    wsCode = (error as { code?: number }).code;
  } finally {
    await ws.dispose();
  }
  return { status: graphql.status, slugs: body.data?.namespaces.nodes.map((n) => n.slug) ?? null, pull, tokenStatus: tokenResponse.status, wsCode };
}

let owner: Client;
let namespace: { id: string; slug: string };
let registry: { id: string; slug: string };

beforeAll(async () => {
  owner = await app.user('access-owner');
  namespace = await createNamespace(owner);
  registry = await createRegistry(owner, namespace.id);
});

describe('User.apiTokens', () => {
  it("lists the viewer's tokens without secrets; admins see anyone's, co-members nobody's", async () => {
    const member = await app.user();
    await addMember(owner, namespace.id, member, 'VIEWER');
    const created = await member.execute(CREATE_TOKEN, { input: { name: 'ci' } });
    expect(created.data.createApiToken).toMatchObject({ __typename: 'CreateApiTokenPayload', apiToken: { name: 'ci', expiresAt: null } });
    const own = await member.execute(API_TOKENS, { id: member.userId });
    expect(own.data.node.apiTokens.totalCount).toBe(2);
    expect(own.data.node.apiTokens.nodes.map((t: { name: string }) => t.name)).toEqual(['ci', 'test']);
    expect(JSON.stringify(own)).not.toContain(created.data.createApiToken.token);
    expect((await app.admin.execute(API_TOKENS, { id: member.userId })).data.node.apiTokens.totalCount).toBe(2);
    expect((await owner.execute(API_TOKENS, { id: member.userId })).data.node.apiTokens).toEqual({ totalCount: 0, nodes: [] });
    const tokenId = created.data.createApiToken.apiToken.id;
    expect((await owner.execute(`query ($id: ID!) { node(id: $id) { id } }`, { id: tokenId })).data.node).toBeNull();
  });
});

describe('createApiToken with expiresAt', () => {
  it('refuses a time in the past, and the token stops working once it has passed', async () => {
    const user = await app.user();
    await addMember(owner, namespace.id, user, 'VIEWER');
    const past = await user.execute(CREATE_TOKEN, { input: { name: 'old', expiresAt: '2020-01-01T00:00:00Z' } });
    expect(past.data.createApiToken).toMatchObject({ __typename: 'ValidationError', field: 'expiresAt' });
    // Real time, not a row changed behind berth's back: a viewer cached while the token worked must not outlive it.
    const soon = new Date(Date.now() + 2_000);
    const { data } = await user.execute(CREATE_TOKEN, { input: { name: 'short', expiresAt: soon.toISOString() } });
    expect(data.createApiToken.apiToken.expiresAt).toBe(soon.toISOString());
    const token = data.createApiToken.token as string;
    expect(await accessOf(token, registry.slug)).toMatchObject({ status: 200, slugs: [namespace.slug], pull: ['pull'] });
    await new Promise((resolve) => setTimeout(resolve, soon.getTime() - Date.now() + 50));
    expect(await accessOf(token, registry.slug)).toMatchObject({ status: 401, tokenStatus: 401, wsCode: 4403 });
  });
});

describe('revokeApiToken', () => {
  it('stops the token at the next request everywhere; other users cannot revoke it', async () => {
    const user = await app.user();
    await addMember(owner, namespace.id, user, 'MAINTAINER');
    const { data } = await user.execute(CREATE_TOKEN, { input: { name: 'laptop' } });
    const { token, apiToken } = data.createApiToken;
    expect(await accessOf(token, registry.slug)).toMatchObject({ status: 200, pull: ['pull'], wsCode: undefined });
    expect((await owner.execute(REVOKE_TOKEN, { input: { id: apiToken.id } })).data.revokeApiToken.__typename).toBe('NotFoundError');
    const revoked = await user.execute(REVOKE_TOKEN, { input: { id: apiToken.id } });
    expect(revoked.data.revokeApiToken).toEqual({ __typename: 'RevokeApiTokenPayload', revokedId: apiToken.id });
    expect(await accessOf(token, registry.slug)).toMatchObject({ status: 401, tokenStatus: 401, wsCode: 4403 });
    expect((await user.execute('{ viewer { name } }')).status).toBe(200);
    expect((await user.execute(REVOKE_TOKEN, { input: { id: apiToken.id } })).data.revokeApiToken.__typename).toBe('NotFoundError');
  });

  it('lets admins revoke anyone’s token', async () => {
    const user = await app.user();
    const { data } = await user.execute(CREATE_TOKEN, { input: { name: 'x' } });
    expect((await app.admin.execute(REVOKE_TOKEN, { input: { id: data.createApiToken.apiToken.id } })).data.revokeApiToken.__typename).toBe('RevokeApiTokenPayload');
    expect((await accessOf(data.createApiToken.token, registry.slug)).status).toBe(401);
  });
});

describe('updateNamespaceMember and removeNamespaceMember', () => {
  it('change what a member may do at the next request, and remove its access', async () => {
    const member = await app.user();
    await addMember(owner, namespace.id, member, 'MAINTAINER');
    expect((await accessOf(member.token!, registry.slug)).pull).toEqual(['pull']);
    const demoted = await owner.execute(UPDATE_MEMBER, { input: { namespaceId: namespace.id, userId: member.userId, role: 'VIEWER' } });
    expect(demoted.data.updateNamespaceMember.member.role).toBe('VIEWER');
    const update = await member.execute(`mutation ($input: UpdateNamespaceInput!) { updateNamespace(input: $input) { __typename } }`, { input: { id: namespace.id, name: 'x' } });
    expect(update.data.updateNamespace.__typename).toBe('ForbiddenError');
    const removed = await owner.execute(REMOVE_MEMBER, { input: { namespaceId: namespace.id, userId: member.userId } });
    expect(removed.data.removeNamespaceMember).toEqual({ __typename: 'RemoveNamespaceMemberPayload', removedUserId: member.userId });
    expect(await accessOf(member.token!, registry.slug)).toMatchObject({ status: 200, slugs: [], pull: [] });
    expect((await member.execute(`query ($id: ID!) { node(id: $id) { id } }`, { id: registry.id })).data.node).toBeNull();
  });

  it('refuse to demote or remove the last OWNER (ConflictError), but allow it once another OWNER exists', async () => {
    const solo = await app.user();
    const ns = await createNamespace(solo);
    const demote = await solo.execute(UPDATE_MEMBER, { input: { namespaceId: ns.id, userId: solo.userId, role: 'MAINTAINER' } });
    expect(demote.data.updateNamespaceMember).toMatchObject({ __typename: 'ConflictError', message: expect.stringContaining('last OWNER') });
    const remove = await app.admin.execute(REMOVE_MEMBER, { input: { namespaceId: ns.id, userId: solo.userId } });
    expect(remove.data.removeNamespaceMember.__typename).toBe('ConflictError');
    const second = await app.user();
    await addMember(solo, ns.id, second, 'OWNER');
    const leave = await solo.execute(REMOVE_MEMBER, { input: { namespaceId: ns.id, userId: solo.userId } });
    expect(leave.data.removeNamespaceMember.__typename).toBe('RemoveNamespaceMemberPayload');
    expect((await second.execute(`query ($slug: String!) { namespace(slug: $slug) { members(first: 5) { nodes { role user { id } } } } }`, { slug: ns.slug })).data.namespace.members.nodes).toEqual([
      { role: 'OWNER', user: { id: second.userId } },
    ]);
  });

  it('keep an OWNER when two OWNERs demote each other at the same time', async () => {
    const a = await app.user();
    const b = await app.user();
    const ns = await createNamespace(a);
    await addMember(a, ns.id, b, 'OWNER');
    const results = await Promise.all([
      a.execute(UPDATE_MEMBER, { input: { namespaceId: ns.id, userId: b.userId, role: 'VIEWER' } }),
      b.execute(UPDATE_MEMBER, { input: { namespaceId: ns.id, userId: a.userId, role: 'VIEWER' } }),
    ]);
    const outcomes = results.map((r) => r.data.updateNamespaceMember.__typename).sort();
    expect(outcomes).toEqual(['ConflictError', 'UpdateNamespaceMemberPayload']);
    expect(await app.db.membership.count({ where: { namespaceId: decodeGlobalID(ns.id).id, role: 'OWNER' } })).toBe(1);
  });

  it('answer NotFoundError outside the namespace and ForbiddenError below OWNER', async () => {
    const outsider = await app.user();
    const viewer = await app.user();
    await addMember(owner, namespace.id, viewer, 'VIEWER');
    const hidden = await outsider.execute(REMOVE_MEMBER, { input: { namespaceId: namespace.id, userId: owner.userId } });
    expect(hidden.data.removeNamespaceMember.__typename).toBe('NotFoundError');
    const low = await viewer.execute(UPDATE_MEMBER, { input: { namespaceId: namespace.id, userId: viewer.userId, role: 'OWNER' } });
    expect(low.data.updateNamespaceMember.__typename).toBe('ForbiddenError');
    const notMember = await owner.execute(UPDATE_MEMBER, { input: { namespaceId: namespace.id, userId: outsider.userId, role: 'VIEWER' } });
    expect(notMember.data.updateNamespaceMember.__typename).toBe('NotFoundError');
  });
});

describe('deleteUser', () => {
  it('is for admins, never oneself nor the last OWNER, and ends every access of the user', async () => {
    const leaver = await app.user();
    await addMember(owner, namespace.id, leaver, 'MAINTAINER');
    expect((await owner.execute(DELETE_USER, { input: { id: leaver.userId } })).data.deleteUser.__typename).toBe('ForbiddenError');
    expect((await app.admin.execute(DELETE_USER, { input: { id: app.admin.userId } })).data.deleteUser.__typename).toBe('ConflictError');
    const loneOwner = await app.user();
    const ns = await createNamespace(loneOwner);
    const refused = await app.admin.execute(DELETE_USER, { input: { id: loneOwner.userId } });
    expect(refused.data.deleteUser).toMatchObject({ __typename: 'ConflictError', message: expect.stringContaining(ns.slug) });
    const deleted = await app.admin.execute(DELETE_USER, { input: { id: leaver.userId } });
    expect(deleted.data.deleteUser).toEqual({ __typename: 'DeleteUserPayload', deletedId: leaver.userId });
    expect(await accessOf(leaver.token!, registry.slug)).toMatchObject({ status: 401, tokenStatus: 401, wsCode: 4403 });
    expect((await app.admin.execute(DELETE_USER, { input: { id: leaver.userId } })).data.deleteUser.__typename).toBe('NotFoundError');
  });
});

describe('a live subscription', () => {
  const event = { action: 'push', repository: 'app', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, at: new Date() };

  it('ends over graphql-ws once its user was removed from the namespace, and sends nothing more', async () => {
    const member = await app.user();
    await addMember(owner, namespace.id, member, 'VIEWER');
    const client = createClient({ url: `ws://${new URL(app.url).host}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${member.token}` } });
    const received: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe({ query: `subscription ($r: ID!) { registryEvents(registryId: $r) { action tag } }`, variables: { r: registry.id } }, {
        next: (result) => void received.push(result),
        error: reject,
        complete: resolve,
      });
    });
    const registryId = decodeGlobalID(registry.id).id;
    await eventuallyDelivered(() => app.services.pubsub.publish('registry:event', registryId, event), () => received.length > 0);
    expect(received[0]).toEqual({ data: { registryEvents: { action: 'push', tag: 'v1' } } });
    await owner.execute(REMOVE_MEMBER, { input: { namespaceId: namespace.id, userId: member.userId } });
    app.services.pubsub.publish('registry:event', registryId, { ...event, tag: 'secret' });
    await done;
    await client.dispose();
    expect(received).toHaveLength(2);
    expect(received[1]).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    expect(JSON.stringify(received)).not.toContain('secret');
  });

  it('ends over SSE once its token was revoked', async () => {
    const member = await app.user();
    await addMember(owner, namespace.id, member, 'VIEWER');
    const { data } = await member.execute(CREATE_TOKEN, { input: { name: 'sse' } });
    const response = await fetch(new URL('/graphql', app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${data.createApiToken.token}` },
      body: JSON.stringify({ query: `subscription ($r: ID!) { registryEvents(registryId: $r) { tag } }`, variables: { r: registry.id } }),
    });
    expect(response.status).toBe(200);
    const registryId = decodeGlobalID(registry.id).id;
    const text = readAll(response);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await member.execute(REVOKE_TOKEN, { input: { id: data.createApiToken.apiToken.id } });
    app.services.pubsub.publish('registry:event', registryId, { ...event, tag: 'after-revocation' });
    const body = await text;
    expect(body).not.toContain('after-revocation');
    expect(body).toContain('UNAUTHENTICATED');
  });
});

describe('API tokens stored before the server key', () => {
  it('keep working and are rehashed with the key when first used', async () => {
    const user = await app.db.user.create({ data: { name: 'legacy-user' } });
    const token = 'berth_legacy-token-from-an-older-berth-0123456789';
    const legacyHash = createHash('sha256').update(token).digest('hex');
    await app.db.apiToken.create({ data: { userId: user.id, name: 'old', tokenHash: legacyHash } });
    const first = await accessOf(token, registry.slug);
    expect(first.status).toBe(200);
    const stored = await app.db.apiToken.findFirstOrThrow({ where: { userId: user.id } });
    expect(stored.tokenHash).not.toBe(legacyHash);
    expect((await accessOf(token, registry.slug)).status).toBe(200);
  });
});

/** Publishes until the subscriber got something: the subscription starts listening asynchronously. */
async function eventuallyDelivered(publish: () => void, delivered: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !delivered(); i++) {
    publish();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The whole body of a response that ends when the server completes the stream. */
function readAll(response: Response): Promise<string> {
  return response.text();
}
