import { z } from 'zod';
import type { RegistryStorage } from '../registry/hosted/storage.js';

/** A manifest that no tag reaches, directly or as a child of a tagged index. */
export interface UntaggedManifest {
  repository: string;
  digest: string;
  isIndex: boolean;
}

const referencesSchema = z.object({ manifests: z.array(z.object({ digest: z.string() })).optional() });

/**
 * The manifests of one repository that garbage collection may delete: every revision that is not
 * reachable from a tag, following index children (and indexes of indexes). garbage-collect's own
 * `--delete-untagged` gets this wrong for multi-arch images: it deletes the platform manifests of
 * tagged indexes. Indexes come first, so none is left pointing at a deleted child.
 *
 * A tagged manifest that cannot be read leaves the repository alone: without it berth cannot tell
 * which children it needs.
 */
export async function untaggedManifests(storage: RegistryStorage, repository: string): Promise<UntaggedManifest[] | 'unreadable'> {
  const revisions = await storage.revisions(repository);
  const tags = await storage.tags(repository);
  const children = new Map<string, string[] | null>();
  const childrenOf = async (digest: string): Promise<string[] | null> => {
    if (!children.has(digest)) children.set(digest, await readChildren(storage, digest));
    return children.get(digest)!;
  };

  const reachable = new Set<string>();
  const pending = [...new Set(tags.values())];
  while (pending.length > 0) {
    const digest = pending.pop()!;
    if (reachable.has(digest)) continue;
    reachable.add(digest);
    const referenced = await childrenOf(digest);
    if (referenced === null) return 'unreadable';
    pending.push(...referenced);
  }

  const untagged: UntaggedManifest[] = [];
  for (const digest of revisions) {
    if (reachable.has(digest)) continue;
    // An unreadable untagged manifest is still untagged; only its kind is unknown.
    const referenced = await childrenOf(digest);
    untagged.push({ repository, digest, isIndex: (referenced?.length ?? 0) > 0 });
  }
  return untagged.sort((a, b) => Number(b.isIndex) - Number(a.isIndex));
}

/** The child manifests an index references ([] for an image manifest); null when the blob is missing or not JSON. */
async function readChildren(storage: RegistryStorage, digest: string): Promise<string[] | null> {
  const bytes = await storage.readBlob(digest);
  if (bytes === null) return null;
  try {
    const parsed = referencesSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? (parsed.data.manifests?.map((child) => child.digest) ?? []) : null;
  } catch {
    return null;
  }
}
