import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_REGISTRY, UPDATE_REGISTRY } from '../../schema/operations.js';
import { useTestApp } from '../../support/app.js';
import { createNamespace, uniqueSlug } from '../../support/fixtures.js';
import { buildImage, skopeoCopy, writeOciLayout } from '../../support/oci-images.js';

const app = useTestApp();
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-quota-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const CREATE = CREATE_REGISTRY.replace('... on CreateRegistryPayload {', '... on CreateRegistryPayload { credentials { username password }');
const UPDATE = UPDATE_REGISTRY.replace('... on UpdateRegistryPayload {', '... on UpdateRegistryPayload { warnings');
const QUOTA = `query ($id: ID!) { node(id: $id) { ... on Registry { quota { limitBytes usedBytes } repositories(first: 10) { nodes { name tags(first: 10) { nodes { name } } } } } } }`;

let host: string;
let registry: { id: string; slug: string; creds: string };

beforeAll(async () => {
  host = new URL(app.registry.embedded!.url).host;
  const namespace = await createNamespace(app.admin);
  const slug = uniqueSlug('quota');
  const { data } = await app.admin.execute(CREATE, { input: { namespaceId: namespace.id, name: slug, slug, quotaBytes: 1 } });
  const { registry: created, credentials } = data.createRegistry;
  registry = { id: created.id, slug, creds: `${credentials.username}:${credentials.password}` };
});

async function push(tag: string) {
  const layout = await writeOciLayout(path.join(scratch, tag), tag, buildImage({ layerBytes: 2048 }));
  await skopeoCopy(layout.reference, `docker://${host}/${registry.slug}/app:${tag}`, { destinationCreds: registry.creds });
}

describe('a registry quota', () => {
  it('refuses pushes with the quota message once usage reaches it, keeps pulls, and leaves nothing half-pushed', async () => {
    await push('first');
    await expect(push('second')).rejects.toThrow(/quota exceeded: registry quota\w+ stores \d+ bytes, its quota is 1 bytes/);
    await skopeoCopy(`docker://${host}/${registry.slug}/app:first`, `oci:${path.join(scratch, 'pulled')}:x`, { sourceCreds: registry.creds });
    const { data } = await app.admin.execute(QUOTA, { id: registry.id });
    expect(data.node.quota.limitBytes).toBe(1);
    expect(data.node.quota.usedBytes).toBeGreaterThan(2048);
    expect(data.node.repositories.nodes).toEqual([{ name: 'app', tags: { nodes: [{ name: 'first' }] } }]);
  });

  it('may be lowered below usage, which is reported; raising it lets pushes in again', async () => {
    const lowered = await app.admin.execute(UPDATE, { input: { id: registry.id, quotaBytes: 100 } });
    expect(lowered.data.updateRegistry.warnings).toEqual([expect.stringMatching(/^quota exceeded: .* pushes are refused until usage drops below the quota$/)]);
    expect(lowered.data.updateRegistry.registry.quota).toEqual({ limitBytes: 100 });
    const raised = await app.admin.execute(UPDATE, { input: { id: registry.id, quotaBytes: 10 * 1024 * 1024 } });
    expect(raised.data.updateRegistry.warnings).toEqual([]);
    await push('third');
  });
});
