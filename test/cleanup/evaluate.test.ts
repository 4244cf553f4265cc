import { describe, expect, it } from 'vitest';
import { evaluateCleanup, type RepositoryState, type TagState } from '../../src/cleanup/evaluate.js';
import { compileRules, type CleanupRuleInput } from '../../src/cleanup/rules.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const signatureOf = (d: string) => `${d.replace(':', '-')}.sig`;

function tag(name: string, d: string, ageDays: number, pulledDaysAgo: number | null = null): TagState {
  return { name, digest: d, pushedAt: new Date(NOW.getTime() - ageDays * DAY), pulledAt: pulledDaysAgo === null ? null : new Date(NOW.getTime() - pulledDaysAgo * DAY) };
}

function repository(name: string, tags: TagState[], extra: Partial<RepositoryState> = {}): RepositoryState {
  return { name, tags, children: new Map(), referred: new Set(), ...extra };
}

function evaluate(rules: CleanupRuleInput[], repositories: RepositoryState[]) {
  const verdict = evaluateCleanup(compileRules(rules), repositories, NOW);
  return {
    deleted: verdict.deletions.map((d) => `${d.repository}:${d.tag.name}`),
    kept: Object.fromEntries(verdict.keeps.map((k) => [`${k.repository}:${k.tag.name}`, k.kind])),
    verdict,
  };
}

describe('evaluateCleanup', () => {
  it('deletes what every condition of a rule selects, and says which rule', () => {
    const repo = repository('app', [tag('ci-1', digest(1), 40), tag('ci-2', digest(2), 5), tag('v1', digest(3), 90), tag('ci-3', digest(4), 40, 2)]);
    const { deleted, kept, verdict } = evaluate([{ name: 'old ci', tagRegex: 'ci-.*', olderThanDays: 30, notPulledForDays: 14 }], [repo]);
    expect(deleted).toEqual(['app:ci-1']);
    expect(kept).toEqual({ 'app:ci-2': 'NOT_SELECTED', 'app:ci-3': 'NOT_SELECTED', 'app:v1': 'NOT_SELECTED' });
    expect(verdict.deletions[0]).toMatchObject({ rule: 0, kind: 'SELECTED', message: 'old ci: name matches ci-.*, pushed 40 days ago (30 or more), never pulled, pushed for 40 days (14 or more)' });
  });

  it('lets keeps win over deletes, across rules: keep-regex, the N most recent, signed images', () => {
    const signed = digest(5);
    const repo = repository('app', [
      tag('latest', digest(1), 100),
      tag('v1.2.3', digest(2), 100),
      tag('b1', digest(3), 100),
      tag('b2', digest(4), 99),
      tag('b3', signed, 98),
      tag(signatureOf(signed), digest(6), 98),
      tag('b4', digest(7), 97),
      tag('b5', digest(8), 96),
    ]);
    const { deleted, kept } = evaluate(
      [
        { tagRegex: '.*', olderThanDays: 30, keepRegex: 'latest|v\\d+\\.\\d+\\.\\d+' },
        { repositoryGlob: 'app', tagRegex: 'b.*', keepMostRecent: 2 },
      ],
      [repo],
    );
    expect(deleted).toEqual(['app:b1', 'app:b2']);
    expect(kept).toEqual({
      'app:latest': 'KEEP_REGEX',
      'app:v1.2.3': 'KEEP_REGEX',
      'app:b3': 'SIGNED',
      [`app:${signatureOf(signed)}`]: 'SIGNATURE_OF_KEPT',
      'app:b4': 'MOST_RECENT',
      'app:b5': 'MOST_RECENT',
    });
  });

  it('deletes a signature with the image it signs when that image goes', () => {
    const signed = digest(1);
    const repo = repository('app', [tag('old', signed, 60), tag(signatureOf(signed), digest(2), 1), tag('new', digest(3), 1)]);
    const { deleted, verdict } = evaluate([{ olderThanDays: 30, keepSigned: false }], [repo]);
    expect(deleted).toEqual(['app:old', `app:${signatureOf(signed)}`]);
    expect(verdict.deletions[1]).toMatchObject({ kind: 'SIGNATURE_OF_DELETED', rule: 0 });
  });

  it('counts a manifest naming the image as its subject as a signature', () => {
    const repo = repository('app', [tag('old', digest(1), 60), tag('new', digest(2), 1)], { referred: new Set([digest(1)]) });
    expect(evaluate([{ olderThanDays: 30 }], [repo]).kept['app:old']).toBe('SIGNED');
  });

  it('keeps tags of platforms of an index that stays, unless told not to', () => {
    const index = digest(10);
    const [amd64, arm64] = [digest(11), digest(12)];
    const repo = repository('app', [tag('multi', index, 1), tag('amd64-build', amd64, 60), tag('arm64-build', arm64, 60), tag('other', digest(13), 60)], {
      children: new Map([[index, [amd64, arm64]]]),
    });
    expect(evaluate([{ olderThanDays: 30 }], [repo])).toMatchObject({
      deleted: ['app:other'],
      kept: { 'app:amd64-build': 'INDEX_CHILD', 'app:arm64-build': 'INDEX_CHILD', 'app:multi': 'NOT_SELECTED' },
    });
    expect(evaluate([{ olderThanDays: 30, keepIndexChildren: false }], [repo]).deleted).toEqual(['app:amd64-build', 'app:arm64-build', 'app:other']);
  });

  it('refuses to empty a repository unless every rule deleting there allows it', () => {
    const repos = [repository('ci/a', [tag('x', digest(1), 60), tag('y', digest(2), 60)]), repository('web', [tag('x', digest(3), 60), tag('z', digest(4), 1)])];
    const refused = evaluate([{ olderThanDays: 30 }], repos);
    expect(refused.deleted).toEqual(['web:x']);
    expect(refused.kept).toMatchObject({ 'ci/a:x': 'WOULD_EMPTY_REPOSITORY', 'ci/a:y': 'WOULD_EMPTY_REPOSITORY' });
    expect(refused.verdict.refused).toEqual([{ repository: 'ci/a', rule: 0 }]);

    const allowed = evaluate([{ repositoryGlob: 'ci/*', olderThanDays: 30, allowEmptyRepositories: true }, { olderThanDays: 30 }], repos);
    expect(allowed.deleted).toEqual(['ci/a:x', 'ci/a:y', 'web:x']);
    expect(allowed.verdict.refused).toEqual([]);

    const oneRuleWithout = evaluate([{ repositoryGlob: 'ci/*', tagRegex: 'x', allowEmptyRepositories: true }, { tagRegex: 'y' }], repos);
    expect(oneRuleWithout.verdict.refused).toEqual([{ repository: 'ci/a', rule: 1 }]);
  });

  it('covers repositories by glob or regex, and leaves the others out of the verdict', () => {
    const repos = ['ci/a', 'ci/a/b', 'web', 'web-api', 'tools/ci/x'].map((name) => repository(name, [tag('t', digest(name.length), 60), tag('keep', digest(99), 1)]));
    const covered = (rule: CleanupRuleInput) => evaluate([{ olderThanDays: 30, ...rule }], repos).deleted.map((d) => d.split(':')[0]);
    expect(covered({ repositoryGlob: 'ci/*' })).toEqual(['ci/a']);
    expect(covered({ repositoryGlob: 'ci/**' })).toEqual(['ci/a', 'ci/a/b']);
    expect(covered({ repositoryGlob: '**/ci/**' })).toEqual(['ci/a', 'ci/a/b', 'tools/ci/x']);
    expect(covered({ repositoryGlob: '{web,ci/a}' })).toEqual(['ci/a', 'web']);
    expect(covered({ repositoryGlob: 'web?api' })).toEqual(['web-api']);
    expect(covered({ repositoryRegex: 'web.*' })).toEqual(['web', 'web-api']);
    expect(evaluate([{ repositoryGlob: 'nothing', olderThanDays: 1 }], repos).verdict).toEqual({ deletions: [], keeps: [], refused: [] });
  });
});
