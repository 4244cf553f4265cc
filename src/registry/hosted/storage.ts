import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, isRepositoryName } from '../v2/reference.js';

const PREFIXES_AT_ONCE = 16;

/**
 * The embedded registry's filesystem storage as distribution 2.8 lays it out, read directly: the
 * V2 API cannot list a repository's manifests (only its tags) nor the blobs stored, and reading
 * through it would count as pulls.
 *
 *   docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data                      every blob, manifests included
 *   docker/registry/v2/repositories/<name>/_layers/…                        what makes a directory a repository
 *   docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link   (holds the digest)
 */
export class RegistryStorage {
  private readonly v2: string;

  constructor(readonly root: string) {
    this.v2 = join(root, 'docker', 'registry', 'v2');
  }

  /**
   * On-disk size of every blob by digest. Sizes in `known` (an earlier answer) are taken as they
   * are, since a blob's content never changes under its digest: only blobs stored since are read.
   */
  async blobSizes(known?: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const base = join(this.v2, 'blobs', 'sha256');
    const prefixes = await directories(base);
    // Several `<2 hex>` directories at once keep the file system busy; a few at a time bound memory.
    for (let i = 0; i < prefixes.length; i += PREFIXES_AT_ONCE) {
      await Promise.all(
        prefixes.slice(i, i + PREFIXES_AT_ONCE).map(async (prefix) => {
          const blobs = await directories(join(base, prefix));
          const found = await Promise.all(blobs.map((hex) => known?.get(`sha256:${hex}`) ?? fileSize(join(base, prefix, hex, 'data'))));
          blobs.forEach((hex, j) => {
            const size = found[j];
            if (size !== null && size !== undefined) sizes.set(`sha256:${hex}`, size);
          });
        }),
      );
    }
    return sizes;
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await fileSize(this.blobPath(digest))) !== null;
  }

  /** A blob's bytes, or null when it is not stored. */
  async readBlob(digest: string): Promise<Buffer | null> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Repository names under `prefix` (e.g. `<slug>/`), or all of them, sorted. */
  async repositories(prefix = ''): Promise<string[]> {
    const names: string[] = [];
    for await (const name of this.walkRepositories(prefix)) names.push(name);
    return names.sort();
  }

  /**
   * Repository names under `prefix` one at a time, depth first: memory holds one directory listing
   * per level, however many repositories there are.
   */
  async *walkRepositories(prefix = ''): AsyncGenerator<string> {
    const scope = prefix.replace(/\/+$/, '');
    const walk = async function* (v2: string, relative: string): AsyncGenerator<string> {
      const entries = await entriesOf(join(v2, 'repositories', relative));
      if (entries.some((entry) => entry.isDirectory() && (entry.name === '_layers' || entry.name === '_manifests'))) {
        if (isRepositoryName(relative) && (!scope || relative.startsWith(`${scope}/`))) yield relative;
      }
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('_')) yield* walk(v2, relative ? `${relative}/${entry.name}` : entry.name);
      }
    };
    yield* walk(this.v2, scope);
  }

  /**
   * Blobs with their on-disk sizes, one `<2 hex>` directory at a time, every prefix from 00 to ff
   * in order (an absent directory holds none).
   */
  async *walkBlobs(): AsyncGenerator<{ prefix: string; blobs: { digest: string; size: number }[] }> {
    const base = join(this.v2, 'blobs', 'sha256');
    for (let n = 0; n < 256; n++) {
      const prefix = n.toString(16).padStart(2, '0');
      const hexes = await directories(join(base, prefix));
      const sizes = await Promise.all(hexes.map((hex) => fileSize(join(base, prefix, hex, 'data'))));
      const blobs = hexes.flatMap((hex, i) => (sizes[i] == null ? [] : [{ digest: `sha256:${hex}`, size: sizes[i]! }]));
      yield { prefix: `sha256:${prefix}`, blobs };
    }
  }

  /** Digests of the blobs linked into a repository (uploaded to or mounted into it). */
  async layerLinks(repository: string): Promise<string[]> {
    const base = join(this.repositoryPath(repository), '_layers', 'sha256');
    return (await directories(base)).map((hex) => `sha256:${hex}`);
  }

  /** Digests of the manifests a repository holds (its revision links). */
  async revisions(repository: string): Promise<string[]> {
    const base = this.revisionsPath(repository);
    const hexes = await directories(base);
    const linked = await Promise.all(hexes.map(async (hex) => ((await fileSize(join(base, hex, 'link'))) === null ? null : `sha256:${hex}`)));
    return linked.filter((digest): digest is string => digest !== null);
  }

  /** Whether a repository holds any manifest: reads its revision links only until one is there. */
  async holdsManifests(repository: string): Promise<boolean> {
    const base = this.revisionsPath(repository);
    for (const hex of await directories(base)) {
      if ((await fileSize(join(base, hex, 'link'))) !== null) return true;
    }
    return false;
  }

  /** Each tag of a repository with the digest it points at. */
  async tags(repository: string): Promise<Map<string, string>> {
    const base = join(this.repositoryPath(repository), '_manifests', 'tags');
    const tags = new Map<string, string>();
    for (const tag of await directories(base)) {
      const digest = await readFile(join(base, tag, 'current', 'link'), 'utf8').then(
        (text) => text.trim(),
        (error: unknown) => {
          if (isMissing(error)) return null;
          throw error;
        },
      );
      if (digest !== null && isDigest(digest)) tags.set(tag, digest);
    }
    return tags;
  }

  /**
   * garbage-collect fails ("Path not found") on a storage that has never held a repository or a
   * blob; the registry creates both directories on the first push anyway.
   */
  async ensureLayout(): Promise<void> {
    await mkdir(join(this.v2, 'repositories'), { recursive: true });
    await mkdir(join(this.v2, 'blobs'), { recursive: true });
  }

  /**
   * Deletes a repository's directory (links, tags, upload sessions), or with a slug every repository
   * under it. Safe only when nobody may write there: during a GC's read-only window, or for the slug
   * of a registry being deleted.
   */
  async removeRepository(repository: string): Promise<void> {
    await rm(this.repositoryPath(repository), { recursive: true, force: true });
  }

  private repositoryPath(repository: string): string {
    if (!isRepositoryName(repository)) throw new Error(`not a repository name: ${JSON.stringify(repository)}`);
    return join(this.v2, 'repositories', ...repository.split('/'));
  }

  private revisionsPath(repository: string): string {
    return join(this.repositoryPath(repository), '_manifests', 'revisions', 'sha256');
  }

  private blobPath(digest: string): string {
    const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
    if (!match) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
    const hex = match[1]!;
    return join(this.v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  }
}

async function entriesOf(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function directories(path: string): Promise<string[]> {
  return (await entriesOf(path)).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats.size : null;
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'ENOTDIR');
}
