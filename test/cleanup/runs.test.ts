import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureTag } from '../../src/registry/content.js';
import { type Data, useTestApp } from '../support/app.js';
import { CLEANUP_JOB, CLEANUP_PROGRESS, entryNames, followCleanup, PREVIEW, runCleanup, setPolicy, waitForCleanupJob } from '../support/cleanup.js';
import { recordedPush, storedBlobs } from '../support/content.js';
import { createNamespace, createRegistry } from '../support/fixtures.js';
import { blobStore, fileBytes } from '../support/gc.js';
import { buildImage, buildIndex, pushArtifact, skopeoCopy, type TestArtifact, writeOciLayout } from '../support/oci-images.js';
import { overSse } from '../support/subscriptions.js';

const app = useTestApp();
const scratch = await mkdtemp(join(tmpdir(), 'berth-cleanup-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const DAY = 86_400_000;
const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];
const RULES = [{ name: 'old builds', tagRegex: 'ci-.*', olderThanDays: 30, keepRegex: 'v\\d+\\.\\d+\\.\\d+|latest|stable' }];

let host: string;
let creds: string;
let namespaceId: string;

/** What each tag points at, by "repository:tag" inside the registry. */
type Content = Map<string, TestArtifact>;

beforeAll(async () => {
  host = new URL(app.registry.embedded!.url).host;
  creds = `admin:${app.admin.token}`;
  namespaceId = (await createNamespace(app.admin)).id;
});

/** Pushes with skopeo from an OCI layout (every platform of an index), as a docker client would. */
async function pushWithSkopeo(path: string, tag: string, artifact: TestArtifact): Promise<void> {
  const layout = await writeOciLayout(join(scratch, `${path.replaceAll('/', '_')}-${tag}`), tag, artifact);
  await skopeoCopy(layout.reference, `docker://${host}/${path}:${tag}`, { destinationCreds: creds, all: layout.all });
}

/** Pushes through the V2 API; an image already in the repository is only tagged. */
async function pushOverV2(path: string, tag: string, artifact: TestArtifact): Promise<void> {
  await pushArtifact(app.registry.client, path, tag, artifact);
}

/** Waits for every push to reach the content index, then dates the tags as given (days ago). */
async function settle(slug: string, content: Content, ages: Record<string, number>): Promise<void> {
  for (const key of content.keys()) {
    const [repository, tag] = key.split(':') as [string, string];
    await recordedPush(app.db, `${slug}/${repository}`, tag);
  }
  for (const [key, days] of Object.entries(ages)) {
    const [repository, tag] = key.split(':') as [string, string];
    await app.db.contentTag.updateMany({ where: { repository: { path: `${slug}/${repository}` }, name: tag }, data: { pushedAt: new Date(Date.now() - days * DAY) } });
  }
}

/** Bytes of the blobs the deleted artifacts use and nothing that stays uses. */
function exclusiveBytes(deleted: readonly TestArtifact[], staying: readonly TestArtifact[]): number {
  const kept = new Set(staying.flatMap((artifact) => [...storedBlobs(artifact).keys()]));
  const freed = new Map(deleted.flatMap((artifact) => [...storedBlobs(artifact)]).filter(([digest]) => !kept.has(digest)));
  return [...freed.values()].reduce((total, size) => total + size, 0);
}

/** The tags the registry itself lists, as "repository:tag". */
async function listedTags(slug: string, repositories: readonly string[]): Promise<string[]> {
  const tags = await Promise.all(repositories.map(async (name) => (await app.registry.client.listTags(`${slug}/${name}`)).map((tag) => `${name}:${tag}`)));
  return tags.flat().sort();
}

/** skopeo copies the tag out completely (every platform of an index) and finds the digest it was pushed with. */
async function expectPulls(slug: string, key: string, artifact: TestArtifact): Promise<void> {
  const [repository, tag] = key.split(':') as [string, string];
  const out = join(scratch, `pulled-${repository.replaceAll('/', '_')}-${tag}-${Date.now()}`);
  await skopeoCopy(`docker://${host}/${slug}/${repository}:${tag}`, `oci:${out}:${tag}`, { sourceCreds: creds, all: artifact.kind === 'index' });
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  expect(index.manifests.map((manifest) => manifest.digest)).toEqual([artifact.digest]);
}

async function preview(registryId: string, rules: unknown[]): Promise<Data> {
  const { data, errors } = await app.admin.execute(PREVIEW, { registryId, rules });
  if (!data?.cleanupPreview) throw new Error(`cleanupPreview failed: ${JSON.stringify(errors)}`);
  return data.cleanupPreview;
}

describe('a cleanup run', () => {
  let registry: { id: string; slug: string };
  const content: Content = new Map();
  const deleted: TestArtifact[] = [];
  const staying: TestArtifact[] = [];

  beforeAll(async () => {
    registry = await createRegistry(app.admin, namespaceId);
    const other = await createRegistry(app.admin, namespaceId);
    const app_ = `${registry.slug}/app`;
    const multi = `${registry.slug}/multi`;

    const release = buildImage({ layerBytes: 4096 });
    const latest = buildImage({ layerBytes: 4096 });
    const ci1 = buildImage({ layerBytes: 4096 });
    // Shares a layer only with ci-1, which goes too: that layer counts.
    const ci2 = buildImage({ baseLayers: ci1.layers, layerBytes: 4096 });
    // Shares a layer with v1.0.0, which stays: that layer does not count.
    const ci4 = buildImage({ baseLayers: release.layers, layerBytes: 4096 });
    // Shares a layer with another registry's image: that layer does not count either.
    const elsewhere = buildImage({ layerBytes: 4096 });
    const ci5 = buildImage({ baseLayers: elsewhere.layers, layerBytes: 4096 });
    const signedImage = buildImage({ layerBytes: 4096 });
    const signature = buildImage({ layerBytes: 512 });
    const fresh = buildImage({ layerBytes: 4096 });
    const stable = buildIndex(PLATFORMS, { layerBytes: 4096 });
    const ciMulti = buildIndex(PLATFORMS, { layerBytes: 4096 });

    const pushes: [string, string, TestArtifact, 'skopeo' | 'v2'][] = [
      ['app', 'v1.0.0', release, 'skopeo'],
      ['app', 'latest', latest, 'v2'],
      ['app', 'ci-1', ci1, 'skopeo'],
      ['app', 'ci-2', ci2, 'v2'],
      // Another tag on latest's image: deleting it deletes a tag, not the image.
      ['app', 'ci-3', latest, 'v2'],
      ['app', 'ci-4', ci4, 'v2'],
      ['app', 'ci-5', ci5, 'v2'],
      ['app', 'ci-signed', signedImage, 'v2'],
      ['app', signatureTag(signedImage.digest), signature, 'v2'],
      ['app', 'ci-new', fresh, 'v2'],
      ['multi', 'stable', stable, 'skopeo'],
      // A platform of stable, tagged on its own.
      ['multi', 'ci-amd64', stable.children[0]!, 'v2'],
      ['multi', 'ci-multi', ciMulti, 'skopeo'],
    ];
    await pushOverV2(`${other.slug}/base`, 'v1', elsewhere);
    for (const [repository, tag, artifact, how] of pushes) {
      await (how === 'skopeo' ? pushWithSkopeo : pushOverV2)(repository === 'app' ? app_ : multi, tag, artifact);
      content.set(`${repository}:${tag}`, artifact);
    }
    await recordedPush(app.db, `${other.slug}/base`, 'v1');
    const old = Object.fromEntries([...content.keys()].filter((key) => key !== 'app:ci-new').map((key) => [key, 60]));
    await settle(registry.slug, content, { ...old, 'app:ci-new': 2 });
    deleted.push(ci1, ci2, ci4, ci5, ciMulti);
    staying.push(release, latest, signedImage, signature, fresh, stable, elsewhere);
  });

  const DELETIONS = ['app:ci-1', 'app:ci-2', 'app:ci-3', 'app:ci-4', 'app:ci-5', 'multi:ci-multi'];
  const KEEPS = {
    'app:ci-new': 'NOT_SELECTED',
    'app:ci-signed': 'SIGNED',
    'app:latest': 'KEEP_REGEX',
    'app:v1.0.0': 'KEEP_REGEX',
    'multi:ci-amd64': 'INDEX_CHILD',
    'multi:stable': 'KEEP_REGEX',
  };

  it('is previewed from the index: what goes, what stays and why, and the exact bytes a GC would free', async () => {
    const shown = await preview(registry.id, RULES);
    expect(entryNames(shown.deletions)).toEqual(DELETIONS);
    const keeps = Object.fromEntries(shown.keeps.nodes.map((node: Data) => [`${node.tag.repository.name}:${node.tag.name}`, node.reason.kind]));
    const signed = content.get('app:ci-signed')!;
    expect(keeps).toEqual({ ...KEEPS, [`app:${signatureTag(signed.digest)}`]: 'SIGNATURE_OF_KEPT' });
    expect(shown).toMatchObject({ deleteCount: 6, keepCount: 7, refusedRepositories: [] });
    expect(shown.deletions.nodes[0].reason).toEqual({ kind: 'SELECTED', rule: 0, ruleName: 'old builds', message: expect.stringMatching(/^old builds: name matches ci-\.\*, pushed 60 days ago/) });
    expect(shown.deletions.nodes[0].tag.digest).toBe(content.get('app:ci-1')!.digest);
    expect(shown.bytesFreed).toBe(exclusiveBytes(deleted, staying));
  });

  it('in a dry run records what it would delete and free, and deletes nothing', async () => {
    await setPolicy(app.admin, { registryId: registry.id, rules: RULES });
    const job = await waitForCleanupJob(app.admin, (await runCleanup(app.admin, registry.id, true)).id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', dryRun: true, tagsTotal: 6, tagsDeleted: 0, bytesFreed: exclusiveBytes(deleted, staying), gcJob: null });
    expect(job.deletions.nodes.map((d: Data) => `${d.repository}:${d.tag}`)).toEqual(DELETIONS);
    expect(job.deletions.nodes.every((d: Data) => d.deleted === false)).toBe(true);
    expect(await listedTags(registry.slug, ['app', 'multi'])).toEqual([...content.keys()].sort());
  });

  it('deletes exactly what the preview listed, frees exactly its bytes on disk, and every kept tag still pulls', { timeout: 120_000 }, async () => {
    const shown = await preview(registry.id, RULES);
    const storage = blobStore(app.registry.embedded!.storageDir);
    const before = await fileBytes(storage);

    const queued = await runCleanup(app.admin, registry.id);
    expect(queued).toMatchObject({ status: 'QUEUED', trigger: 'MANUAL', dryRun: false });
    const [events, sse] = await Promise.all([
      followCleanup(app.url, app.admin.token!, queued.id),
      overSse(app.url, app.admin.token!, CLEANUP_PROGRESS, { id: queued.id }, 'cleanupJobProgress'),
    ]);
    expect(sse.completed).toBe(true);
    expect(sse.events.at(-1)).toEqual(events.at(-1));

    const last = events.at(-1);
    expect(last).toMatchObject({ status: 'SUCCEEDED', percent: 100, tagsTotal: 6, tagsDeleted: 6, expectedBytesFreed: shown.bytesFreed, bytesFreed: shown.bytesFreed, error: null });
    expect(last.gcJob).toMatchObject({ status: 'SUCCEEDED' });
    const percents = events.map((event) => event.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const phases = new Set(events.map((event) => event.phase));
    for (const phase of ['DELETING', 'GC_MARKING', 'GC_SWEEPING']) expect(phases).toContain(phase);
    expect(before - (await fileBytes(storage))).toBe(shown.bytesFreed);

    const { data } = await app.admin.execute(CLEANUP_JOB, { id: queued.id });
    const recorded = data.node.deletions.nodes;
    expect(recorded.map((d: Data) => `${d.repository}:${d.tag}`)).toEqual(entryNames(shown.deletions));
    expect(recorded.map((d: Data) => d.digest)).toEqual(shown.deletions.nodes.map((node: Data) => node.tag.digest));
    expect(recorded.every((d: Data) => d.deleted && d.rule === 0 && d.error === null)).toBe(true);

    const keptNow = entryNames(shown.keeps).sort();
    expect(await listedTags(registry.slug, ['app', 'multi'])).toEqual(keptNow);
    for (const key of keptNow) await expectPulls(registry.slug, key, content.get(key)!);
    // The index agrees: the tags left are the kept ones, and nothing is left to reclaim.
    expect(entryNames((await preview(registry.id, RULES)).keeps).sort()).toEqual(keptNow);
    const { data: after } = await app.admin.execute('query ($id: ID!) { node(id: $id) { ... on Registry { reclaimableBytes cleanupJobs(first: 5) { totalCount nodes { id } } } } }', { id: registry.id });
    expect(after.node).toMatchObject({ reclaimableBytes: 0, cleanupJobs: { totalCount: 2, nodes: [{ id: queued.id }, expect.anything()] } });
  });
});

describe('a rule set that would empty a repository', () => {
  let registry: { id: string; slug: string };
  const content: Content = new Map();
  const everything = [{ repositoryGlob: 'ci/**', tagRegex: '.*', olderThanDays: 30 }];

  beforeAll(async () => {
    registry = await createRegistry(app.admin, namespaceId);
    const [a, b] = [buildImage({ layerBytes: 2048 }), buildImage({ layerBytes: 2048 })];
    await pushWithSkopeo(`${registry.slug}/ci/cache`, 'a', a);
    await pushWithSkopeo(`${registry.slug}/ci/cache`, 'b', b);
    content.set('ci/cache:a', a).set('ci/cache:b', b);
    await settle(registry.slug, content, { 'ci/cache:a': 60, 'ci/cache:b': 1 });
  });

  it('is refused unless it says so, and a run keeps such a repository whole', async () => {
    await setPolicy(app.admin, { registryId: registry.id, rules: everything });
    // Time passes: now the rules would delete every tag.
    await settle(registry.slug, content, { 'ci/cache:b': 60 });

    const shown = await preview(registry.id, everything);
    expect(shown).toMatchObject({ deleteCount: 0, keepCount: 2, bytesFreed: 0, refusedRepositories: ['ci/cache'] });
    expect(shown.keeps.nodes.map((node: Data) => node.reason.kind)).toEqual(['WOULD_EMPTY_REPOSITORY', 'WOULD_EMPTY_REPOSITORY']);
    const { data } = await app.admin.execute(
      'mutation ($input: SetCleanupPolicyInput!) { setCleanupPolicy(input: $input) { __typename ... on ValidationError { field message } } }',
      { input: { registryId: registry.id, rules: everything } },
    );
    expect(data.setCleanupPolicy).toEqual({
      __typename: 'ValidationError',
      field: 'rules.0.allowEmptyRepositories',
      message: 'rule 1 would delete every tag of ci/cache; set allowEmptyRepositories on it if that is what you want',
    });

    const job = await waitForCleanupJob(app.admin, (await runCleanup(app.admin, registry.id)).id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', tagsTotal: 0, tagsDeleted: 0, bytesFreed: 0 });
    expect(await listedTags(registry.slug, ['ci/cache'])).toEqual(['ci/cache:a', 'ci/cache:b']);
  });

  it('with allowEmptyRepositories deletes every tag, and the repository goes', { timeout: 60_000 }, async () => {
    const allowed = [{ ...everything[0], allowEmptyRepositories: true }];
    const shown = await preview(registry.id, allowed);
    expect(entryNames(shown.deletions)).toEqual(['ci/cache:a', 'ci/cache:b']);
    expect(shown.bytesFreed).toBe(exclusiveBytes([...content.values()], []));
    await setPolicy(app.admin, { registryId: registry.id, rules: allowed });
    const job = await waitForCleanupJob(app.admin, (await runCleanup(app.admin, registry.id)).id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', tagsDeleted: 2, bytesFreed: shown.bytesFreed });
    const { data } = await app.admin.execute('query ($id: ID!) { node(id: $id) { ... on Registry { repositories(first: 5) { totalCount } } } }', { id: registry.id });
    expect(data.node.repositories.totalCount).toBe(0);
  });
});
