import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { CANCEL_GC, GC_JOB, GC_JOB_FIELDS, START_GC, startGc, waitForGcJob } from '../support/gc.js';

const app = useTestApp();
let namespaceId: string;
let registryId: string;
const members = {} as Record<'OWNER' | 'MAINTAINER' | 'VIEWER' | 'outsider', Client>;

beforeAll(async () => {
  members.OWNER = await app.user();
  members.MAINTAINER = await app.user();
  members.VIEWER = await app.user();
  members.outsider = await app.user();
  ({ id: namespaceId } = await createNamespace(members.OWNER));
  ({ id: registryId } = await createRegistry(members.OWNER, namespaceId));
  await addMember(members.OWNER, namespaceId, members.MAINTAINER, 'MAINTAINER');
  await addMember(members.OWNER, namespaceId, members.VIEWER, 'VIEWER');
});

const REGISTRY_GC_JOBS = /* GraphQL */ `
  query ($id: ID!, $first: Int, $after: String) {
    node(id: $id) {
      ... on Registry { gcJobs(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { ...GcJobFields } } }
    }
  }
  ${GC_JOB_FIELDS}
`;

describe('startGarbageCollection', () => {
  it.each([
    ['OWNER', 'StartGarbageCollectionPayload'],
    ['MAINTAINER', 'StartGarbageCollectionPayload'],
    ['VIEWER', 'ForbiddenError'],
    ['outsider', 'NotFoundError'],
  ] as const)('as %s resolves to %s', async (role, typename) => {
    const { data } = await members[role].execute(START_GC, { input: { registryId, dryRun: true } });
    expect(data.startGarbageCollection.__typename).toBe(typename);
    if (typename !== 'StartGarbageCollectionPayload') return;
    const { job } = data.startGarbageCollection;
    expect(job).toMatchObject({ status: 'QUEUED', phase: 'QUEUED', dryRun: true, deleteUntagged: false, percent: 0, startedAt: null, registry: { id: registryId } });
    expect(decodeGlobalID(job.id).typename).toBe('GcJob');
    expect((await waitForGcJob(members[role], job.id)).status).toBe('SUCCEEDED');
  });

  it('refuses anonymous callers', async () => {
    const { data } = await app.anonymous.execute(START_GC, { input: { registryId } });
    expect(data.startGarbageCollection.__typename).toBe('ForbiddenError');
  });

  it('answers GcAlreadyRunningError with the job that is queued or running', async () => {
    const first = await startGc(members.MAINTAINER, registryId, { dryRun: true });
    const { data } = await members.OWNER.execute(START_GC, { input: { registryId } });
    expect(data.startGarbageCollection).toMatchObject({ __typename: 'GcAlreadyRunningError', job: { id: first.id } });
    expect(data.startGarbageCollection.message).toMatch(/already has a garbage collection/);
    await waitForGcJob(members.OWNER, first.id);
    // Once it has ended, the registry may be collected again.
    await waitForGcJob(members.OWNER, (await startGc(members.OWNER, registryId, { dryRun: true })).id);
  });

  it('refuses an external registry with a ValidationError on registryId', async () => {
    const external = await app.db.registry.create({ data: { namespaceId: decodeGlobalID(namespaceId).id, kind: 'EXTERNAL', name: 'outside' } });
    const { data } = await members.OWNER.execute(START_GC, { input: { registryId: encodeGlobalID('Registry', external.id) } });
    expect(data.startGarbageCollection).toMatchObject({ __typename: 'ValidationError', field: 'registryId' });
  });
});

describe('GcJob history and visibility', () => {
  it('lists a registry’s jobs newest first and shows them to members only', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await waitForGcJob(members.OWNER, (await startGc(members.OWNER, registryId, { dryRun: true })).id)).id);

    const page = await members.VIEWER.execute(REGISTRY_GC_JOBS, { id: registryId, first: 2 });
    const { gcJobs } = page.data.node;
    expect(gcJobs.nodes.map((job: { id: string }) => job.id)).toEqual([ids[1], ids[0]]);
    expect(gcJobs.totalCount).toBe(await app.db.gcJob.count({ where: { registryId: decodeGlobalID(registryId).id } }));
    expect(gcJobs.pageInfo.hasNextPage).toBe(true);
    const next = await members.VIEWER.execute(REGISTRY_GC_JOBS, { id: registryId, first: 1, after: gcJobs.pageInfo.endCursor });
    expect(next.data.node.gcJobs.nodes[0].id).not.toBe(ids[1]);

    expect((await members.VIEWER.execute(GC_JOB, { id: ids[0] })).data.node).toMatchObject({ __typename: 'GcJob', id: ids[0], status: 'SUCCEEDED' });
    expect((await members.outsider.execute(GC_JOB, { id: ids[0] })).data.node).toBeNull();
    expect((await app.anonymous.execute(GC_JOB, { id: ids[0] })).data.node).toBeNull();
  });
});

describe('cancelGarbageCollection', () => {
  it('needs MAINTAINER, hides the job from outsiders and refuses a job that has ended', async () => {
    const job = await waitForGcJob(members.OWNER, (await startGc(members.OWNER, registryId, { dryRun: true })).id);
    const as = async (client: Client) => (await client.execute(CANCEL_GC, { input: { id: job.id } })).data.cancelGarbageCollection;
    expect((await as(members.VIEWER)).__typename).toBe('ForbiddenError');
    expect((await as(members.outsider)).__typename).toBe('NotFoundError');
    expect(await as(members.MAINTAINER)).toMatchObject({ __typename: 'ConflictError', message: 'the GC job has already ended (SUCCEEDED)' });
  });
});
