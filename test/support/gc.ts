import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { parseScopes } from '../../src/registry/v2/scope.js';
import type { RegistryTokenSigner } from '../../src/registry/hosted/token-signer.js';
import type { Client, Data } from './app.js';
import { type TestArtifact, blobsOf } from './oci-images.js';

export const GC_JOB_FIELDS = /* GraphQL */ `
  fragment GcJobFields on GcJob {
    id status phase dryRun deleteUntagged blobsTotal blobsMarked blobsDeleted manifestsDeleted bytesFreed percent
    createdAt startedAt finishedAt error registry { id }
  }
`;

export const START_GC = /* GraphQL */ `
  mutation ($input: StartGarbageCollectionInput!) {
    startGarbageCollection(input: $input) {
      __typename
      ... on StartGarbageCollectionPayload { job { ...GcJobFields } }
      ... on GcAlreadyRunningError { message job { ...GcJobFields } }
      ... on ValidationError { field }
      ... on Error { message }
    }
  }
  ${GC_JOB_FIELDS}
`;

export const CANCEL_GC = /* GraphQL */ `
  mutation ($input: CancelGarbageCollectionInput!) {
    cancelGarbageCollection(input: $input) {
      __typename
      ... on CancelGarbageCollectionPayload { job { ...GcJobFields } }
      ... on Error { message }
    }
  }
  ${GC_JOB_FIELDS}
`;

export const GC_JOB = /* GraphQL */ `
  query ($id: ID!) { node(id: $id) { __typename ... on GcJob { ...GcJobFields } } }
  ${GC_JOB_FIELDS}
`;

export const GC_PROGRESS = /* GraphQL */ `
  subscription ($id: ID!) { gcJobProgress(id: $id) { ...GcJobFields } }
  ${GC_JOB_FIELDS}
`;

export const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];

/** Starts a GC and returns the QUEUED job; throws with the result when it was refused. */
export async function startGc(client: Client, registryId: string, options: { dryRun?: boolean; deleteUntagged?: boolean; bypassInterval?: boolean } = {}): Promise<Data> {
  const { data, errors } = await client.execute(START_GC, { input: { registryId, ...options } });
  const job = data?.startGarbageCollection?.job;
  if (data?.startGarbageCollection?.__typename !== 'StartGarbageCollectionPayload') {
    throw new Error(`startGarbageCollection refused: ${JSON.stringify(data ?? errors)}`);
  }
  return job;
}

/** Polls the job until `done` holds for it (by default: it has ended). */
export async function waitForGcJob(client: Client, id: string, done: (job: Data) => boolean = (job) => TERMINAL.includes(job.status), timeoutMs = 30_000): Promise<Data> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data, errors } = await client.execute(GC_JOB, { id });
    const job = data?.node;
    if (!job) throw new Error(`GC job ${id} not visible: ${JSON.stringify(errors)}`);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`GC job ${id} stuck: ${JSON.stringify(job)}`);
    await sleep(25);
  }
}

/** Bytes of every regular file under `dir`, as `du -b` counts files (directories left out). */
export async function fileBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await fileBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/** The blob store of an embedded registry's storage. */
export function blobStore(storageDir: string): string {
  return join(storageDir, 'docker', 'registry', 'v2', 'blobs');
}

/** Stored bytes of an artifact: its manifest, an index's child manifests, configs and layers. */
export function artifactBytes(artifact: TestArtifact): number {
  const manifests = artifact.kind === 'index' ? [artifact.manifest, ...artifact.children.map((child) => child.manifest)] : [artifact.manifest];
  return manifests.reduce((sum, manifest) => sum + manifest.length, 0) + blobsOf(artifact).reduce((sum, blob) => sum + blob.size, 0);
}

/** A bearer token the registry accepts, for skopeo's `--src-registry-token`. */
export async function registryToken(signer: RegistryTokenSigner, scopes: string[]): Promise<string> {
  return (await signer.sign('gc-test', parseScopes(scopes))).token;
}

export const GC_DELAY_ENV = 'BERTH_TEST_GC_DELAY_S';
/** Set: garbage-collect fails at once with exit code 3. */
export const GC_FAIL_ENV = 'BERTH_TEST_GC_FAIL';

/**
 * A directory with a `docker-registry` that runs the real one, for holding a run inside its
 * read-only window and for failures: `garbage-collect` first sleeps `$BERTH_TEST_GC_DELAY_S`
 * seconds (the sleep does not hold the output pipes and goes with the shim on SIGTERM, so a cancel
 * ends the run at once) or fails with `$BERTH_TEST_GC_FAIL`. Put it first on PATH; berth's children
 * inherit the environment.
 */
export async function registryShim(dir: string): Promise<string> {
  const path = (process.env['PATH'] ?? '').split(':').filter((entry) => entry !== dir).join(':');
  const real = execFileSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8', env: { PATH: path } }).trim();
  await mkdir(dir, { recursive: true });
  const shim = join(dir, 'docker-registry');
  await writeFile(
    shim,
    [
      '#!/bin/sh',
      `if [ "$1" = garbage-collect ] && [ -n "$${GC_FAIL_ENV}" ]; then`,
      '  echo \'{"level":"fatal","msg":"failed to mark: storage on fire"}\' >&2',
      '  exit 3',
      'fi',
      `if [ "$1" = garbage-collect ] && [ -n "$${GC_DELAY_ENV}" ]; then`,
      `  sleep "$${GC_DELAY_ENV}" </dev/null >/dev/null 2>&1 &`,
      '  pid=$!',
      "  trap 'kill $pid; exit 143' TERM",
      '  wait $pid',
      'fi',
      `exec ${real} "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(shim, 0o755);
  return dir;
}
