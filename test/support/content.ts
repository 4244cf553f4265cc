import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Db } from '../../src/db/client.js';
import type { ContentTag } from '../../src/generated/prisma/client.js';
import { signedTokens } from '../../src/registry/hosted/hosted-backend.js';
import { bearerTokens } from '../../src/registry/v2/auth.js';
import { RegistryClient } from '../../src/registry/v2/client.js';
import { EmbeddedRegistry } from '../../src/registry/hosted/embedded.js';
import type { BackendCallSummary } from '../../src/registry/remote/live-loaders.js';
import type { Data, TestApp } from './app.js';
import { blobsOf, type TestArtifact } from './oci-images.js';
import { freePort } from './registry-process.js';

/** Polls `probe` until it returns something (not null, undefined or false), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves once the registry's notification of the push of `repository:tag` is in the content index. */
export function recordedPush(db: Db, repository: string, tag: string): Promise<ContentTag> {
  return eventually(() => db.contentTag.findFirst({ where: { repository: { path: repository }, name: tag } }));
}

/**
 * What an artifact adds to storage: its manifest, its children's manifests, configs and layers,
 * digest → size, so tests can add several up and count each blob once.
 */
export function storedBlobs(artifact: TestArtifact): Map<string, number> {
  const blobs = new Map<string, number>([[artifact.digest, artifact.manifest.length]]);
  if (artifact.kind === 'index') for (const child of artifact.children) blobs.set(child.digest, child.manifest.length);
  for (const blob of blobsOf(artifact)) blobs.set(blob.digest, blob.size);
  return blobs;
}

/** Bytes of the union of several artifacts' blobs (each counted once). */
export function dedupedBytes(...artifacts: TestArtifact[]): number {
  const union = new Map<string, number>();
  for (const artifact of artifacts) for (const [digest, size] of storedBlobs(artifact)) union.set(digest, size);
  return [...union.values()].reduce((total, size) => total + size, 0);
}

/** A GraphQL request as `token` with `x-berth-debug: calls`, returning data, errors and the backend calls it made. */
export async function executeCountingCalls(app: TestApp, token: string, query: string, variables?: Record<string, unknown>) {
  const response = await app.server.yoga.fetch('http://berth.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-berth-debug': 'calls' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Data; errors?: { message: string }[]; extensions?: { backendCalls?: BackendCallSummary } };
}

/** A client of berth's registry signing in as `subject`: a docker client, whose events berth records like any. */
export function clientAs(app: TestApp, subject: string): RegistryClient {
  return new RegistryClient({ baseUrl: app.registry.embedded!.url, auth: bearerTokens(signedTokens(app.registry.signer, subject)) });
}

/**
 * A second registry process over berth's own storage that notifies nobody: what it stores reaches
 * berth only through the reconcile, as after a registry restart that lost its queued events.
 */
export async function startSilentRegistry(app: TestApp): Promise<{ client: RegistryClient; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-silent-'));
  // The storage root appears with the first push; the link must not dangle before that.
  await mkdir(path.join(app.dataDir, 'registry'), { recursive: true });
  await symlink(path.join(app.dataDir, 'registry'), path.join(dataDir, 'registry'));
  const deadPort = await freePort();
  const registry = new EmbeddedRegistry({
    port: await freePort(),
    dataDir,
    tokenRealm: `http://127.0.0.1:${deadPort}/auth/token`,
    hookUrl: `http://127.0.0.1:${deadPort}/hooks/registry`,
    hookSecret: 'nobody-listens-0123456789abcdef',
    signer: app.registry.signer,
    logger: pino({ level: process.env['BERTH_TEST_LOG_LEVEL'] ?? 'silent' }),
    stopGraceMs: 5_000,
  });
  await registry.start();
  return {
    client: new RegistryClient({ baseUrl: registry.url, auth: bearerTokens(signedTokens(app.registry.signer, 'berth')) }),
    stop: async () => {
      await registry.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every field of the content graph, three levels deep (page sizes: 3 registries, 10 repositories, 5 tags unless told). */
export const NESTED_CONTENT_QUERY = /* GraphQL */ `
  query ($slug: String!, $registries: Int = 3, $repositories: Int = 10, $tags: Int = 5) {
    namespace(slug: $slug) {
      storageBytes
      registries(first: $registries) {
        nodes {
          name storageBytes repositoryCount imageCount lastPushedAt quota { usedBytes }
          repositories(first: $repositories) {
            totalCount
            nodes {
              id name path tagCount imageCount sizeBytes lastPushedAt
              images(first: 5) { totalCount nodes { id digest } }
              tags(first: $tags) {
                totalCount
                nodes {
                  id name digest sizeBytes pushedAt pulledAt signed
                  image {
                    id digest mediaType sizeBytes pushedAt pulledAt signed createdAt os architecture configDigest
                    tags { name }
                    layers { digest mediaType sizeBytes }
                    platforms { digest os architecture variant sizeBytes }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`;

