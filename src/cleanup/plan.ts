import type { Db } from '../db/client.js';
import { freedBlobsInRegistry, type Revision } from '../registry/content-index/freed-bytes.js';
import { registrySnapshot, type RepositorySnapshot } from '../registry/content-index/registry-snapshot.js';
import { planDeletion } from '../registry/deletion-plan.js';
import { type CleanupVerdict, type Deletion, evaluateCleanup } from './evaluate.js';
import type { CleanupRule } from './rules.js';

/** What cleanup rules would do to a hosted registry now: the preview, and what a run carries out. */
export interface CleanupPlan {
  /** The rules judged by, in order: decisions name them by position. */
  rules: readonly CleanupRule[];
  evaluatedAt: Date;
  verdict: CleanupVerdict;
  /** The tags to delete, by repository (path in the backend), in the verdict's order. */
  repositories: { path: string; name: string; deletions: Deletion[] }[];
  /** The blobs that deleting those tags, then a garbage collection, would free: digest → stored size. */
  freedBlobs: ReadonlyMap<string, number>;
  bytesFreed: number;
}

/**
 * Judges the registry's content in the index, then plans each repository's deletion as the
 * executor will (manifests a remaining tag reaches stay) and counts the bytes of the whole set at
 * once: a blob shared only among deleted images counts, one shared with anything that stays, in
 * this registry or another, does not.
 */
export async function planCleanup(db: Db, slug: string, rules: readonly CleanupRule[], now = new Date()): Promise<CleanupPlan> {
  const snapshot = await registrySnapshot(db, slug);
  const verdict = evaluateCleanup(rules, snapshot, now);
  const byName = new Map(snapshot.map((repository) => [repository.name, repository]));
  const repositories: CleanupPlan['repositories'] = [];
  for (const deletion of verdict.deletions) {
    const last = repositories.at(-1);
    if (last?.name === deletion.repository) last.deletions.push(deletion);
    else repositories.push({ path: byName.get(deletion.repository)!.path, name: deletion.repository, deletions: [deletion] });
  }
  const revisions = repositories.flatMap(({ name, deletions }) => removedRevisions(byName.get(name)!, deletions));
  const [freed = new Map<string, number>()] = await freedBlobsInRegistry(db, slug, [revisions]);
  return {
    rules,
    evaluatedAt: now,
    verdict,
    repositories,
    freedBlobs: freed,
    bytesFreed: [...freed.values()].reduce((total, size) => total + size, 0),
  };
}

/** The manifests of the repository that deleting the tags removes for good. */
function removedRevisions(repository: RepositorySnapshot, deletions: readonly Deletion[]): Revision[] {
  const graph = { tags: new Map(repository.tags.map((tag) => [tag.name, tag.digest])), children: repository.children };
  const plan = planDeletion(graph, new Set(deletions.map((deletion) => deletion.tag.name)), []);
  return plan.remove.filter((digest) => repository.revisions.has(digest)).map((digest) => ({ repositoryId: repository.id, digest }));
}
