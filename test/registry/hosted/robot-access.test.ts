import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_REGISTRY, UPDATE_REGISTRY } from '../../schema/operations.js';
import { useTestApp } from '../../support/app.js';
import { createNamespace, uniqueSlug } from '../../support/fixtures.js';
import { buildImage, type OciLayoutImage, skopeoCopy, writeOciLayout } from '../../support/oci-images.js';

const app = useTestApp();
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-robot-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const CREATE = CREATE_REGISTRY.replace('... on CreateRegistryPayload {', '... on CreateRegistryPayload { credentials { username password dockerConfig }');
const ROTATE = `mutation ($id: ID!) { rotateRegistryCredentials(input: { registryId: $id }) { ... on RotateRegistryCredentialsPayload { credentials { password } } } }`;

interface Hosted {
  id: string;
  slug: string;
  username: string;
  password: string;
  dockerConfig: string;
}

let host: string;
let layout: OciLayoutImage;
let a: Hosted;
let b: Hosted;

async function hosted(isPublic = false): Promise<Hosted> {
  const namespace = await createNamespace(app.admin);
  const slug = uniqueSlug('robo');
  const { data } = await app.admin.execute(CREATE, { input: { namespaceId: namespace.id, name: slug, slug, public: isPublic } });
  const { registry, credentials } = data.createRegistry;
  return { id: registry.id, slug, ...credentials };
}

const copyOut = (reference: string, options: Parameters<typeof skopeoCopy>[2]) =>
  skopeoCopy(reference, `oci:${path.join(scratch, `out-${Math.random().toString(36).slice(2)}`)}:x`, options);

beforeAll(async () => {
  host = new URL(app.registry.embedded!.url).host;
  layout = await writeOciLayout(path.join(scratch, 'layout'), 'v1', buildImage());
  a = await hosted();
  b = await hosted();
});

describe('robot accounts through skopeo', () => {
  it('push and pull their own registry with the issued credentials', async () => {
    await skopeoCopy(layout.reference, `docker://${host}/${a.slug}/app:v1`, { destinationCreds: `${a.username}:${a.password}` });
    await copyOut(`docker://${host}/${a.slug}/app:v1`, { sourceCreds: `${a.username}:${a.password}` });
    const lastUsed = await app.db.robotAccount.findUniqueOrThrow({ where: { username: a.username } });
    expect(lastUsed.lastUsedAt).not.toBeNull();
  });

  it('work as-is through the dockerConfig document as an authfile', async () => {
    // By default the public registry host is the embedded registry's own address.
    expect(Object.keys((JSON.parse(a.dockerConfig) as { auths: object }).auths)).toEqual([host]);
    const authfile = path.join(scratch, 'auth.json');
    await writeFile(authfile, a.dockerConfig);
    await skopeoCopy(layout.reference, `docker://${host}/${a.slug}/app:authfile`, { authfile });
  });

  it('fail with a wrong password', async () => {
    await expect(skopeoCopy(layout.reference, `docker://${host}/${a.slug}/app:v2`, { destinationCreds: `${a.username}:wrong` })).rejects.toThrow(
      /invalid username\/password|unauthorized/i,
    );
  });

  it('cannot push to or pull from another registry', async () => {
    await expect(skopeoCopy(layout.reference, `docker://${host}/${b.slug}/app:v1`, { destinationCreds: `${a.username}:${a.password}` })).rejects.toThrow(
      /denied|unauthorized/i,
    );
    await expect(copyOut(`docker://${host}/${a.slug}/app:v1`, { sourceCreds: `${b.username}:${b.password}` })).rejects.toThrow(/denied|unauthorized/i);
  });

  it('stop working with the old password after rotation; the new one works', async () => {
    const { data } = await app.admin.execute(ROTATE, { id: a.id });
    const fresh = data.rotateRegistryCredentials.credentials.password as string;
    await expect(copyOut(`docker://${host}/${a.slug}/app:v1`, { sourceCreds: `${a.username}:${a.password}` })).rejects.toThrow(
      /invalid username\/password|unauthorized/i,
    );
    await copyOut(`docker://${host}/${a.slug}/app:v1`, { sourceCreds: `${a.username}:${fresh}` });
    a.password = fresh;
  });
});

describe('public registries', () => {
  it('allow anonymous pulls, private ones do not, and flipping public applies to the next token', async () => {
    const open = await hosted(true);
    await skopeoCopy(layout.reference, `docker://${host}/${open.slug}/app:v1`, { destinationCreds: `${open.username}:${open.password}` });
    await copyOut(`docker://${host}/${open.slug}/app:v1`, {});
    await expect(skopeoCopy(layout.reference, `docker://${host}/${open.slug}/app:anon`, {})).rejects.toThrow(/denied|unauthorized/i);
    await expect(copyOut(`docker://${host}/${a.slug}/app:v1`, {})).rejects.toThrow(/denied|unauthorized/i);

    await app.admin.execute(UPDATE_REGISTRY, { input: { id: open.id, public: false } });
    await expect(copyOut(`docker://${host}/${open.slug}/app:v1`, {})).rejects.toThrow(/denied|unauthorized/i);
    await app.admin.execute(UPDATE_REGISTRY, { input: { id: a.id, public: true } });
    await copyOut(`docker://${host}/${a.slug}/app:v1`, {});
  });
});

describe('GET /auth/token', () => {
  it('rate limits repeated failures per account and address with 429, and lets the right password through', async () => {
    const url = new URL('/auth/token', app.url);
    url.searchParams.set('scope', `repository:${b.slug}/app:pull`);
    const attempt = (password: string) =>
      fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${b.username}:${password}`).toString('base64')}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await attempt('wrong')).status);
    const blocked = await attempt('wrong');
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await attempt(b.password)).status).toBe(200);
  });
});
