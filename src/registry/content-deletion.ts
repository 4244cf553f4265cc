import { ConflictError } from '../errors.js';
import type { FetchedManifest, RegistryClient } from './v2/client.js';
import { RegistryError, RegistryNotFoundError } from './v2/errors.js';
import { type DeletionPlan, planDeletion, type RepositoryGraph, tagsPointingAt } from './deletion-plan.js';
import { isIndexMediaType } from './v2/manifest.js';
import { isDigest } from './v2/reference.js';

/**
 * berth's deletions over the V2 API of distribution 2.8, which can only DELETE a manifest by digest
 * and thereby drops every tag on it. Removing one tag of several therefore means deleting the digest
 * and putting the exact stored bytes back under the tags that stay.
 *
 * Every operation first reads the repository (tags, and every manifest reachable from them through
 * indexes), plans, then mutates one manifest at a time, indexes before their children, so a run that
 * stops midway leaves no index pointing at a child it deleted. Between the DELETE and the re-PUT of a
 * shared manifest, its surviving tags are briefly missing.
 *
 * Failures, the same in every operation:
 * - Reading fails: the RegistryError is thrown (RegistryUnavailableError when the registry is down).
 * - A DELETE or PUT fails: the deletion stops there, since the next call would meet the same broken
 *   registry. When nothing had been deleted yet the error is thrown (RegistryReadOnlyError during a
 *   GC window); otherwise the result lists what was deleted, and every item not deleted carries the
 *   error that stopped the run.
 * - A manifest that is already gone when it is deleted (another deleter won the race) is not an
 *   error and is not reported as deleted.
 *
 * Manifests that no tag or tagged index leads to cannot be found through the API and are left alone.
 * The registry emits pull events for the reads and push events for the re-put tags.
 */

export type DeletionFailureReason = 'NOT_FOUND' | 'BACKEND_ERROR';

export interface DeletionFailure {
  /** A tag, a digest or a repository, whichever the operation deletes. */
  name: string;
  reason: DeletionFailureReason;
  error: RegistryError;
}

export interface TagDeletion {
  /** Requested tags that no longer exist, in request order. */
  deletedTagNames: string[];
  /** Manifests that no longer exist: images whose every tag was deleted, and their orphaned index children. */
  deletedDigests: string[];
  /** Requested tags that were not deleted: unknown (NOT_FOUND) or stopped by the registry (BACKEND_ERROR). */
  failed: DeletionFailure[];
  /** Requested tags left alone because they point at another image than `expectedDigests` says. */
  changed: string[];
  /**
   * Tags that were not requested but shared a digest with deleted ones, and could not be put back
   * (or, for a manifest another tagged index needs, its digest). Empty unless the registry failed
   * between the DELETE and the PUT.
   */
  unrestored: DeletionFailure[];
}

export interface ImageDeletion {
  deletedDigest: string;
  /** Every tag that pointed at the deleted manifest. */
  deletedTagNames: string[];
  /** Children of a deleted index that no other tag or tagged index in the repository uses. */
  deletedChildDigests: string[];
  /** Orphaned children that were not deleted because the registry failed. */
  failed: DeletionFailure[];
}

export interface RepositoryDeletion {
  repository: string;
  deletedTagNames: string[];
  deletedDigests: string[];
  /** Digests that were not deleted because the registry failed. */
  failed: DeletionFailure[];
}

export interface RegistryContentDeletion {
  /** Repositories worked on, in catalog order; the last one may be partial (see its `failed`). */
  repositories: RepositoryDeletion[];
  /** Repositories whose deletion failed or never started because an earlier one failed. */
  failed: DeletionFailure[];
}

export interface TagDeletionOptions {
  /**
   * Deletes a tag only while it points at this digest, for a caller that decided on the tags
   * earlier (a cleanup run): a tag pushed anew since is another image, which it never judged.
   */
  expectedDigests?: ReadonlyMap<string, string>;
  /** Told after each manifest DELETE that succeeded, for progress. */
  onManifestDeleted?: (digest: string) => void;
}

/**
 * Deletes tags of one repository. A tag sharing its digest with tags that stay is removed by deleting
 * the digest and re-putting the manifest under the others; a manifest whose last tag goes is deleted,
 * with the children of an index that nothing else uses. Unknown tags are reported, not thrown.
 */
export async function deleteTags(client: RegistryClient, repository: string, names: readonly string[], options: TagDeletionOptions = {}): Promise<TagDeletion> {
  const content = await readRepository(client, repository);
  const { expectedDigests } = options;
  const isChanged = (name: string): boolean => {
    const digest = content.tags.get(name)?.digest;
    return expectedDigests !== undefined && digest !== undefined && digest !== expectedDigests.get(name);
  };
  const changed = [...new Set(names)].filter(isChanged);
  const requested = [...new Set(names)].filter((name) => !isChanged(name));
  const run = await execute(client, repository, planDeletion(graphOf(content), new Set(requested), []), content, options.onManifestDeleted);
  throwIfNothingDeleted(run);

  const result: TagDeletion = { deletedTagNames: [], deletedDigests: deletedForGood(run), failed: [], unrestored: run.unrestored, changed };
  for (const name of requested) {
    const digest = content.tags.get(name)?.digest;
    if (digest !== undefined && run.deleted.includes(digest)) result.deletedTagNames.push(name);
    else result.failed.push(tagFailure(repository, name, digest, run));
  }
  return result;
}

/**
 * Deletes a manifest by digest or tag, so all its tags, and for an index its children that no other
 * tag or tagged index uses. Throws RegistryNotFoundError for an unknown reference and ConflictError
 * for a manifest that another tagged index still references (deleting it would break that index).
 */
export async function deleteImage(client: RegistryClient, repository: string, reference: string): Promise<ImageDeletion> {
  const content = await readRepository(client, repository);
  const target = await resolveReference(client, repository, content, reference);
  const { digest } = target;
  const graph = graphOf(content);
  const tagNames = tagsPointingAt(graph.tags, digest);
  const plan = planDeletion(graph, new Set(tagNames), [digest]);
  if (plan.restore.length > 0) {
    throw new ConflictError(`${repository}@${digest} is a child of another tagged index in the repository; delete that first`);
  }
  const run = await execute(client, repository, plan, content);
  if (!run.deleted.includes(digest)) throw run.halted?.error ?? manifestUnknown(repository, reference);
  return {
    deletedDigest: digest,
    deletedTagNames: tagNames,
    deletedChildDigests: run.deleted.filter((deleted) => deleted !== digest),
    failed: notDeletedDigests(run),
  };
}

/**
 * Deletes every manifest reachable from the repository's tags (the tagged ones and index children)
 * and the `untagged` ones the caller knows of (the V2 API cannot list those). The repository stays
 * in the catalog with no tags (the API cannot remove it; GC prunes it later).
 */
export async function deleteRepository(client: RegistryClient, repository: string, untagged: readonly string[] = []): Promise<RepositoryDeletion> {
  const content = await readRepository(client, repository);
  const unread = untagged.filter((digest) => !content.manifests.has(digest));
  for (const manifest of await Promise.all(unread.map((digest) => getIfPresent(client, repository, digest)))) {
    if (manifest) content.manifests.set(manifest.digest, manifest);
  }
  await fetchNestedIndexes(client, repository, content.manifests);
  const targets = untagged.filter((digest) => content.manifests.has(digest));
  const run = await execute(client, repository, planDeletion(graphOf(content), new Set(content.tags.keys()), targets), content);
  throwIfNothingDeleted(run);
  return {
    repository,
    deletedTagNames: [...content.tags].filter(([, { digest }]) => run.deleted.includes(digest)).map(([tag]) => tag),
    deletedDigests: run.deleted,
    failed: notDeletedDigests(run),
  };
}

/**
 * Deletes the content of the given repositories (with the untagged manifests each holds), one after
 * the other, and stops at the first that fails (the result names it and every one after it).
 */
export async function deleteRegistryContent(
  client: RegistryClient,
  repositories: readonly { path: string; untagged: readonly string[] }[],
): Promise<RegistryContentDeletion> {
  const names = repositories.map(({ path }) => path);
  const result: RegistryContentDeletion = { repositories: [], failed: [] };
  for (const [index, { path: name, untagged }] of repositories.entries()) {
    const error = await deleteRepository(client, name, untagged).then((deletion) => {
      result.repositories.push(deletion);
      return deletion.failed[0]?.error;
    }, registryError);
    if (error) {
      result.failed = names.slice(index).map((rest) => failure(rest, error));
      break;
    }
  }
  const deletedAnything = result.repositories.some((repository) => repository.deletedDigests.length > 0);
  if (!deletedAnything && result.failed[0]) throw result.failed[0].error;
  return result;
}

interface RepositoryContent {
  /** Each tag's manifest. */
  tags: ReadonlyMap<string, FetchedManifest>;
  /** Tagged manifests and every index reachable from them, by digest, with their stored bytes. */
  manifests: Map<string, FetchedManifest>;
}

interface Run {
  /** Digests whose DELETE succeeded, in order; restored ones included. */
  deleted: string[];
  /** Deleted digests that were put back at least once. */
  restored: Set<string>;
  unrestored: DeletionFailure[];
  /** The failure that stopped the run, and the digests it left undeleted. */
  halted: { error: RegistryError; notDeleted: string[] } | null;
}

/** One GET per tag (its digest and bytes in one call), then the indexes nested inside indexes. */
async function readRepository(client: RegistryClient, repository: string): Promise<RepositoryContent> {
  const names = await client.listTags(repository);
  const fetched = await Promise.all(names.map(async (tag) => [tag, await getIfPresent(client, repository, tag)] as const));
  const tags = new Map<string, FetchedManifest>();
  const manifests = new Map<string, FetchedManifest>();
  for (const [tag, manifest] of fetched) {
    // A tag deleted between the listing and its GET simply is not there.
    if (!manifest) continue;
    tags.set(tag, manifest);
    manifests.set(manifest.digest, manifest);
  }
  await fetchNestedIndexes(client, repository, manifests);
  return { tags, manifests };
}

/** Image children need no fetch (deleting them takes only the digest); nested indexes do, for their children. */
async function fetchNestedIndexes(client: RegistryClient, repository: string, manifests: Map<string, FetchedManifest>): Promise<void> {
  const tried = new Set(manifests.keys());
  for (let pending = untriedIndexChildren(manifests, tried); pending.length > 0; pending = untriedIndexChildren(manifests, tried)) {
    for (const digest of pending) tried.add(digest);
    const fetched = await Promise.all(pending.map((digest) => getIfPresent(client, repository, digest)));
    for (const manifest of fetched) if (manifest) manifests.set(manifest.digest, manifest);
  }
}

function untriedIndexChildren(manifests: ReadonlyMap<string, FetchedManifest>, tried: ReadonlySet<string>): string[] {
  const children = [...manifests.values()].flatMap(({ manifest }) => (manifest.kind === 'index' ? manifest.manifests : []));
  const digests = children.filter((child) => isIndexMediaType(child.mediaType)).map((child) => child.digest);
  return [...new Set(digests)].filter((digest) => !tried.has(digest));
}

async function getIfPresent(client: RegistryClient, repository: string, reference: string): Promise<FetchedManifest | null> {
  try {
    return await client.getManifest(repository, reference);
  } catch (error) {
    if (error instanceof RegistryNotFoundError) return null;
    throw error;
  }
}

/** The manifest a tag or digest names; an untagged one is fetched into `content` so its nested indexes are known. */
async function resolveReference(
  client: RegistryClient,
  repository: string,
  content: RepositoryContent,
  reference: string,
): Promise<FetchedManifest> {
  const known = isDigest(reference) ? content.manifests.get(reference) : content.tags.get(reference);
  if (known) return known;
  if (!isDigest(reference)) throw manifestUnknown(repository, reference);
  const fetched = await client.getManifest(repository, reference);
  content.manifests.set(fetched.digest, fetched);
  await fetchNestedIndexes(client, repository, content.manifests);
  return fetched;
}

/** The planner's view of what was read: tag digests and the children of every index fetched. */
function graphOf(content: RepositoryContent): RepositoryGraph {
  const children = new Map<string, string[]>();
  for (const [digest, { manifest }] of content.manifests) {
    if (manifest.kind === 'index') children.set(digest, manifest.manifests.map((child) => child.digest));
  }
  return { tags: new Map([...content.tags].map(([tag, fetched]) => [tag, fetched.digest])), children };
}

interface Restore {
  fetched: FetchedManifest;
  survivors: string[];
}

interface Step {
  digest: string;
  putBack: Restore | null;
}

/**
 * Carries out a plan one manifest at a time, restores first, and stops at the first failure (see the
 * module comment). A manifest already gone is skipped: another deleter got there first.
 */
async function execute(
  client: RegistryClient,
  repository: string,
  plan: DeletionPlan,
  content: RepositoryContent,
  onDeleted?: (digest: string) => void,
): Promise<Run> {
  const steps: Step[] = [
    // Every restored target was read (it is a tagged manifest or reachable from one).
    ...plan.restore.map(({ digest, survivors }) => ({ digest, putBack: { fetched: content.manifests.get(digest)!, survivors } })),
    ...plan.remove.map((digest) => ({ digest, putBack: null })),
  ];
  const run: Run = { deleted: [], restored: new Set(), unrestored: [], halted: null };
  for (const [index, step] of steps.entries()) {
    const notDeleted = (): string[] => steps.slice(index).map(({ digest }) => digest).filter((digest) => !run.deleted.includes(digest));
    try {
      await client.deleteManifest(repository, step.digest);
    } catch (error) {
      if (error instanceof RegistryNotFoundError) continue;
      run.halted = { error: registryError(error), notDeleted: notDeleted() };
      break;
    }
    run.deleted.push(step.digest);
    onDeleted?.(step.digest);
    const putBackError = step.putBack && (await putBack(client, repository, step.putBack, run));
    if (putBackError) {
      run.halted = { error: putBackError, notDeleted: notDeleted() };
      break;
    }
  }
  return run;
}

/**
 * Re-puts the exact bytes fetched before the DELETE under each surviving tag, or by digest when no
 * tag survives but a tagged index needs the manifest. Returns the failure that stopped it, if any.
 */
async function putBack(
  client: RegistryClient,
  repository: string,
  { fetched, survivors }: Restore,
  run: Run,
): Promise<RegistryError | undefined> {
  const references = survivors.length > 0 ? survivors : [fetched.digest];
  for (const [index, reference] of references.entries()) {
    try {
      await client.putManifest(repository, reference, fetched.mediaType, fetched.bytes);
      run.restored.add(fetched.digest);
    } catch (error) {
      const cause = registryError(error);
      run.unrestored.push(...references.slice(index).map((lost) => failure(lost, cause)));
      return cause;
    }
  }
  return undefined;
}

function throwIfNothingDeleted(run: Run): void {
  if (run.deleted.length === 0 && run.halted) throw run.halted.error;
}

function deletedForGood(run: Run): string[] {
  return run.deleted.filter((digest) => !run.restored.has(digest));
}

function notDeletedDigests({ halted }: Run): DeletionFailure[] {
  return halted ? halted.notDeleted.map((digest) => failure(digest, halted.error)) : [];
}

/** Why a requested tag was not deleted: the run stopped before its digest, or it does not exist (any more). */
function tagFailure(repository: string, name: string, digest: string | undefined, run: Run): DeletionFailure {
  if (digest !== undefined && run.halted?.notDeleted.includes(digest)) return failure(name, run.halted.error);
  return failure(name, manifestUnknown(repository, name));
}

function failure(name: string, error: RegistryError): DeletionFailure {
  return { name, reason: error instanceof RegistryNotFoundError ? 'NOT_FOUND' : 'BACKEND_ERROR', error };
}

function manifestUnknown(repository: string, reference: string): RegistryNotFoundError {
  return new RegistryNotFoundError('MANIFEST_UNKNOWN', `${repository}:${reference}: no such tag or manifest`, { status: 404 });
}

/** The client turns every registry and network failure into a RegistryError; anything else is a bug and is rethrown. */
function registryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  throw error;
}
