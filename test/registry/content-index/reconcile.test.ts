import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../../support/app.js';
import { eventually, recordedPush, startSilentRegistry } from '../../support/content.js';
import { createNamespace, createRegistry } from '../../support/fixtures.js';
import { buildImage, pushArtifact } from '../../support/oci-images.js';

const app = useTestApp({}, { reconcileIntervalMs: 300 });

let owner: Client;
let registry: { id: string; slug: string };
let repository: string;

beforeAll(async () => {
  owner = await app.user('owner');
  registry = await createRegistry(owner, (await createNamespace(owner)).id);
  repository = `${registry.slug}/app`;
});

const TAG = `query ($id: ID!, $tag: String!) { node(id: $id) { ... on Registry { lastPushedAt repository(name: "app") { lastPushedAt tag(name: $tag) { digest pushedAt } } } } }`;

const tagNames = async () => (await app.db.contentTag.findMany({ where: { repository: { path: repository } }, orderBy: { name: 'asc' } })).map((row) => row.name);

describe('reconciling the content index with the registry', () => {
  it('adds a tag whose notification was lost, pushed when it was first seen', async () => {
    const silent = await startSilentRegistry(app);
    try {
      const before = Date.now();
      const digest = await pushArtifact(silent.client, repository, 'lost', buildImage());
      await app.reconciler.runNow();
      const { data } = await owner.execute(TAG, { id: registry.id, tag: 'lost' });
      const seen = Date.parse(data.node.repository.tag.pushedAt);
      expect(data.node.repository.tag.digest).toBe(digest);
      expect(seen).toBeGreaterThanOrEqual(before);
      expect(Date.parse(data.node.repository.lastPushedAt)).toBe(seen);
      expect(Date.parse(data.node.lastPushedAt)).toBe(seen);
    } finally {
      await silent.stop();
    }
  });

  it('removes a tag deleted while berth was not told, and keeps the others', async () => {
    const doomed = await pushArtifact(app.registry.client, repository, 'doomed', buildImage());
    await pushArtifact(app.registry.client, repository, 'kept', buildImage());
    await recordedPush(app.db, repository, 'doomed');
    await recordedPush(app.db, repository, 'kept');
    const silent = await startSilentRegistry(app);
    try {
      await silent.client.deleteManifest(repository, doomed);
      await app.reconciler.runNow();
      expect(await tagNames()).toEqual(['kept', 'lost']);
      expect(await app.db.contentRevision.count({ where: { repository: { path: repository }, digest: doomed } })).toBe(0);
    } finally {
      await silent.stop();
    }
  });

  it('runs on its own, every interval', async () => {
    const silent = await startSilentRegistry(app);
    try {
      const digest = await pushArtifact(silent.client, repository, 'periodic', buildImage());
      const row = await eventually(() => app.db.contentTag.findFirst({ where: { repository: { path: repository }, name: 'periodic' } }), 5_000);
      expect(row.digest).toBe(digest);
    } finally {
      await silent.stop();
    }
  });
});
