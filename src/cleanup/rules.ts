import { RE2JS, RE2JSSyntaxException } from 're2js';
import { ValidationError } from '../errors.js';

/**
 * Cleanup rules as people write them and as berth stores them, and their validation. A rule says
 * which repositories it covers (a glob or a regex on the name inside the registry), which of their
 * tags it may delete (every condition given must hold) and which it always keeps.
 *
 * Patterns are matched by RE2 (re2js), whose time is linear in the name, so no pattern can make a
 * preview or a run hang (a backtracking engine takes minutes on `(a+)+$`); globs are translated to
 * RE2 too. Patterns are bounded in length anyway, and a regex must match the whole name, as in
 * GitLab's cleanup policies: `ci-.*`, not `ci-`.
 */

/** A rule with every default applied: what setCleanupPolicy stores and a job runs with. */
export interface CleanupRuleSpec {
  /** Shown in reasons; rules without one are called by position ("rule 1"). */
  name: string | null;
  /** Repositories by name inside the registry: `*` within one path segment, `**` across, `?`, `{a,b}`. */
  repositoryGlob: string | null;
  /** Repositories by name inside the registry, RE2, matching the whole name. Neither: every repository. */
  repositoryRegex: string | null;
  /** Tags it may delete, by name (RE2, whole name). */
  tagRegex: string | null;
  /** Tags it may delete: pushed (to point at their image) at least this many days ago. */
  olderThanDays: number | null;
  /** Tags it may delete: not pulled for this many days (counted from the push when never pulled). */
  notPulledForDays: number | null;
  /** Always keeps the N most recently pushed tags of each repository. */
  keepMostRecent: number | null;
  /** Always keeps tags whose name matches (RE2, whole name), e.g. `latest` or `v\d+\.\d+\.\d+`. */
  keepRegex: string | null;
  /** Always keeps tags of signed images (a cosign `.sig` tag, or a manifest naming them as subject). */
  keepSigned: boolean;
  /** Always keeps tags of images that an index staying in the repository references (its platforms). */
  keepIndexChildren: boolean;
  /** It may delete every tag of a repository; otherwise such a repository is left as it is. */
  allowEmptyRepositories: boolean;
}

/** What a client may leave out: the GraphQL input, or stored JSON. */
export type CleanupRuleInput = { [K in keyof CleanupRuleSpec]?: CleanupRuleSpec[K] | null | undefined };

/** A validated rule, ready to match. */
export interface CleanupRule extends CleanupRuleSpec {
  /** Its position in the rule set. */
  readonly index: number;
  /** Its name, or "rule <position from 1>". */
  readonly label: string;
  coversRepository(name: string): boolean;
  /** Every delete condition holds for the tag. */
  selects(tag: { name: string; pushedAt: Date; pulledAt: Date | null }, now: Date): boolean;
  keepsName(tag: string): boolean;
}

export const MAX_RULES = 50;
/** Longer patterns are refused: nothing real needs them, and they bound the work of matching. */
export const MAX_PATTERN_LENGTH = 256;
const MAX_DAYS = 36_500;
const MAX_KEEP = 100_000;
const MAX_NAME_LENGTH = 100;
const DAY_MS = 86_400_000;

/** Applies defaults and validates; ValidationError names the field (`rules.<i>.<field>`). */
export function compileRules(inputs: readonly CleanupRuleInput[], field = 'rules'): CleanupRule[] {
  if (inputs.length > MAX_RULES) throw new ValidationError(`at most ${MAX_RULES} rules`, field);
  return inputs.map((input, index) => compileRule(normalizeRule(input), index, `${field}.${index}`));
}

/** The stored form of validated rules. */
export function ruleSpecs(rules: readonly CleanupRule[]): CleanupRuleSpec[] {
  return rules.map((rule) => ({
    name: rule.name,
    repositoryGlob: rule.repositoryGlob,
    repositoryRegex: rule.repositoryRegex,
    tagRegex: rule.tagRegex,
    olderThanDays: rule.olderThanDays,
    notPulledForDays: rule.notPulledForDays,
    keepMostRecent: rule.keepMostRecent,
    keepRegex: rule.keepRegex,
    keepSigned: rule.keepSigned,
    keepIndexChildren: rule.keepIndexChildren,
    allowEmptyRepositories: rule.allowEmptyRepositories,
  }));
}

/** Rules stored by setCleanupPolicy or a job, validated again (a stored rule is input like any other). */
export function parseStoredRules(json: string): CleanupRule[] {
  return compileRules(JSON.parse(json) as CleanupRuleInput[]);
}

function normalizeRule(input: CleanupRuleInput): CleanupRuleSpec {
  return {
    name: input.name?.trim() || null,
    repositoryGlob: input.repositoryGlob ?? null,
    repositoryRegex: input.repositoryRegex ?? null,
    tagRegex: input.tagRegex ?? null,
    olderThanDays: input.olderThanDays ?? null,
    notPulledForDays: input.notPulledForDays ?? null,
    keepMostRecent: input.keepMostRecent ?? null,
    keepRegex: input.keepRegex ?? null,
    keepSigned: input.keepSigned ?? true,
    keepIndexChildren: input.keepIndexChildren ?? true,
    allowEmptyRepositories: input.allowEmptyRepositories ?? false,
  };
}

function compileRule(spec: CleanupRuleSpec, index: number, path: string): CleanupRule {
  if (spec.name !== null && (spec.name.length > MAX_NAME_LENGTH || /\p{Cc}/u.test(spec.name))) {
    throw new ValidationError(`a rule name has at most ${MAX_NAME_LENGTH} characters and no control characters`, `${path}.name`);
  }
  if (spec.repositoryGlob !== null && spec.repositoryRegex !== null) {
    throw new ValidationError('give repositoryGlob or repositoryRegex, not both', `${path}.repositoryRegex`);
  }
  if (spec.tagRegex === null && spec.olderThanDays === null && spec.notPulledForDays === null) {
    throw new ValidationError('say which tags the rule may delete: tagRegex, olderThanDays or notPulledForDays (use tagRegex ".*" for any tag)', path);
  }
  const repositories =
    spec.repositoryGlob !== null
      ? pattern(globToRegex(spec.repositoryGlob, `${path}.repositoryGlob`), `${path}.repositoryGlob`, spec.repositoryGlob)
      : spec.repositoryRegex !== null
        ? pattern(spec.repositoryRegex, `${path}.repositoryRegex`)
        : null;
  const tags = spec.tagRegex === null ? null : pattern(spec.tagRegex, `${path}.tagRegex`);
  const keep = spec.keepRegex === null ? null : pattern(spec.keepRegex, `${path}.keepRegex`);
  const olderThanMs = days(spec.olderThanDays, `${path}.olderThanDays`);
  const notPulledMs = days(spec.notPulledForDays, `${path}.notPulledForDays`);
  if (spec.keepMostRecent !== null && (!Number.isInteger(spec.keepMostRecent) || spec.keepMostRecent < 0 || spec.keepMostRecent > MAX_KEEP)) {
    throw new ValidationError(`must be a whole number from 0 to ${MAX_KEEP}`, `${path}.keepMostRecent`);
  }
  return {
    ...spec,
    index,
    label: spec.name ?? `rule ${index + 1}`,
    coversRepository: (name) => repositories === null || repositories.matches(name),
    selects: (tag, now) =>
      (tags === null || tags.matches(tag.name)) &&
      (olderThanMs === null || now.getTime() - tag.pushedAt.getTime() >= olderThanMs) &&
      (notPulledMs === null || now.getTime() - (tag.pulledAt ?? tag.pushedAt).getTime() >= notPulledMs),
    keepsName: (tag) => keep !== null && keep.matches(tag),
  };
}

function pattern(source: string, field: string, shown = source): RE2JS {
  if (shown.length === 0) throw new ValidationError('must not be empty', field);
  if (shown.length > MAX_PATTERN_LENGTH) throw new ValidationError(`at most ${MAX_PATTERN_LENGTH} characters`, field);
  try {
    return RE2JS.compile(source);
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) throw new ValidationError(`not a valid RE2 regular expression: ${error.message}`, field);
    throw error;
  }
}

function days(value: number | null, field: string): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 0 || value > MAX_DAYS) throw new ValidationError(`must be a whole number of days from 0 to ${MAX_DAYS}`, field);
  return value * DAY_MS;
}

/** Characters a repository name may contain, which stand for themselves in a glob. */
const LITERAL = /^[a-z0-9._/-]$/;

/**
 * `*` (within a segment), `**` (across segments, and none when a slash follows: `a/**` then `/b`
 * also matches `a/b`), `?` and `{a,b}` (nestable) as an RE2 expression; anything else a glob could
 * mean is refused rather than guessed.
 */
function globToRegex(glob: string, field: string): string {
  let regex = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      i += 1;
      if (glob[i + 1] === '/') {
        i += 1;
        regex += '(?:.*/)?';
      } else regex += '.*';
    } else if (char === '*') regex += '[^/]*';
    else if (char === '?') regex += '[^/]';
    else if (char === '{') {
      const end = closingBrace(glob, i);
      if (end < 0) throw new ValidationError('a "{" without its "}"', field);
      regex += `(?:${topLevelAlternatives(glob.slice(i + 1, end)).map((part) => globToRegex(part, field)).join('|')})`;
      i = end;
    } else if (LITERAL.test(char)) regex += RE2JS.quote(char);
    else throw new ValidationError(`globs take repository-name characters with *, **, ? and {a,b}; "${char}" is none of them (use repositoryRegex)`, field);
  }
  return regex;
}

function closingBrace(glob: string, open: number): number {
  let depth = 0;
  for (let i = open; i < glob.length; i++) {
    if (glob[i] === '{') depth += 1;
    else if (glob[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function topLevelAlternatives(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '{') depth += 1;
    else if (body[i] === '}') depth -= 1;
    else if (body[i] === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}
