import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageInventory } from '../../../src/registry/content-index/inventory.js';
import { reconcileContentIndex } from '../../../src/registry/content-index/reconcile.js';
import { RegistryStorage } from '../../../src/registry/hosted/storage.js';
import { createTestDatabase, type TestDatabase } from '../../support/database.js';
import { writeLargeStorage } from '../../support/large-storage.js';
import { buildImage } from '../../support/oci-images.js';

const REPOSITORIES = 5_000;

let database: TestDatabase;
let root: string;
const image = buildImage();
const moved = buildImage();

beforeAll(async () => {
  database = await createTestDatabase();
  root = await mkdtemp(path.join(tmpdir(), 'berth-reconcile-scale-'));
  await writeLargeStorage(root, 'many/repo', REPOSITORIES, image);
}, 120_000);

afterAll(async () => {
  await database?.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe(`reconciling ${REPOSITORIES.toLocaleString('en')} repositories`, () => {
  const inventory = () => storageInventory(new RegistryStorage(root));

  it('records every repository, tag, manifest and blob in one pass, reading each manifest once', { timeout: 120_000 }, async () => {
    const result = await reconcileContentIndex(database.db, inventory());
    expect(result).toMatchObject({ repositories: REPOSITORIES, moved: 0, manifestsRead: 1 });
    // A tag and a revision in each.
    expect(result.added).toBe(REPOSITORIES * 2);
    const { db } = database;
    expect(await db.contentRepository.count({ where: { slug: 'many' } })).toBe(REPOSITORIES);
    expect(await db.contentTag.count({ where: { digest: image.digest } })).toBe(REPOSITORIES);
    expect(await db.contentRevision.count({ where: { digest: image.digest } })).toBe(REPOSITORIES);
    expect(await db.contentBlob.count()).toBe(3);
    expect(await db.contentBlobLink.count()).toBe(REPOSITORIES * 2);
  });

  it('changes nothing on a second pass, then repairs moved tags and drops what disappeared', { timeout: 120_000 }, async () => {
    expect(await reconcileContentIndex(database.db, inventory())).toMatchObject({ repositories: REPOSITORIES, added: 0, removed: 0, moved: 0 });

    for (let i = 0; i < 100; i++) await rm(path.join(root, 'docker', 'registry', 'v2', 'repositories', 'many', `repo${i}`), { recursive: true });
    // Tag v1 of 50 repositories now names another image: what a push berth missed looks like.
    const other = await mkdtemp(path.join(tmpdir(), 'berth-reconcile-moved-'));
    try {
      await writeLargeStorage(other, 'many/repo', 150, moved);
      await cp(path.join(other, 'docker', 'registry', 'v2', 'blobs'), path.join(root, 'docker', 'registry', 'v2', 'blobs'), { recursive: true });
      for (let i = 100; i < 150; i++) {
        const from = path.join(other, 'docker', 'registry', 'v2', 'repositories', 'many', `repo${i}`);
        await cp(from, path.join(root, 'docker', 'registry', 'v2', 'repositories', 'many', `repo${i}`), { recursive: true, force: true });
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }

    const result = await reconcileContentIndex(database.db, inventory());
    expect(result).toMatchObject({ repositories: REPOSITORIES - 100, moved: 50, manifestsRead: 1 });
    const { db } = database;
    expect(await db.contentRepository.count({ where: { slug: 'many' } })).toBe(REPOSITORIES - 100);
    expect(await db.contentTag.count({ where: { digest: moved.digest } })).toBe(50);
    // The old image stays linked in the moved repositories (distribution keeps the revision), untagged.
    expect(await db.contentRevision.count({ where: { digest: image.digest } })).toBe(REPOSITORIES - 100);
  });
});
