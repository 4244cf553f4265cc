import type { RegistryClient } from '../registry/v2/client.js';
import { imageBlobs } from '../registry/v2/manifest.js';

/** A manifest to put in the target, exactly as the source stores it. */
export interface PlannedManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}

export interface PlannedBlob {
  digest: string;
  size: number;
}

/** What an import copies: the blobs every image needs, and the manifests, every child before its index. */
export interface ImportPlan {
  /** The digest the reference names in the source. */
  digest: string;
  manifests: PlannedManifest[];
  /** Each blob once, however many images share it. */
  blobs: PlannedBlob[];
}

/**
 * Reads, from the source, the manifest a tag or digest names and, for an index, every manifest it
 * lists (attestations too, since the index references them), down through nested indexes. Putting
 * the exact bytes keeps every digest as the source has it. Throws RegistryNotFoundError for an
 * unknown reference.
 */
export async function planImport(source: RegistryClient, repository: string, reference: string): Promise<ImportPlan> {
  const top = await source.getManifest(repository, reference);
  const manifests = new Map<string, PlannedManifest>();
  const blobs = new Map<string, PlannedBlob>();
  const visit = async (fetched: Awaited<ReturnType<RegistryClient['getManifest']>>): Promise<void> => {
    if (manifests.has(fetched.digest)) return;
    if (fetched.manifest.kind === 'image') {
      for (const blob of imageBlobs(fetched.manifest)) blobs.set(blob.digest, { digest: blob.digest, size: blob.size });
    } else {
      const children = await Promise.all(fetched.manifest.manifests.map((child) => source.getManifest(repository, child.digest)));
      for (const child of children) await visit(child);
    }
    // After its children: a registry refuses an index whose children it does not hold.
    manifests.set(fetched.digest, { digest: fetched.digest, mediaType: fetched.mediaType, bytes: fetched.bytes });
  };
  await visit(top);
  return { digest: top.digest, manifests: [...manifests.values()], blobs: [...blobs.values()] };
}
