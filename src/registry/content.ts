/**
 * What the graph shows of a registry's content, whichever backend holds it: the hosted backend
 * answers from the content index (SQL), a remote registry live over its V2 API. Resolvers read
 * through a ContentReader and never ask which kind they have; a fact a backend cannot know (when
 * a remote's tag was pushed, what deleting a remote's image would free) is null.
 *
 * Repositories are named by their path in the backend (`<slug>/<name>` hosted, the name itself on
 * a remote); images by digest within a repository.
 */

export type OrderDirection = 'ASC' | 'DESC';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** One page of a connection; totalCount runs only when a client selects it. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

export interface RepositoryOrder {
  field: 'NAME' | 'LAST_PUSHED_AT';
  direction: OrderDirection;
}

export interface TagOrder {
  field: 'NAME' | 'PUSHED_AT';
  direction: OrderDirection;
}

export interface ImageOrder {
  field: 'DIGEST' | 'PUSHED_AT';
  direction: OrderDirection;
}

export interface TagFacts {
  name: string;
  digest: string;
  pushedAt: Date | null;
  pulledAt: Date | null;
}

export interface LayerFacts {
  digest: string;
  mediaType: string;
  size: number;
}

/** A runnable child of an index (attestations and children without a platform are left out). */
export interface PlatformFacts {
  digest: string;
  mediaType: string;
  os: string;
  architecture: string;
  variant: string | null;
}

export interface ManifestFacts {
  digest: string;
  mediaType: string;
  /** Bytes of the manifest document. */
  size: number;
  isIndex: boolean;
  configDigest: string | null;
  layers: LayerFacts[];
  platforms: PlatformFacts[];
}

/** From an image's config blob; every field null for an index. */
export interface ConfigFacts {
  created: Date | null;
  os: string | null;
  architecture: string | null;
}

export interface ActivityFacts {
  pushedAt: Date | null;
  pulledAt: Date | null;
}

export interface RegistryUsageFacts {
  /** Every blob its manifests reference, counted once. */
  bytes: number;
  repositories: number;
  images: number;
}

export interface ContentReader {
  usage(): Promise<RegistryUsageFacts>;
  /** Bytes a garbage collection would free now, of what the registry stored; null where unknowable. */
  reclaimableBytes(): Promise<number | null>;
  /** Repository paths, filtered by part of the name. */
  repositories(args: PageArgs & { query: string | null; orderBy: RepositoryOrder }): Promise<Page<string>>;
  hasRepository(path: string): Promise<boolean>;
  tagCount(path: string): Promise<number>;
  imageCount(path: string): Promise<number>;
  repositoryBytes(path: string): Promise<number>;
  lastPushedAt(path: string): Promise<Date | null>;
  tags(path: string, args: PageArgs & { orderBy: TagOrder }): Promise<Page<TagFacts>>;
  tag(path: string, name: string): Promise<TagFacts | null>;
  /** Image digests: the manifests of the repository that are not platforms of another one there. */
  images(path: string, args: PageArgs & { orderBy: ImageOrder }): Promise<Page<string>>;
  /** The digest a tag or digest names, or null. */
  resolve(path: string, reference: string): Promise<string | null>;
  manifest(path: string, digest: string): Promise<ManifestFacts | null>;
  config(path: string, digest: string): Promise<ConfigFacts | null>;
  /** Config and layers; for an index, the sum of its platform images. */
  imageBytes(path: string, digest: string): Promise<number | null>;
  imageTags(path: string, digest: string): Promise<string[]>;
  /** A cosign signature tag (`sha256-<hex>.sig`) exists for the digest. */
  signed(path: string, digest: string): Promise<boolean>;
  imageActivity(path: string, digest: string): Promise<ActivityFacts>;
  /** What deleting the repository, the image or the tag would free now; null where unknowable. */
  repositoryExclusiveBytes(path: string): Promise<number | null>;
  imageExclusiveBytes(path: string, digest: string): Promise<number | null>;
  tagExclusiveBytes(path: string, tag: string): Promise<number | null>;
}

/** The tag under which cosign stores the signature of `digest`: `sha256:<hex>` → `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}
