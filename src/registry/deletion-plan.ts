/**
 * What deleting tags or manifests of one repository takes, decided from its shape alone: each tag's
 * digest and each index's children. Pure, so the executor (content-deletion.ts) and the content
 * index (what a deletion would free) plan the same way.
 *
 * A target that the remaining tags still reach (its own surviving tags, or a tagged index using it
 * as a child) is restored: deleted and put back under the tags that stay, because the V2 API
 * deletes a manifest with every tag on it. Everything reachable only from the targets is removed,
 * every index before its children, so a run that stops midway leaves no index without a child.
 */

export interface RepositoryGraph {
  /** Each tag's digest. */
  tags: ReadonlyMap<string, string>;
  /** The children of every index that the tags (or the targets) reach, by the index's digest. */
  children: ReadonlyMap<string, readonly string[]>;
}

export interface DeletionPlan {
  /** Targets to delete and put back, under the tags that stay or (when only an index needs them) by digest. */
  restore: { digest: string; survivors: string[] }[];
  /** Manifests to delete for good, every index before its children. */
  remove: string[];
}

/** Plans deleting the tags in `deleting` and the manifests in `extraTargets`; unknown tags are ignored. */
export function planDeletion(graph: RepositoryGraph, deleting: ReadonlySet<string>, extraTargets: readonly string[]): DeletionPlan {
  const targets = new Set([...deleting].flatMap((tag) => graph.tags.get(tag) ?? []).concat(extraTargets));
  const remainingTags = new Map([...graph.tags].filter(([tag]) => !deleting.has(tag)));
  const kept = reachableDigests(remainingTags.values(), graph.children);
  const restore = [...targets].filter((digest) => kept.has(digest)).map((digest) => ({ digest, survivors: tagsPointingAt(remainingTags, digest) }));
  const doomed = [...reachableDigests(targets, graph.children)].filter((digest) => !kept.has(digest));
  return { restore, remove: parentsFirst(doomed, graph.children) };
}

/** The tags that point at `digest`, in the graph's order. */
export function tagsPointingAt(tags: ReadonlyMap<string, string>, digest: string): string[] {
  return [...tags].filter(([, target]) => target === digest).map(([tag]) => tag);
}

/** The roots and, through indexes, every manifest they reference. */
export function reachableDigests(roots: Iterable<string>, children: RepositoryGraph['children']): Set<string> {
  const reached = new Set<string>();
  const queue = [...roots];
  for (let digest = queue.pop(); digest !== undefined; digest = queue.pop()) {
    if (reached.has(digest)) continue;
    reached.add(digest);
    queue.push(...(children.get(digest) ?? []));
  }
  return reached;
}

/** Reverse post-order of a depth-first walk: every manifest comes before the ones it references. */
function parentsFirst(digests: readonly string[], children: RepositoryGraph['children']): string[] {
  const wanted = new Set(digests);
  const visited = new Set<string>();
  const postOrder: string[] = [];
  const visit = (digest: string): void => {
    if (visited.has(digest)) return;
    visited.add(digest);
    for (const child of children.get(digest) ?? []) if (wanted.has(child)) visit(child);
    postOrder.push(digest);
  };
  for (const digest of digests) visit(digest);
  return postOrder.reverse();
}
