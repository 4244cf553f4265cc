import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BERTH_SUBJECT } from '../../../src/registry/hosted/hosted-backend.js';
import { registryHookRoute } from '../../../src/registry/hosted/notifications.js';
import { MediaType } from '../../../src/registry/v2/manifest.js';
import { type Client, useTestApp } from '../../support/app.js';
import { clientAs, eventually, recordedPush } from '../../support/content.js';
import { addMember, createNamespace, createRegistry } from '../../support/fixtures.js';
import { buildImage, pushArtifact, skopeoCopy, writeOciLayout } from '../../support/oci-images.js';

const app = useTestApp();

let owner: Client;
let viewer: Client;
let outsider: Client;
let registry: { id: string; slug: string };
let elsewhere: { id: string; slug: string };
let repository: string;

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  outsider = await app.user('outsider');
  const namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  registry = await createRegistry(owner, namespace.id);
  elsewhere = await createRegistry(outsider, (await createNamespace(outsider)).id);
  repository = `${registry.slug}/app`;
});

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

/** A notification event shaped as distribution 2.8 sends it. */
function event(action: string, target: { repository: string; tag?: string; digest?: string; mediaType?: string }, at: string, actor?: string) {
  return {
    id: randomUUID(),
    timestamp: at,
    action,
    target: { mediaType: MediaType.ociManifest, size: 479, length: 479, ...target },
    request: { id: randomUUID(), addr: '127.0.0.1:50000', host: '127.0.0.1:5000', method: action === 'push' ? 'PUT' : 'GET', useragent: 'test' },
    actor: actor ? { name: actor } : {},
    source: { addr: 'vm:5000', instanceID: randomUUID() },
  };
}

function deliver(events: unknown[], authorization: string | null = `Bearer ${app.registry.hookSecret}`, body = JSON.stringify({ events })) {
  return fetch(`${app.url}/hooks/registry`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json', ...(authorization ? { authorization } : {}) },
    body,
  });
}

const tagRow = (tag: string) => app.db.contentTag.findFirst({ where: { repository: { path: repository }, name: tag } });
const imageRow = (digest: string) => app.db.contentRevision.findFirst({ where: { repository: { path: repository }, digest } });

describe('POST /hooks/registry', () => {
  it('refuses deliveries without the shared secret, and bodies that are not an envelope', async () => {
    const events = [event('push', { repository, tag: 'x', digest: D1 }, '2026-03-01T10:00:00Z')];
    expect((await deliver(events, null)).status).toBe(401);
    expect((await deliver(events, 'Bearer wrong')).status).toBe(401);
    expect((await deliver(events, app.registry.hookSecret)).status).toBe(401);
    expect((await fetch(`${app.url}/hooks/registry`, { headers: { authorization: `Bearer ${app.registry.hookSecret}` } })).status).toBe(405);
    expect((await deliver([], undefined, '{"nope": 1}')).status).toBe(400);
    expect(await tagRow('x')).toBeNull();
  });

  it('takes and drops what the registry delivers while berth stops it, instead of having it retried', async () => {
    const route = registryHookRoute({ ...app.services, hookSecret: app.registry.hookSecret, registryStopping: () => true });
    const request = (authorization: string) =>
      new Request('http://berth/hooks/registry', {
        method: 'POST',
        headers: { authorization },
        body: JSON.stringify({ events: [event('push', { repository, tag: 'stopping', digest: D1 }, '2026-03-01T10:00:00Z')] }),
      });
    expect((await route(request('Bearer wrong'))).status).toBe(401);
    expect((await route(request(`Bearer ${app.registry.hookSecret}`))).status).toBe(200);
    expect(await tagRow('stopping')).toBeNull();
  });

  it('records pushes: a tag keeps the time it came to point at its digest, the rest only moves forward', async () => {
    const push = (tag: string, digest: string, at: string) => event('push', { repository, tag, digest }, at);
    expect((await deliver([push('t1', D1, '2026-03-01T10:00:00.123456789Z')])).status).toBe(200);
    expect(await tagRow('t1')).toMatchObject({ digest: D1, pushedAt: new Date('2026-03-01T10:00:00.123Z') });

    await deliver([
      push('t1', D1, '2026-03-01T11:00:00Z'),
      event('push', { repository, digest: D2, mediaType: 'application/octet-stream' }, '2026-03-01T11:30:00Z'),
      event('push', { repository: 'unknown/app', tag: 't1', digest: D2 }, '2026-03-01T11:30:00Z'),
      { action: 'push', target: 'garbled' },
    ]);
    expect(await tagRow('t1')).toMatchObject({ digest: D1, pushedAt: new Date('2026-03-01T10:00:00.123Z') });
    expect(await imageRow(D2)).toBeNull();
    // The index holds the whole backend (what a deletion frees depends on every repository), slug or not.
    expect(await app.db.contentRepository.findUnique({ where: { path: 'unknown/app' } })).toMatchObject({ slug: 'unknown', name: 'app' });

    await deliver([push('t1', D2, '2026-03-01T12:00:00Z'), push('t1', D1, '2026-03-01T09:00:00Z')]);
    expect(await tagRow('t1')).toMatchObject({ digest: D2, pushedAt: new Date('2026-03-01T12:00:00Z') });
    expect(await imageRow(D1)).toMatchObject({ pushedAt: new Date('2026-03-01T09:00:00Z') });
    expect(await imageRow(D2)).toMatchObject({ pushedAt: new Date('2026-03-01T12:00:00Z') });
    expect(await app.db.contentRepository.findUnique({ where: { path: repository } })).toMatchObject({ lastPushedAt: new Date('2026-03-01T12:00:00Z') });
    const { lastPushedAt } = (await app.db.registry.findFirst({ where: { slug: registry.slug } }))!;
    expect(lastPushedAt).toEqual(new Date('2026-03-01T12:00:00Z'));
  });

  it('records pulls by tag and digest, but not berth’s own reads', async () => {
    await deliver([event('pull', { repository, tag: 't1', digest: D2 }, '2026-03-02T10:00:00Z', BERTH_SUBJECT)]);
    expect(await tagRow('t1')).toMatchObject({ pulledAt: null });
    expect(await imageRow(D2)).toMatchObject({ pulledAt: null });
    await deliver([
      event('pull', { repository, tag: 't1', digest: D2 }, '2026-03-02T11:00:00Z', 'alice'),
      event('pull', { repository, digest: D1 }, '2026-03-02T12:00:00Z'),
    ]);
    expect(await tagRow('t1')).toMatchObject({ pulledAt: new Date('2026-03-02T11:00:00Z') });
    expect(await imageRow(D2)).toMatchObject({ pulledAt: new Date('2026-03-02T11:00:00Z') });
    expect(await imageRow(D1)).toMatchObject({ pulledAt: new Date('2026-03-02T12:00:00Z') });
  });

  it('removes what a manifest delete removes: one event for the digest, one per tag', async () => {
    await deliver([
      { ...event('delete', { repository, digest: D2 }, '2026-03-03T10:00:00Z'), target: { repository, digest: D2 } },
      { ...event('delete', { repository, tag: 't1' }, '2026-03-03T10:00:00Z'), target: { repository, tag: 't1' } },
    ]);
    expect(await tagRow('t1')).toBeNull();
    expect(await imageRow(D2)).toBeNull();
    expect(await imageRow(D1)).not.toBeNull();
  });

  it('follows the real registry: a push is recorded, its deletion by a client removes it', async () => {
    const image = buildImage();
    await pushArtifact(app.registry.client, repository, 'real', image);
    await recordedPush(app.db, repository, 'real');
    expect(await imageRow(image.digest)).toMatchObject({ pushedAt: expect.any(Date) });
    // berth records its own deletions itself; this one comes from a docker client.
    const client = clientAs(app, 'alice');
    await client.deleteManifest(repository, image.digest);
    await eventually(async () => (await tagRow('real')) === null && (await imageRow(image.digest)) === null);
  });
});

describe('the graph, fed by notifications', () => {
  const REPOSITORY = `query ($id: ID!, $name: String!) { node(id: $id) { ... on Registry { repository(name: $name) { tagCount tags(first: 5) { nodes { name digest pushedAt } } } } } }`;

  it('shows a skopeo push as soon as its notification is recorded, without asking the registry', async () => {
    const image = buildImage();
    const layout = await writeOciLayout(`${app.dataDir}/layouts/skopeo-push`, 'v1', image);
    const token = (await app.registry.signer.sign('alice', [{ type: 'repository', name: `${registry.slug}/pushed`, actions: ['pull', 'push'] }])).token;
    await skopeoCopy(layout.reference, `docker://${app.registry.embedded!.url.slice('http://'.length)}/${registry.slug}/pushed:v1`, { destinationToken: token });
    const row = await recordedPush(app.db, `${registry.slug}/pushed`, 'v1');
    await app.registry.embedded!.stop();
    try {
      const { data, errors } = await owner.execute(REPOSITORY, { id: registry.id, name: 'pushed' });
      expect(errors).toBeUndefined();
      expect(data.node.repository).toEqual({ tagCount: 1, tags: { nodes: [{ name: 'v1', digest: image.digest, pushedAt: row.pushedAt.toISOString() }] } });
    } finally {
      await app.registry.embedded!.start();
    }
  });

  it('drops what a client deleted directly over the V2 API, bypassing berth', async () => {
    const image = buildImage();
    await pushArtifact(app.registry.client, `${registry.slug}/direct`, 'v1', image);
    await recordedPush(app.db, `${registry.slug}/direct`, 'v1');
    const client = clientAs(app, 'alice');
    await client.deleteManifest(`${registry.slug}/direct`, image.digest);
    await eventually(async () => (await owner.execute(REPOSITORY, { id: registry.id, name: 'direct' })).data.node.repository === null);
  });
});

describe('registryEvents over graphql-ws', () => {
  const SUBSCRIPTION = `subscription ($registryId: ID!) { registryEvents(registryId: $registryId) { action repository tag digest at } }`;

  function connect(client: Client) {
    return createClient({
      url: `ws://${new URL(app.url).host}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${client.token}` },
    });
  }

  it('delivers the events of its registry only, to a member', async () => {
    const ws = connect(viewer);
    const events = ws.iterate({ query: SUBSCRIPTION, variables: { registryId: registry.id } });
    try {
      const first = events.next();
      // The subscription starts asynchronously: report an event elsewhere, then here, until one arrives.
      let arrived = false;
      void first.then(() => (arrived = true));
      for (let i = 0; !arrived && i < 50; i += 1) {
        await deliver([event('push', { repository: `${elsewhere.slug}/app`, tag: 'other', digest: D1 }, new Date().toISOString())]);
        await deliver([event('push', { repository, tag: 'ping', digest: D1 }, new Date().toISOString())]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await first).value).toMatchObject({ data: { registryEvents: { action: 'push', repository: 'app', tag: 'ping', digest: D1 } } });

      const image = buildImage();
      await pushArtifact(app.registry.client, repository, 'live', image);
      for (;;) {
        const { value } = await events.next();
        if (value?.data?.registryEvents?.tag !== 'live') continue;
        expect(value.data.registryEvents).toMatchObject({ action: 'push', repository: 'app', digest: image.digest });
        break;
      }
    } finally {
      await events.return?.();
      await ws.dispose();
    }
  });

  it('refuses a user outside the registry’s namespace: an error, then the end', async () => {
    const ws = connect(outsider);
    const events = ws.iterate({ query: SUBSCRIPTION, variables: { registryId: registry.id } });
    try {
      const { value } = await events.next();
      expect(value).toEqual({ errors: [expect.objectContaining({ path: ['registryEvents'], extensions: { code: 'FORBIDDEN' } })] });
      expect((await events.next()).done).toBe(true);
    } finally {
      await ws.dispose();
    }
  });
});
