import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, type Data, useTestApp } from '../support/app.js';
import { eventually, recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, buildIndex, pushArtifact, skopeoCopy, writeOciLayout } from '../support/oci-images.js';
import { type OutsideRegistry, startHtpasswdRegistry } from '../support/remote-registries.js';

const execFileAsync = promisify(execFile);
const app = useTestApp();
const scratch = await mkdtemp(path.join(tmpdir(), 'berth-import-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

let owner: Client;
let viewer: Client;
let namespace: { id: string; slug: string };
let target: { id: string; slug: string };
let source: OutsideRegistry;
let connectionId: string;

const single = buildImage({ layerCount: 3, layerBytes: 4096 });
const multi = buildIndex([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]);

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  target = await createRegistry(owner, namespace.id, { slug: 'imported' });
  source = await startHtpasswdRegistry();
  // Into the source with skopeo, as its users would push.
  const creds = `${source.username}:${source.password}`;
  await skopeoCopy((await writeOciLayout(path.join(scratch, 'layout'), 'v1', single)).reference, `docker://${source.host}/library/app:v1`, { destinationCreds: creds });
  await skopeoCopy((await writeOciLayout(path.join(scratch, 'layout'), 'multi', multi)).reference, `docker://${source.host}/library/app:multi`, { destinationCreds: creds, all: true });
  const { data } = await owner.execute(
    `mutation ($input: ConnectExternalRegistryInput!) { connectExternalRegistry(input: $input) { ... on ConnectExternalRegistryPayload { registry { id } } } }`,
    { input: { namespaceId: namespace.id, name: 'source', url: source.url, username: source.username, password: source.password, isDefault: true } },
  );
  connectionId = data.connectExternalRegistry.registry.id;
});

afterAll(() => source?.dispose());

const JOB_FIELDS = /* GraphQL */ `
  fragment ImportJobFields on ImportJob {
    id status phase percent bytesTotal bytesCopied blobsTotal blobsCopied blobsSkipped digest error
    sourceUrl sourceRepository reference targetRepository targetTag sourceRegistry { id } registry { id }
    image { digest repository { path } }
  }
`;

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on ImportImagePayload { job { ...ImportJobFields } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
  ${JOB_FIELDS}
`;

const PROGRESS = /* GraphQL */ `subscription ($id: ID!) { importJobProgress(id: $id) { ...ImportJobFields } } ${JOB_FIELDS}`;
const JOB = /* GraphQL */ `query ($id: ID!) { node(id: $id) { ... on ImportJob { ...ImportJobFields } } } ${JOB_FIELDS}`;

async function startImport(input: Record<string, unknown>, as = owner): Promise<Data> {
  const { data, errors } = await as.execute(IMPORT, { input: { targetRegistryId: target.id, ...input } });
  expect(errors).toBeUndefined();
  return data.importImage;
}

/** Every event of importJobProgress over graphql-ws, to completion. */
function follow(id: string): Promise<Data[]> {
  const client = createClient({ url: `${app.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.token}` } });
  const events: Data[] = [];
  return new Promise<Data[]>((resolve, reject) => {
    client.subscribe(
      { query: PROGRESS, variables: { id } },
      { next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : events.push(result.data?.importJobProgress)), error: reject, complete: () => resolve(events) },
    );
  }).finally(() => client.dispose());
}

async function finished(id: string): Promise<Data> {
  return eventually(async () => {
    const job = (await owner.execute(JOB, { id })).data.node;
    return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'].includes(job.status) && job;
  }, 30_000);
}

/** The digest of what a reference names in berth's registry, as skopeo reads it (the raw manifest, hashed). */
async function pulledDigest(reference: string): Promise<string> {
  const { stdout } = await execFileAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `owner:${owner.token}`, `docker://${app.registry.embedded!.url.slice(7)}/${reference}`], {
    encoding: 'buffer',
  });
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

/** Pulls every platform and blob of a reference out of berth's registry with skopeo. */
async function pullAll(reference: string): Promise<void> {
  await skopeoCopy(`docker://${app.registry.embedded!.url.slice(7)}/${reference}`, `oci:${await mkdtemp(path.join(scratch, 'pull-'))}:x`, {
    sourceCreds: `owner:${owner.token}`,
    all: true,
  });
}

describe('importImage', () => {
  it('imports a tag from the default connection, streaming progress over graphql-ws, and the image pulls with the same digest', async () => {
    const started = await startImport({ sourceRepository: 'library/app', reference: 'v1' });
    expect(started).toMatchObject({
      __typename: 'ImportImagePayload',
      job: { status: 'QUEUED', sourceRegistry: { id: connectionId }, sourceUrl: source.url, targetRepository: 'app', targetTag: 'v1', registry: { id: target.id } },
    });
    const events = await follow(started.job.id);
    expect(events[0].id).toBe(started.job.id);
    const percents = events.map((event) => event.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const last = events.at(-1);
    const blobBytes = single.config.size + single.layers.reduce((total, layer) => total + layer.size, 0);
    expect(last).toMatchObject({
      status: 'SUCCEEDED',
      phase: 'DONE',
      percent: 100,
      digest: single.digest,
      blobsTotal: 4,
      blobsCopied: 4,
      blobsSkipped: 0,
      bytesTotal: blobBytes,
      bytesCopied: blobBytes,
      image: { digest: single.digest, repository: { path: 'imported/app' } },
    });
    expect(events.some((event) => event.status === 'RUNNING' && event.phase === 'COPYING')).toBe(true);
    expect(await pulledDigest('imported/app:v1')).toBe(single.digest);
    await pullAll('imported/app:v1');
  });

  it('imports a 2-platform OCI index with every platform, children first, so every digest stays the source’s', async () => {
    const started = await startImport({ sourceRegistryId: connectionId, sourceRepository: 'library/app', reference: 'multi', targetRepository: 'team/app' });
    const job = await finished(started.job.id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', digest: multi.digest, blobsTotal: 4 });
    expect(await pulledDigest('imported/team/app:multi')).toBe(multi.digest);
    for (const child of multi.children) expect(await pulledDigest(`imported/team/app@${child.digest}`)).toBe(child.digest);
    await pullAll('imported/team/app:multi');
    await recordedPush(app.db, 'imported/team/app', 'multi');
    const { data } = await owner.execute(
      `query ($id: ID!) { node(id: $id) { ... on Registry { repository(name: "team/app") { image(reference: "multi") { platforms { architecture } } } } } }`,
      { id: target.id },
    );
    expect(data.node.repository.image.platforms.map((p: { architecture: string }) => p.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('skips the blobs the target already holds: running an import again resumes it', async () => {
    const again = await finished((await startImport({ sourceRepository: 'library/app', reference: 'v1', targetTag: 'again' })).job.id);
    expect(again).toMatchObject({ status: 'SUCCEEDED', blobsCopied: 0, blobsSkipped: 4, bytesCopied: 0, percent: 100 });
    expect(await pulledDigest('imported/app:again')).toBe(single.digest);
  });

  it('ends FAILED with the source’s answer for a tag it does not have', async () => {
    const job = await finished((await startImport({ sourceRepository: 'library/app', reference: 'nope' })).job.id);
    expect(job).toMatchObject({ status: 'FAILED', percent: 100, image: null });
    expect(job.error).toContain('has no nope');
    expect(job.error).toContain('MANIFEST_UNKNOWN');
  });

  it('refuses to copy past the target’s quota, before copying anything', async () => {
    const small = await createRegistry(owner, namespace.id, { quotaBytes: 1_000 });
    const job = await finished((await startImport({ targetRegistryId: small.id, sourceRepository: 'library/app', reference: 'v1' })).job.id);
    expect(job).toMatchObject({ status: 'FAILED', blobsCopied: 0, bytesCopied: 0 });
    expect(job.error).toMatch(/^quota exceeded: registry .* its quota is 1000 bytes; the import needs \d+ bytes more$/);
    expect(await app.registry.client.headBlob(`${small.slug}/app`, single.layers[0]!.digest)).toBeNull();
  });

  it('fails a blob whose bytes do not match its digest, and stores nothing of it', async () => {
    const rotten = buildImage({ layerBytes: 2048 });
    await pushArtifact(source.client, 'library/rotten', 'v1', rotten);
    const layer = rotten.layers[0]!;
    const hex = layer.digest.slice('sha256:'.length);
    const file = path.join(source.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    await writeFile(file, bytes);
    const job = await finished((await startImport({ sourceRepository: 'library/rotten', reference: 'v1' })).job.id);
    expect(job).toMatchObject({ status: 'FAILED' });
    expect(job.error).toContain(`blob ${layer.digest} from the source does not match its digest`);
    expect(await app.registry.client.headBlob('imported/rotten', layer.digest)).toBeNull();
  });

  it('mounts blobs instead of copying them when the source is a registry on berth’s own backend', async () => {
    const job = await finished((await startImport({ sourceRegistryId: target.id, sourceRepository: 'app', reference: 'v1', targetRepository: 'mounted' })).job.id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', blobsCopied: 4, blobsSkipped: 0, digest: single.digest });
    expect(await pulledDigest('imported/mounted:v1')).toBe(single.digest);
    await pullAll('imported/mounted:v1');
  });

  it('answers typed errors: a hosted target only, a name the registry cannot hold, a VIEWER', async () => {
    expect(await startImport({ targetRegistryId: connectionId, sourceRepository: 'library/app', reference: 'v1' })).toMatchObject({ __typename: 'ValidationError', field: 'targetRegistryId' });
    expect(await startImport({ sourceRepository: 'Library/App', reference: 'v1' })).toMatchObject({ __typename: 'ValidationError', field: 'sourceRepository' });
    expect(await startImport({ sourceRepository: 'library/app', reference: 'not a tag' })).toMatchObject({ __typename: 'ValidationError', field: 'reference' });
    expect(await startImport({ sourceRepository: 'library/app', reference: 'v1' }, viewer)).toMatchObject({ __typename: 'ForbiddenError' });
  });

  it('lists a registry’s imports newest first', async () => {
    const { data } = await viewer.execute(`query ($id: ID!) { node(id: $id) { ... on Registry { importJobs(first: 3) { totalCount nodes { reference status } } } } }`, { id: target.id });
    expect(data.node.importJobs.totalCount).toBeGreaterThanOrEqual(5);
    expect(data.node.importJobs.nodes[0]).toMatchObject({ reference: 'v1', status: 'SUCCEEDED' });
  });
});

describe('after the source connection is deleted', () => {
  it('keeps the imported images pulling, and the history says where they came from', async () => {
    const { data } = await owner.execute(`mutation ($input: DeleteRegistryInput!) { deleteRegistry(input: $input) { __typename } }`, { input: { id: connectionId } });
    expect(data.deleteRegistry.__typename).toBe('DeleteRegistryPayload');
    expect(await pulledDigest('imported/app:v1')).toBe(single.digest);
    expect(await pulledDigest('imported/team/app:multi')).toBe(multi.digest);
    await pullAll('imported/team/app:multi');
    const jobs = await app.db.importJob.findMany({ where: { registryId: decodeGlobalID(target.id).id, reference: 'multi' } });
    expect(jobs.map((job) => [job.sourceRegistryId, job.sourceUrl])).toEqual([[null, source.url]]);
  });

  it('needs a named source once the namespace has no default connection', async () => {
    expect(await startImport({ sourceRepository: 'library/app', reference: 'v1' })).toMatchObject({ __typename: 'ValidationError', field: 'sourceRegistryId' });
  });
});

describe('a running import when berth stops', () => {
  it('ends INTERRUPTED on the next start', async () => {
    const [registryId, owned] = [decodeGlobalID(target.id).id, `${(await import('node:os')).hostname()}:${app.dataDir}`];
    const job = await app.db.importJob.create({
      data: { registryId, sourceUrl: source.url, sourceRepository: 'library/app', reference: 'v1', targetRepository: 'app', status: 'RUNNING', phase: 'COPYING', leaseOwner: owned, leaseExpiresAt: new Date(Date.now() + 60_000) },
    });
    await app.restart();
    expect(await app.db.importJob.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: 'INTERRUPTED', percent: 100, error: expect.stringContaining('during COPYING') });
  });
});
