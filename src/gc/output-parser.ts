import { isRepositoryName } from '../registry/v2/reference.js';

/**
 * What `docker-registry garbage-collect` (distribution 2.8) reports, one line at a time. Stdout is
 * the same for dry and real runs:
 *
 *   <repo>
 *   <repo>: marking manifest sha256:… ␠        one per revision, in catalog order
 *   <repo>: marking blob sha256:…               its references (config, layers, index children)
 *
 *   N blobs marked, M blobs and K manifests eligible for deletion
 *   blob eligible for deletion: sha256:…        printed right before the blob is deleted
 *
 * A real run adds one logrus line per deletion on stderr (`formatter: json` in berth's config):
 *   {"level":"info","msg":"Deleting blob: /docker/registry/v2/blobs/sha256/12/12f6…",…}
 */
export type GcOutputEvent =
  | { kind: 'repository'; repository: string }
  | { kind: 'markManifest'; repository: string; digest: string }
  | { kind: 'markBlob'; repository: string; digest: string }
  | { kind: 'summary'; blobsMarked: number; blobsEligible: number; manifestsEligible: number }
  | { kind: 'blobEligible'; digest: string }
  | { kind: 'blobDeleted'; digest: string }
  | { kind: 'error'; message: string };

const DIGEST = 'sha256:[0-9a-f]{64}';
const MARK = new RegExp(`^(\\S+): marking (manifest|blob) (${DIGEST})\\s*$`);
const SUMMARY = /^(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion$/;
const ELIGIBLE = new RegExp(`^blob eligible for deletion: (${DIGEST})$`);
const DELETED_BLOB_PATH = /^Deleting blob: \/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

/** One stdout line; null for lines that carry nothing berth counts (blank lines, `-m` output). */
export function parseStdoutLine(line: string): GcOutputEvent | null {
  const mark = MARK.exec(line);
  if (mark) {
    const [, repository, what, digest] = mark as unknown as [string, string, 'manifest' | 'blob', string];
    return { kind: what === 'manifest' ? 'markManifest' : 'markBlob', repository, digest };
  }
  const summary = SUMMARY.exec(line);
  if (summary) {
    return { kind: 'summary', blobsMarked: Number(summary[1]), blobsEligible: Number(summary[2]), manifestsEligible: Number(summary[3]) };
  }
  const eligible = ELIGIBLE.exec(line);
  if (eligible) return { kind: 'blobEligible', digest: eligible[1]! };
  if (isRepositoryName(line)) return { kind: 'repository', repository: line };
  return null;
}

/** One stderr line: a deletion, an error worth reporting, or nothing. */
export function parseStderrLine(line: string): GcOutputEvent | null {
  const entry = parseJson(line);
  if (!entry) return line.trim() ? { kind: 'error', message: line.trim() } : null;
  const message = typeof entry['msg'] === 'string' ? entry['msg'] : '';
  const deleted = DELETED_BLOB_PATH.exec(message);
  if (deleted) return { kind: 'blobDeleted', digest: `sha256:${deleted[1]}` };
  const level = entry['level'];
  if (level === 'error' || level === 'fatal' || level === 'panic') return { kind: 'error', message };
  return null;
}

function parseJson(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
