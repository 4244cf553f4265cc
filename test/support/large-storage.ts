import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobsOf, type TestImage } from './oci-images.js';

/**
 * Writes a registry storage holding `count` repositories (`<prefix>0` … `<prefix>N-1`), each with the
 * image under the tag `v1`, in distribution 2.8's own layout: blob data once, and per repository the
 * layer links, the manifest revision and the tag. A docker-registry serves it as it is; building it
 * through the V2 API would take minutes at the sizes the index must handle.
 */
export async function writeLargeStorage(root: string, prefix: string, count: number, image: TestImage): Promise<void> {
  const v2 = path.join(root, 'docker', 'registry', 'v2');
  const hexOf = (digest: string) => digest.slice('sha256:'.length);
  for (const { digest, bytes } of [...blobsOf(image), { digest: image.digest, bytes: image.manifest }]) {
    const hex = hexOf(digest);
    const dir = path.join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'data'), bytes);
  }
  const link = async (dir: string, digest: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'link'), digest);
  };
  for (let start = 0; start < count; start += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, async (_, i) => {
        const repository = path.join(v2, 'repositories', ...`${prefix}${start + i}`.split('/'));
        for (const { digest } of blobsOf(image)) await link(path.join(repository, '_layers', 'sha256', hexOf(digest)), digest);
        await link(path.join(repository, '_manifests', 'revisions', 'sha256', hexOf(image.digest)), image.digest);
        await link(path.join(repository, '_manifests', 'tags', 'v1', 'current'), image.digest);
        await link(path.join(repository, '_manifests', 'tags', 'v1', 'index', 'sha256', hexOf(image.digest)), image.digest);
      }),
    );
  }
}
