import { describe, expect, it } from 'vitest';
import { MarkLedger } from '../../src/gc/mark-ledger.js';
import { type GcOutputEvent, parseStderrLine, parseStdoutLine } from '../../src/gc/output-parser.js';

const hex = (c: string) => c.repeat(64);
const digest = (c: string) => `sha256:${hex(c)}`;

// As docker-registry 2.8.2 prints them (registry-v2 notes §4); note the trailing space after a marked manifest.
const STDOUT = [
  'team/app',
  `team/app: marking manifest ${digest('a')} `,
  `team/app: marking blob ${digest('b')}`,
  `team/app: marking blob ${digest('c')}`,
  `team/app: marking manifest ${digest('d')} `,
  `team/app: marking blob ${digest('c')}`,
  'team/empty',
  '',
  '3 blobs marked, 2 blobs and 0 manifests eligible for deletion',
  `blob eligible for deletion: ${digest('e')}`,
  `blob eligible for deletion: ${digest('f')}`,
];
const STDERR = [
  `{"go.version":"go1.19.8","instance.id":"x","level":"info","msg":"Deleting blob: /docker/registry/v2/blobs/sha256/ee/${hex('e')}","time":"2026-11-25T16:12:30Z"}`,
  '{"level":"error","msg":"failed to delete blob: permission denied","time":"2026-11-25T16:12:30Z"}',
  '{"level":"info","msg":"something routine"}',
  'configuration error: open /nope.yml: no such file or directory',
];

describe('garbage-collect output', () => {
  it('turns every stdout line berth counts into an event', () => {
    expect(STDOUT.map(parseStdoutLine)).toEqual([
      { kind: 'repository', repository: 'team/app' },
      { kind: 'markManifest', repository: 'team/app', digest: digest('a') },
      { kind: 'markBlob', repository: 'team/app', digest: digest('b') },
      { kind: 'markBlob', repository: 'team/app', digest: digest('c') },
      { kind: 'markManifest', repository: 'team/app', digest: digest('d') },
      { kind: 'markBlob', repository: 'team/app', digest: digest('c') },
      { kind: 'repository', repository: 'team/empty' },
      null,
      { kind: 'summary', blobsMarked: 3, blobsEligible: 2, manifestsEligible: 0 },
      { kind: 'blobEligible', digest: digest('e') },
      { kind: 'blobEligible', digest: digest('f') },
    ]);
  });

  it('reads deletions and errors from stderr and ignores routine lines', () => {
    expect(STDERR.map(parseStderrLine)).toEqual([
      { kind: 'blobDeleted', digest: digest('e') },
      { kind: 'error', message: 'failed to delete blob: permission denied' },
      null,
      { kind: 'error', message: 'configuration error: open /nope.yml: no such file or directory' },
    ]);
  });

  it('keeps the marks per manifest, so a run without some manifests can be worked out', () => {
    const ledger = new MarkLedger();
    for (const event of [...STDOUT.map(parseStdoutLine), ...STDERR.map(parseStderrLine)]) if (event) ledger.apply(event as GcOutputEvent);
    expect([ledger.repositoriesSeen, ledger.marked.size, ledger.eligible, ledger.deleted]).toEqual([2, 4, [digest('e'), digest('f')], 1]);
    const stored = ['a', 'b', 'c', 'd', 'e', 'f'].map(digest);
    // Without manifest a, blob b loses its only reference; c stays marked by d.
    expect(ledger.without([{ repository: 'team/app', digest: digest('a') }], stored)).toEqual({
      marked: new Set([digest('d'), digest('c')]),
      eligible: [digest('a'), digest('b'), digest('e'), digest('f')],
    });
  });
});
