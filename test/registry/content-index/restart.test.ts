import { once } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../../support/app.js';
import { eventually, recordedPush, startSilentRegistry } from '../../support/content.js';
import { createNamespace, createRegistry } from '../../support/fixtures.js';
import { buildImage, pushArtifact } from '../../support/oci-images.js';

// The default schedule (every 5 minutes) never runs during these tests: what they see comes from the
// reconcile that a start or a registry restart triggers.
const app = useTestApp();

let owner: Client;
let registry: { id: string; slug: string };
let repository: string;

beforeAll(async () => {
  owner = await app.user('owner');
  registry = await createRegistry(owner, (await createNamespace(owner)).id);
  repository = `${registry.slug}/app`;
});

const TAG = `query ($id: ID!, $tag: String!) { node(id: $id) { ... on Registry { repository(name: "app") { tag(name: $tag) { digest pushedAt } } } } }`;

describe('reconciling when the registry or berth restarts', () => {
  it('repairs on start a tag moved while berth was stopped', async () => {
    await pushArtifact(app.registry.client, repository, 'moving', buildImage());
    const before = await recordedPush(app.db, repository, 'moving');
    const moved = buildImage();
    await app.restart(async () => {
      const silent = await startSilentRegistry(app);
      try {
        await pushArtifact(silent.client, repository, 'moving', moved);
      } finally {
        await silent.stop();
      }
    });
    const { data } = await eventually(async () => {
      const result = await owner.execute(TAG, { id: registry.id, tag: 'moving' });
      return result.data.node.repository.tag.digest === moved.digest && result;
    });
    expect(Date.parse(data.node.repository.tag.pushedAt)).toBeGreaterThan(before.pushedAt.getTime());
  });

  it('repairs what a registry restart lost: the queued notifications of pushes it had taken', async () => {
    const silent = await startSilentRegistry(app);
    let digest: string;
    try {
      digest = await pushArtifact(silent.client, repository, 'before-restart', buildImage());
    } finally {
      await silent.stop();
    }
    // A new registry process serves, as after a crash: berth reconciles.
    const restarted = once(app.registry.embedded!, 'ready');
    process.kill(app.registry.embedded!.pid!, 'SIGKILL');
    await restarted;
    const row = await eventually(() => app.db.contentTag.findFirst({ where: { repository: { path: repository }, name: 'before-restart' } }), 5_000);
    expect(row.digest).toBe(digest);
  });
});
