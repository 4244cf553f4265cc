import type { GcOutputEvent } from './output-parser.js';

/** A manifest revision of one repository. */
export interface ManifestRevision {
  repository: string;
  digest: string;
}

/**
 * What one garbage-collect run reported, accumulated from its output: the mark set (also per
 * manifest, since 2.8 prints every reference of every manifest), the blobs it found eligible and
 * those it deleted.
 */
export class MarkLedger {
  repositoriesSeen = 0;
  readonly marked = new Set<string>();
  readonly eligible: string[] = [];
  deleted = 0;
  summary: Extract<GcOutputEvent, { kind: 'summary' }> | null = null;
  private readonly marksByManifest = new Map<string, string[]>();
  private currentManifest: string[] | null = null;

  apply(event: GcOutputEvent): void {
    switch (event.kind) {
      case 'repository':
        this.repositoriesSeen += 1;
        this.currentManifest = null;
        break;
      case 'markManifest':
        this.marked.add(event.digest);
        this.currentManifest = [event.digest];
        this.marksByManifest.set(revisionKey(event), this.currentManifest);
        break;
      case 'markBlob':
        this.marked.add(event.digest);
        this.currentManifest?.push(event.digest);
        break;
      case 'summary':
        this.summary = event;
        break;
      case 'blobEligible':
        this.eligible.push(event.digest);
        break;
      case 'blobDeleted':
        this.deleted += 1;
        break;
      case 'error':
        break;
    }
  }

  /**
   * The mark set and eligible blobs had `removed` been deleted before the run, as a real run with
   * deleteUntagged does: every manifest's marks, except those of the removed ones.
   */
  without(removed: readonly ManifestRevision[], stored: Iterable<string>): { marked: Set<string>; eligible: string[] } {
    const skipped = new Set(removed.map(revisionKey));
    const marked = new Set<string>();
    for (const [key, digests] of this.marksByManifest) {
      if (!skipped.has(key)) for (const digest of digests) marked.add(digest);
    }
    return { marked, eligible: [...stored].filter((digest) => !marked.has(digest)) };
  }
}

function revisionKey({ repository, digest }: ManifestRevision): string {
  return `${repository}@${digest}`;
}
