import { reachableDigests } from '../registry/deletion-plan.js';
import type { CleanupRule } from './rules.js';

/**
 * Which tags cleanup rules delete and which they keep, and why, decided from a registry's content
 * alone. Pure, so the preview and a run decide the same way (the run then deletes through
 * content-deletion.ts, whose planner keeps every image a remaining tag still reaches).
 *
 * For each repository, the rules that cover it vote on each tag:
 * - Keep wins over delete: a tag that any of them keeps (keep-regex, the N most recent, signed)
 *   stays, whatever another rule says. A tag no rule selects for deletion stays too.
 * - Tags of images that an index staying in the repository references stay (keepIndexChildren).
 * - A cosign artifact tag (`sha256-<hex>.sig`, `.att`, `.sbom`) follows the image it belongs to: it
 *   stays while a staying tag reaches that image and goes with it when its last tags go; only when
 *   no tag reaches that image do the rules judge it like any tag. It never counts as most recent.
 * - A repository that would lose every tag keeps them all, unless every rule deleting there allows
 *   it (allowEmptyRepositories).
 */

export interface TagState {
  name: string;
  digest: string;
  pushedAt: Date;
  pulledAt: Date | null;
}

/** What the rules need to know of one repository. */
export interface RepositoryState {
  /** The name inside the registry. */
  name: string;
  tags: readonly TagState[];
  /** The children of each index the repository holds. */
  children: ReadonlyMap<string, readonly string[]>;
  /** Digests that a manifest of the repository names as its subject (OCI referrers: signatures, attestations). */
  referred: ReadonlySet<string>;
}

export type DeleteReason = 'SELECTED' | 'SIGNATURE_OF_DELETED';
export type KeepReason = 'KEEP_REGEX' | 'MOST_RECENT' | 'SIGNED' | 'INDEX_CHILD' | 'SIGNATURE_OF_KEPT' | 'NOT_SELECTED' | 'WOULD_EMPTY_REPOSITORY';

export interface Decision<Kind extends string> {
  repository: string;
  tag: TagState;
  kind: Kind;
  /** The rule behind it, by position; null when no rule is (a tag no rule selects, a signature of a kept image). */
  rule: number | null;
  /** The reason in words. */
  message: string;
}

export type Deletion = Decision<DeleteReason> & { rule: number };
export type Keep = Decision<KeepReason>;

export interface CleanupVerdict {
  /** By repository, then tag name. */
  deletions: Deletion[];
  keeps: Keep[];
  /** Repositories the rules would have emptied without leave, and the first rule that did not give it. */
  refused: { repository: string; rule: number }[];
}

const ARTIFACT_TAG = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;
const DAY_MS = 86_400_000;

export function evaluateCleanup(rules: readonly CleanupRule[], repositories: readonly RepositoryState[], now: Date): CleanupVerdict {
  const verdict: CleanupVerdict = { deletions: [], keeps: [], refused: [] };
  for (const repository of [...repositories].sort((a, b) => compare(a.name, b.name))) {
    const covering = rules.filter((rule) => rule.coversRepository(repository.name));
    if (covering.length > 0) evaluateRepository(covering, repository, now, verdict);
  }
  return verdict;
}

function evaluateRepository(rules: readonly CleanupRule[], repository: RepositoryState, now: Date, verdict: CleanupVerdict): void {
  const artifacts = repository.tags.filter((tag) => ARTIFACT_TAG.test(tag.name));
  const images = repository.tags.filter((tag) => !ARTIFACT_TAG.test(tag.name));
  const signed = new Set([...repository.referred, ...artifacts.filter((tag) => tag.name.endsWith('.sig')).map(subjectOf)]);
  const rank = new Map(
    [...images].sort((a, b) => b.pushedAt.getTime() - a.pushedAt.getTime() || compare(a.name, b.name)).map((tag, position) => [tag.name, position]),
  );
  const deletions: Deletion[] = [];
  const keeps: Keep[] = [];
  const keep = (tag: TagState, { kind, rule, message }: Reason<KeepReason>) => keeps.push({ repository: repository.name, tag, kind, rule, message });
  const remove = (tag: TagState, { kind, rule, message }: Reason<DeleteReason> & { rule: number }) =>
    deletions.push({ repository: repository.name, tag, kind, rule, message });
  /** Keeps win; then the first rule that selects it deletes it. */
  const judge = (tag: TagState, position: number, isSigned: boolean): void => {
    const kept = firstKeep(rules, tag, position, isSigned);
    const selecting = kept ? undefined : rules.find((rule) => rule.selects(tag, now));
    if (kept) keep(tag, kept);
    else if (selecting) remove(tag, { kind: 'SELECTED', rule: selecting.index, message: selection(selecting, tag, now) });
    else keep(tag, { kind: 'NOT_SELECTED', rule: null, message: 'no rule selects it for deletion' });
  };

  for (const tag of images) judge(tag, rank.get(tag.name)!, signed.has(tag.digest));

  const guardian = rules.find((rule) => rule.keepIndexChildren);
  if (guardian) {
    const platforms = reachableDigests(keeps.flatMap(({ tag }) => repository.children.get(tag.digest) ?? []), repository.children);
    for (const deletion of deletions.filter(({ tag }) => platforms.has(tag.digest))) {
      deletions.splice(deletions.indexOf(deletion), 1);
      keep(deletion.tag, { kind: 'INDEX_CHILD', rule: guardian.index, message: `${guardian.label}: its image is a platform of an index that stays` });
    }
  }

  const staying = reachableDigests(keeps.map(({ tag }) => tag.digest), repository.children);
  const leaving = new Map<string, Deletion>();
  for (const deletion of deletions) {
    for (const digest of reachableDigests([deletion.tag.digest], repository.children)) if (!leaving.has(digest)) leaving.set(digest, deletion);
  }
  for (const tag of artifacts) {
    const subject = subjectOf(tag);
    const goesWith = leaving.get(subject);
    if (staying.has(subject)) keep(tag, { kind: 'SIGNATURE_OF_KEPT', rule: null, message: `belongs to ${subject}, which stays` });
    else if (goesWith) remove(tag, { kind: 'SIGNATURE_OF_DELETED', rule: goesWith.rule, message: `belongs to ${subject}, which goes with ${goesWith.tag.name}` });
    else judge(tag, Number.POSITIVE_INFINITY, false);
  }

  const deletingRules = rules.filter((rule) => deletions.some((deletion) => deletion.rule === rule.index));
  const withoutLeave = deletions.length === repository.tags.length ? deletingRules.find((rule) => !rule.allowEmptyRepositories) : undefined;
  if (withoutLeave) {
    verdict.refused.push({ repository: repository.name, rule: withoutLeave.index });
    const message = `${withoutLeave.label} would delete every tag of the repository, and does not allow it (allowEmptyRepositories)`;
    for (const { tag } of deletions.splice(0)) keep(tag, { kind: 'WOULD_EMPTY_REPOSITORY', rule: withoutLeave.index, message });
  }
  const byName = (a: { tag: TagState }, b: { tag: TagState }) => compare(a.tag.name, b.tag.name);
  verdict.deletions.push(...deletions.sort(byName));
  verdict.keeps.push(...keeps.sort(byName));
}

type Reason<Kind extends string> = Pick<Decision<Kind>, 'kind' | 'rule' | 'message'>;

/** The first rule, in order, that keeps the tag, and how. */
function firstKeep(rules: readonly CleanupRule[], tag: TagState, rank: number, signed: boolean): Reason<KeepReason> | null {
  for (const rule of rules) {
    if (rule.keepsName(tag.name)) return { kind: 'KEEP_REGEX', rule: rule.index, message: `${rule.label}: keeps names matching ${rule.keepRegex}` };
    if (rule.keepMostRecent !== null && rank < rule.keepMostRecent) {
      return { kind: 'MOST_RECENT', rule: rule.index, message: `${rule.label}: one of the ${rule.keepMostRecent} most recently pushed tags` };
    }
    if (rule.keepSigned && signed) return { kind: 'SIGNED', rule: rule.index, message: `${rule.label}: its image is signed` };
  }
  return null;
}

function selection(rule: CleanupRule, tag: TagState, now: Date): string {
  const parts: string[] = [];
  if (rule.tagRegex !== null) parts.push(`name matches ${rule.tagRegex}`);
  if (rule.olderThanDays !== null) parts.push(`pushed ${daysSince(tag.pushedAt, now)} days ago (${rule.olderThanDays} or more)`);
  if (rule.notPulledForDays !== null) {
    const since = daysSince(tag.pulledAt ?? tag.pushedAt, now);
    parts.push(`${tag.pulledAt ? 'not pulled' : 'never pulled, pushed'} for ${since} days (${rule.notPulledForDays} or more)`);
  }
  return `${rule.label}: ${parts.join(', ')}`;
}

function daysSince(date: Date, now: Date): number {
  return Math.floor((now.getTime() - date.getTime()) / DAY_MS);
}

function subjectOf(tag: TagState): string {
  return `sha256:${ARTIFACT_TAG.exec(tag.name)![1]!}`;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
