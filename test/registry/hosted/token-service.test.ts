import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../../support/app.js';
import { addMember, createNamespace, createRegistry } from '../../support/fixtures.js';
import { buildImage, skopeoCopy, writeOciLayout } from '../../support/oci-images.js';

const app = useTestApp();
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-token-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

let owner: Client;
let viewer: Client;
let outsider: Client;
let slug: string;
let registryHost: string;

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  outsider = await app.user('outsider');
  const namespace = await createNamespace(owner);
  ({ slug } = await createRegistry(owner, namespace.id));
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  registryHost = new URL(app.registry.embedded!.url).host;
});

async function requestToken(scopes: string[], credentials?: string) {
  const url = new URL('/auth/token', app.url);
  url.searchParams.set('service', 'berth-registry');
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const response = await fetch(url, { headers: credentials ? { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } : {} });
  const body = (await response.json()) as { token?: string; expires_in?: number; errors?: { code: string; message: string }[] };
  return { status: response.status, body, access: body.token ? (decodeJwt(body.token)['access'] as { name: string; actions: string[] }[]) : undefined };
}

describe('GET /auth/token', () => {
  it('grants members what their role allows on their registry, and nothing elsewhere', async () => {
    const scopes = [`repository:${slug}/app:pull,push,delete`, 'repository:elsewhere/app:pull', 'registry:catalog:*'];
    const asOwner = await requestToken(scopes, `owner:${owner.token}`);
    expect(asOwner.status).toBe(200);
    expect(asOwner.body.expires_in).toBeLessThanOrEqual(300);
    expect(asOwner.access?.map((a) => [a.name, a.actions])).toEqual([
      [`${slug}/app`, ['pull', 'push', 'delete']],
      ['elsewhere/app', []],
      ['catalog', []],
    ]);
    const asViewer = await requestToken(scopes, `viewer:${viewer.token}`);
    expect(asViewer.access?.[0]?.actions).toEqual(['pull']);
    const asOutsider = await requestToken(scopes, `outsider:${outsider.token}`);
    expect(asOutsider.access?.every((a) => a.actions.length === 0)).toBe(true);
    const anonymous = await requestToken(scopes);
    expect(anonymous.access?.every((a) => a.actions.length === 0)).toBe(true);
  });

  it('answers 401 with the spec error body for a wrong token or a token of another user', async () => {
    for (const credentials of ['owner:berth_wrong', `viewer:${owner.token}`, 'nobody:x']) {
      const { status, body } = await requestToken([`repository:${slug}/app:pull`], credentials);
      expect(status).toBe(401);
      expect(body.errors).toEqual([{ code: 'UNAUTHORIZED', message: 'invalid username/password' }]);
    }
  });
});

describe('skopeo through the token endpoint', () => {
  it('pushes as a maintainer, pulls as a viewer, and is denied otherwise', async () => {
    const image = buildImage();
    const layout = await writeOciLayout(path.join(scratch, 'layout'), 'v1', image);
    const target = `docker://${registryHost}/${slug}/app:v1`;
    await skopeoCopy(layout.reference, target, { destinationCreds: `owner:${owner.token}` });
    expect((await app.registry.client.headManifest(`${slug}/app`, 'v1'))?.digest).toBe(image.digest);

    await skopeoCopy(target, `oci:${path.join(scratch, 'pulled')}:v1`, { sourceCreds: `viewer:${viewer.token}` });
    await expect(skopeoCopy(layout.reference, `docker://${registryHost}/${slug}/app:v2`, { destinationCreds: `viewer:${viewer.token}` })).rejects.toThrow(
      /denied|unauthorized/i,
    );
    await expect(skopeoCopy(target, `oci:${path.join(scratch, 'stolen')}:v1`, { sourceCreds: `outsider:${outsider.token}` })).rejects.toThrow(
      /denied|unauthorized/i,
    );
    await expect(skopeoCopy(layout.reference, target, { destinationCreds: 'owner:wrong-password' })).rejects.toThrow(/unauthorized|invalid username/i);
  });
});

describe('during a maintenance window (garbage collection)', () => {
  it('refuses push and delete with the reason, keeps pulls working, and lifts when the window ends', async () => {
    // A run's window as any berth instance records it: the token endpoint reads it from the database.
    const run = await app.db.gcRun.create({ data: { status: 'RUNNING', windowOpenedAt: new Date() } });
    try {
      const push = await requestToken([`repository:${slug}/app:pull,push`], `owner:${owner.token}`);
      expect(push.status).toBe(401);
      expect(push.body.errors).toEqual([{ code: 'DENIED', message: 'registry in maintenance: garbage collection is running' }]);
      const pull = await requestToken([`repository:${slug}/app:pull`], `viewer:${viewer.token}`);
      expect(pull.access?.[0]?.actions).toEqual(['pull']);
      const layout = await writeOciLayout(path.join(scratch, 'window'), 'w', buildImage());
      await expect(skopeoCopy(layout.reference, `docker://${registryHost}/${slug}/app:window`, { destinationCreds: `owner:${owner.token}` })).rejects.toThrow(
        /registry in maintenance/,
      );
    } finally {
      await app.db.gcRun.update({ where: { id: run.id }, data: { windowClosedAt: new Date() } });
    }
    expect((await requestToken([`repository:${slug}/app:push`], `owner:${owner.token}`)).access?.[0]?.actions).toEqual(['push']);
  });
});
