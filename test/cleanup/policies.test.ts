import { decodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Client, useTestApp } from '../support/app.js';
import { PREVIEW, RUN_CLEANUP, SET_POLICY, setPolicy, waitForCleanupJob } from '../support/cleanup.js';
import { recordedPush } from '../support/content.js';
import { addMember, createNamespace, createRegistry } from '../support/fixtures.js';
import { buildImage, pushArtifact } from '../support/oci-images.js';

const app = useTestApp();

let owner: Client;
let viewer: Client;
let outsider: Client;
let registry: { id: string; slug: string };
const RULES = [{ tagRegex: 'ci-.*', olderThanDays: 30 }];

beforeAll(async () => {
  owner = await app.user('owner');
  viewer = await app.user('viewer');
  outsider = await app.user('outsider');
  const namespace = await createNamespace(owner);
  await addMember(owner, namespace.id, viewer, 'VIEWER');
  registry = await createRegistry(owner, namespace.id);
  await pushArtifact(app.registry.client, `${registry.slug}/app`, 'ci-1', buildImage());
  await pushArtifact(app.registry.client, `${registry.slug}/app`, 'v1', buildImage());
  await recordedPush(app.db, `${registry.slug}/app`, 'ci-1');
  await recordedPush(app.db, `${registry.slug}/app`, 'v1');
});

describe('cleanup policies', () => {
  it('refuses invalid rules and schedules, naming the field', async () => {
    const set = async (input: Record<string, unknown>) => (await owner.execute(SET_POLICY, { input: { registryId: registry.id, ...input } })).data.setCleanupPolicy;
    expect(await set({ rules: [{ tagRegex: '(ci' }] })).toMatchObject({ __typename: 'ValidationError', field: 'rules.0.tagRegex' });
    expect(await set({ rules: [{ keepRegex: 'v.*' }] })).toMatchObject({ __typename: 'ValidationError', field: 'rules.0' });
    expect(await set({ rules: RULES, schedule: '* * * * * *' })).toMatchObject({ __typename: 'ValidationError', field: 'schedule' });
    expect(await set({ rules: RULES, schedule: 'every night' })).toMatchObject({ __typename: 'ValidationError', field: 'schedule' });

    const { data, errors } = await owner.execute(PREVIEW, { registryId: registry.id, rules: [{ tagRegex: 'x'.repeat(300) }] });
    expect(data).toBeNull();
    expect(errors).toMatchObject([{ message: 'at most 256 characters', extensions: { code: 'VALIDATION', field: 'rules.0.tagRegex' } }]);
  });

  it('saves rules with their defaults and a schedule with its next run, and shows them to members', async () => {
    const policy = await setPolicy(owner, { registryId: registry.id, rules: [{ name: 'ci', ...RULES[0] }], schedule: '30 4 * * MON' });
    expect(policy).toMatchObject({
      schedule: '30 4 * * MON',
      enabled: true,
      rules: [{ name: 'ci', tagRegex: 'ci-.*', olderThanDays: 30, keepRegex: null, keepSigned: true, allowEmptyRepositories: false }],
    });
    const next = new Date(policy.nextRunAt);
    expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 4, 30]);
    expect(next.getTime()).toBeGreaterThan(Date.now());

    const { data } = await viewer.execute('query ($id: ID!) { node(id: $id) { ... on Registry { cleanupPolicy { schedule nextRunAt rules { name } } } } }', { id: registry.id });
    expect(data.node.cleanupPolicy).toEqual({ schedule: '30 4 * * MON', nextRunAt: policy.nextRunAt, rules: [{ name: 'ci' }] });

    const disabled = await setPolicy(owner, { registryId: registry.id, rules: RULES, schedule: '30 4 * * MON', enabled: false });
    expect(disabled).toMatchObject({ enabled: false, nextRunAt: null });
  });

  it('lets members preview, maintainers change and run, and hides the registry from others', async () => {
    expect((await viewer.execute(PREVIEW, { registryId: registry.id, rules: RULES })).data.cleanupPreview).toMatchObject({ deleteCount: 0, keepCount: 2 });
    const asViewer = await viewer.execute(SET_POLICY, { input: { registryId: registry.id, rules: RULES } });
    expect(asViewer.data.setCleanupPolicy.__typename).toBe('ForbiddenError');
    expect((await viewer.execute(RUN_CLEANUP, { input: { registryId: registry.id } })).data.runCleanup.__typename).toBe('ForbiddenError');

    const asOutsider = await outsider.execute(PREVIEW, { registryId: registry.id, rules: RULES });
    expect(asOutsider.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    expect((await outsider.execute(SET_POLICY, { input: { registryId: registry.id, rules: RULES } })).data.setCleanupPolicy.__typename).toBe('NotFoundError');
    expect((await outsider.execute(RUN_CLEANUP, { input: { registryId: registry.id } })).data.runCleanup.__typename).toBe('NotFoundError');
  });

  it('runs only a saved policy', async () => {
    const bare = await createRegistry(owner, (await createNamespace(owner)).id);
    const { data } = await owner.execute(RUN_CLEANUP, { input: { registryId: bare.id } });
    expect(data.runCleanup).toMatchObject({ __typename: 'ValidationError', field: 'registryId' });
  });
});

describe('cleanup jobs', () => {
  it('run one at a time per registry; a job whose instance died ends INTERRUPTED and frees the registry', async () => {
    await setPolicy(owner, { registryId: registry.id, rules: RULES });
    const registryId = decodeGlobalID(registry.id).id;
    const stale = await app.db.cleanupJob.create({
      data: {
        registryId,
        activeFor: registryId,
        trigger: 'SCHEDULE',
        rules: '[]',
        status: 'RUNNING',
        phase: 'DELETING',
        leaseOwner: 'gone:/nowhere',
        leaseExpiresAt: new Date(Date.now() - 60_000),
      },
    });

    const refused = (await owner.execute(RUN_CLEANUP, { input: { registryId: registry.id, dryRun: true } })).data.runCleanup;
    expect(refused).toMatchObject({ __typename: 'CleanupAlreadyRunningError', job: { status: 'RUNNING' } });
    expect(decodeGlobalID(refused.job.id).id).toBe(stale.id);

    await app.services.cleanup.recover();
    expect(await app.db.cleanupJob.findUniqueOrThrow({ where: { id: stale.id } })).toMatchObject({
      status: 'INTERRUPTED',
      activeFor: null,
      percent: 100,
      error: 'interrupted: its berth instance stopped renewing the lease during DELETING',
    });
    const job = await waitForCleanupJob(owner, (await owner.execute(RUN_CLEANUP, { input: { registryId: registry.id, dryRun: true } })).data.runCleanup.job.id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', dryRun: true });
  });
});
