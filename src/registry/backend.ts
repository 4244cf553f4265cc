import type { Db } from '../db/client.js';
import type { Registry } from '../generated/prisma/client.js';
import type { ContentReader } from './content.js';
import { createIndexLoaders, indexedContent, type IndexLoaders } from './content-index/indexed-content.js';
import type { ContentIndexWriter } from './content-index/writer.js';
import type { HostedBackend } from './hosted/hosted-backend.js';
import { BackendCallLog, type BackendCallKind, createRegistryLoaders, type RegistryContentCache } from './remote/live-loaders.js';
import { liveContent } from './remote/live-content.js';
import type { RemoteClients } from './remote/remote-clients.js';
import type { RegistryClient } from './v2/client.js';
import { isRepositoryName } from './v2/reference.js';

/**
 * A registry's content and the V2 client that reaches it, whatever kind of registry it is: the
 * hosted backend (berth's embedded registry, read from the content index) or an outside registry
 * (read live with its own credentials). Resolvers, loaders and content deletion work on this and
 * never ask which kind they hold.
 */
export interface RegistryBackend {
  readonly client: RegistryClient;
  readonly content: ContentReader;
  /** The repository's path in the backend (`<slug>/<name>` hosted), or null when `name` cannot be one. */
  pathOf(name: string): string | null;
  /** The name inside the registry of one of its backend paths. */
  nameOf(path: string): string;
  /** Told what berth itself deleted: the hosted hook skips berth's own events; a remote's cache forgets it. */
  recordDeletion(path: string, tags: readonly string[], digests: readonly string[]): Promise<void>;
  /** Manifests of the repository that no tag names, which berth knows of: the V2 API cannot list them. */
  untaggedManifests(path: string): Promise<string[]>;
  /**
   * What deleting the registry deletes: every repository with its untagged manifests for a hosted
   * registry; nothing for a connection, whose registry is not berth's to empty.
   */
  ownedContent(): Promise<{ path: string; untagged: string[] }[]>;
}

export interface BackendDeps {
  readonly db: Db;
  readonly registry: HostedBackend;
  readonly contentIndex: ContentIndexWriter;
  readonly remoteClients: RemoteClients;
  /** Outside registries' manifests and configs fetched by digest, shared by every request. */
  readonly contentCache: RegistryContentCache;
  readonly metrics: { backendCall(backend: 'remote', kind: BackendCallKind): void };
}

/**
 * The backends ONE request opens: each once, with that request's loaders. Everything is created
 * when first needed: most requests open no backend at all.
 */
export class RegistryBackends {
  private callLog: BackendCallLog | undefined;
  private indexLoaders: IndexLoaders | undefined;
  private opened: Map<string, RegistryBackend> | undefined;

  constructor(private readonly deps: BackendDeps) {}

  /** The V2 calls this request made, for `x-berth-debug: calls`. */
  get calls(): BackendCallLog {
    this.callLog ??= new BackendCallLog((kind) => this.deps.metrics.backendCall('remote', kind));
    return this.callLog;
  }

  open(registry: Registry): RegistryBackend {
    this.opened ??= new Map();
    let backend = this.opened.get(registry.id);
    if (!backend) {
      backend = registry.kind === 'HOSTED' && registry.slug !== null ? this.hosted(registry.slug) : this.remote(registry);
      this.opened.set(registry.id, backend);
    }
    return backend;
  }

  private hosted(slug: string): RegistryBackend {
    const { db, contentIndex } = this.deps;
    this.indexLoaders ??= createIndexLoaders(db);
    const prefix = `${slug}/`;
    const untagged = async (repositoryId: string): Promise<string[]> => {
      const [revisions, tags] = await Promise.all([
        db.contentRevision.findMany({ where: { repositoryId }, select: { digest: true } }),
        db.contentTag.findMany({ where: { repositoryId }, select: { digest: true } }),
      ]);
      const tagged = new Set(tags.map((tag) => tag.digest));
      return revisions.map((revision) => revision.digest).filter((digest) => !tagged.has(digest));
    };
    return {
      client: this.deps.registry.client,
      content: indexedContent(db, this.indexLoaders, slug),
      pathOf: (name) => (isRepositoryName(prefix + name) ? prefix + name : null),
      nameOf: (path) => path.slice(prefix.length),
      recordDeletion: (path, tags, digests) => contentIndex.deleted(path, tags, digests),
      untaggedManifests: async (path) => {
        const stored = await db.contentRepository.findUnique({ where: { path }, select: { id: true } });
        return stored ? untagged(stored.id) : [];
      },
      ownedContent: async () => {
        const repositories = await db.contentRepository.findMany({ where: { slug }, select: { id: true, path: true }, orderBy: { path: 'asc' } });
        return Promise.all(repositories.map(async ({ id, path }) => ({ path, untagged: await untagged(id) })));
      },
    };
  }

  private remote(registry: Registry): RegistryBackend {
    const { contentCache, remoteClients } = this.deps;
    const client = remoteClients.for(registry);
    const scope = `${registry.id} ${registry.url}`;
    const loaders = createRegistryLoaders(client, contentCache, scope, this.calls);
    return {
      client,
      content: liveContent(loaders),
      pathOf: (name) => (isRepositoryName(name) ? name : null),
      nameOf: (path) => path,
      recordDeletion: async (path, _tags, digests) => {
        for (const digest of digests) contentCache.forgetManifest(scope, path, digest);
      },
      untaggedManifests: async () => [],
      ownedContent: async () => [],
    };
  }
}
