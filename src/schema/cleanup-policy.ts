import { resolveArrayConnection } from '@pothos/plugin-relay';
import type { Context } from '../context.js';
import type { Registry as RegistryRow } from '../generated/prisma/client.js';
import type { Deletion, Keep } from '../cleanup/evaluate.js';
import type { CleanupPlan } from '../cleanup/plan.js';
import { previewCleanup, setCleanupPolicy } from '../cleanup/policies.js';
import { type CleanupRuleSpec, parseStoredRules, ruleSpecs } from '../cleanup/rules.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { findRegistryForAction } from './authorized-lookups.js';
import { builder } from './builder.js';
import { Registry } from './registry.js';
import { repositoryRecord } from './repository.js';
import { type TagRecord, TagRef } from './tag.js';

const RULE_DOCS = {
  name: 'Shown in reasons; a rule without one is called by its position ("rule 1").',
  repositoryGlob: 'Repositories it covers, by name inside the registry: `*` within a path segment, `**` across them, `?`, `{a,b}`.',
  repositoryRegex: 'Repositories it covers, by an RE2 expression matching the whole name. Neither this nor repositoryGlob: every repository.',
  tagRegex: 'It may delete tags whose whole name matches this RE2 expression (`ci-.*`).',
  olderThanDays: 'It may delete tags pushed (to point at their image) at least this many days ago.',
  notPulledForDays: 'It may delete tags not pulled for this many days (counted from the push when never pulled).',
  keepMostRecent: 'Always keeps the N most recently pushed tags of each repository.',
  keepRegex: 'Always keeps tags whose whole name matches this RE2 expression (`latest`, `v\\d+\\.\\d+\\.\\d+`).',
  keepSigned: 'Always keeps tags of signed images (a cosign signature tag, or a manifest naming the image as its subject).',
  keepIndexChildren: 'Always keeps tags of images that an index staying in the repository references (its platforms).',
  allowEmptyRepositories: 'It may delete every tag of a repository; without it such a repository is left as it is, and saving a policy that would do it now is refused.',
} as const;

export const CleanupRuleInputRef = builder.inputType('CleanupRuleInput', {
  description:
    'A cleanup rule: which repositories it covers, which of their tags it may delete (every condition given must hold; give at least one) and ' +
    'which it always keeps. Keeps win over deletes, whichever rule says them; an image that any staying tag reaches is never deleted. ' +
    `Patterns are RE2 (linear-time, so no pattern can stall a run) of at most 256 characters.`,
  fields: (t) => ({
    name: t.string({ description: RULE_DOCS.name }),
    repositoryGlob: t.string({ description: RULE_DOCS.repositoryGlob }),
    repositoryRegex: t.string({ description: RULE_DOCS.repositoryRegex }),
    tagRegex: t.string({ description: RULE_DOCS.tagRegex }),
    olderThanDays: t.int({ description: RULE_DOCS.olderThanDays }),
    notPulledForDays: t.int({ description: RULE_DOCS.notPulledForDays }),
    keepMostRecent: t.int({ description: RULE_DOCS.keepMostRecent }),
    keepRegex: t.string({ description: RULE_DOCS.keepRegex }),
    keepSigned: t.boolean({ defaultValue: true, description: RULE_DOCS.keepSigned }),
    keepIndexChildren: t.boolean({ defaultValue: true, description: RULE_DOCS.keepIndexChildren }),
    allowEmptyRepositories: t.boolean({ defaultValue: false, description: RULE_DOCS.allowEmptyRepositories }),
  }),
});

export const CleanupRuleRef = builder.objectRef<CleanupRuleSpec>('CleanupRule').implement({
  description: 'A saved cleanup rule, with its defaults applied (see CleanupRuleInput).',
  fields: (t) => ({
    name: t.exposeString('name', { nullable: true, description: RULE_DOCS.name }),
    repositoryGlob: t.exposeString('repositoryGlob', { nullable: true, description: RULE_DOCS.repositoryGlob }),
    repositoryRegex: t.exposeString('repositoryRegex', { nullable: true, description: RULE_DOCS.repositoryRegex }),
    tagRegex: t.exposeString('tagRegex', { nullable: true, description: RULE_DOCS.tagRegex }),
    olderThanDays: t.exposeInt('olderThanDays', { nullable: true, description: RULE_DOCS.olderThanDays }),
    notPulledForDays: t.exposeInt('notPulledForDays', { nullable: true, description: RULE_DOCS.notPulledForDays }),
    keepMostRecent: t.exposeInt('keepMostRecent', { nullable: true, description: RULE_DOCS.keepMostRecent }),
    keepRegex: t.exposeString('keepRegex', { nullable: true, description: RULE_DOCS.keepRegex }),
    keepSigned: t.exposeBoolean('keepSigned', { description: RULE_DOCS.keepSigned }),
    keepIndexChildren: t.exposeBoolean('keepIndexChildren', { description: RULE_DOCS.keepIndexChildren }),
    allowEmptyRepositories: t.exposeBoolean('allowEmptyRepositories', { description: RULE_DOCS.allowEmptyRepositories }),
  }),
});

/** Stored rules as the API shows them. */
export function storedRules(json: string): CleanupRuleSpec[] {
  return ruleSpecs(parseStoredRules(json));
}

const CleanupPolicy = builder.prismaObject('CleanupPolicy', {
  description: 'A hosted registry’s cleanup rules, and when they run on their own.',
  fields: (t) => ({
    rules: t.field({ type: [CleanupRuleRef], select: { rules: true }, resolve: (policy) => storedRules(policy.rules) }),
    schedule: t.exposeString('schedule', { nullable: true, description: 'A five-field cron expression, in UTC; null: runs only through runCleanup.' }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether the schedule runs it (runCleanup always can).' }),
    nextRunAt: t.expose('nextRunAt', { type: 'DateTime', nullable: true, description: 'The next scheduled run; null without a schedule or while disabled.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField(Registry, 'cleanupPolicy', (t) =>
  t.relation('cleanupPolicy', { nullable: true, description: 'HOSTED: its cleanup rules and schedule; null until set.' }),
);

const CleanupReasonKind = builder.enumType('CleanupReasonKind', {
  description:
    'Deletions: SELECTED (a rule’s conditions hold), SIGNATURE_OF_DELETED (a cosign tag of an image whose tags all go). Keeps: KEEP_REGEX, ' +
    'MOST_RECENT, SIGNED, INDEX_CHILD (a platform of an index that stays), SIGNATURE_OF_KEPT (a cosign tag of an image that stays), ' +
    'NOT_SELECTED (no rule selects it), WOULD_EMPTY_REPOSITORY (the rules would delete every tag of its repository without allowEmptyRepositories).',
  values: ['SELECTED', 'SIGNATURE_OF_DELETED', 'KEEP_REGEX', 'MOST_RECENT', 'SIGNED', 'INDEX_CHILD', 'SIGNATURE_OF_KEPT', 'NOT_SELECTED', 'WOULD_EMPTY_REPOSITORY'] as const,
});

interface PreviewEntry {
  registry: RegistryRow;
  decision: Deletion | Keep;
  ruleName: string | null;
}

const CleanupReason = builder.objectRef<PreviewEntry>('CleanupReason').implement({
  description: 'Why a tag goes or stays.',
  fields: (t) => ({
    kind: t.field({ type: CleanupReasonKind, resolve: ({ decision }) => decision.kind }),
    rule: t.int({ nullable: true, description: 'The rule behind it, by position from 0; null when none is.', resolve: ({ decision }) => decision.rule }),
    ruleName: t.string({ nullable: true, resolve: ({ ruleName }) => ruleName }),
    message: t.string({ description: 'The reason in words, e.g. "nightly: name matches ci-.*, pushed 45 days ago (30 or more)".', resolve: ({ decision }) => decision.message }),
  }),
});

const CleanupPreviewEntry = builder.objectRef<PreviewEntry>('CleanupPreviewEntry').implement({
  fields: (t) => ({
    tag: t.field({ type: TagRef, resolve: (entry, _args, ctx) => tagRecord(ctx, entry) }),
    reason: t.field({ type: CleanupReason, resolve: (entry) => entry }),
  }),
});

// Counted by CleanupPreview.deleteCount and keepCount.
const CleanupPreviewEntryConnection = builder.connectionObject({ type: CleanupPreviewEntry, name: 'CleanupPreviewEntryConnection' }, { name: 'CleanupPreviewEntryEdge' });

interface Preview {
  registry: RegistryRow;
  plan: CleanupPlan;
}

const entries = ({ registry, plan }: Preview, decisions: readonly (Deletion | Keep)[]): PreviewEntry[] =>
  decisions.map((decision) => ({ registry, decision, ruleName: decision.rule === null ? null : (plan.rules[decision.rule]?.name ?? null) }));

const CleanupPreview = builder.objectRef<Preview>('CleanupPreview').implement({
  description: 'What cleanup rules would do to a hosted registry now, from berth’s content index.',
  fields: (t) => ({
    deleteCount: t.int({ resolve: ({ plan }) => plan.verdict.deletions.length }),
    keepCount: t.int({ description: 'Tags of the repositories the rules cover that stay.', resolve: ({ plan }) => plan.verdict.keeps.length }),
    bytesFreed: t.field({
      type: 'SafeInt',
      description:
        'What deleting the tags, then a garbage collection, would free: the stored blobs only deleted images use, counted once. A blob that ' +
        'anything staying uses, in this registry or another, does not count.',
      resolve: ({ plan }) => plan.bytesFreed,
    }),
    deletions: t.connection(
      { type: CleanupPreviewEntry, description: 'The tags it would delete, by repository then name.', resolve: (preview, args) => resolveArrayConnection({ args }, entries(preview, preview.plan.verdict.deletions)) },
      CleanupPreviewEntryConnection,
    ),
    keeps: t.connection(
      { type: CleanupPreviewEntry, description: 'The tags it keeps, by repository then name.', resolve: (preview, args) => resolveArrayConnection({ args }, entries(preview, preview.plan.verdict.keeps)) },
      CleanupPreviewEntryConnection,
    ),
    refusedRepositories: t.stringList({
      description: 'Repositories the rules would leave without a tag and do not allow to (allowEmptyRepositories): all their tags stay.',
      resolve: ({ plan }) => plan.verdict.refused.map((entry) => entry.repository),
    }),
    evaluatedAt: t.field({ type: 'DateTime', description: 'The moment ages were counted from.', resolve: ({ plan }) => plan.evaluatedAt }),
  }),
});

builder.queryField('cleanupPreview', (t) =>
  t.field({
    type: CleanupPreview,
    description:
      'What these rules, saved or not, would do to a hosted registry now (members): so a frontend can show the effect while a person ' +
      'edits. It reads berth’s content index only. Invalid rules are an error with code VALIDATION and the field at fault.',
    authScopes: { authenticated: true },
    args: {
      registryId: t.arg.id({ required: true }),
      rules: t.arg({ type: [CleanupRuleInputRef], required: true }),
    },
    resolve: async (_root, { registryId, rules }, ctx) => {
      const registry = await findRegistryForAction(ctx, registryId, 'registryId', 'VIEWER');
      return { registry, plan: await previewCleanup(ctx.db, registry, rules) };
    },
  }),
);

builder.relayMutationField(
  'setCleanupPolicy',
  {
    inputFields: (t) => ({
      registryId: t.id({ required: true }),
      rules: t.field({ type: [CleanupRuleInputRef], required: true, description: 'Replaces the rules; [] deletes nothing.' }),
      schedule: t.string({ description: 'A five-field cron expression (minute hour day month weekday), in UTC, e.g. "0 3 * * *"; null: only runCleanup runs it.' }),
      enabled: t.boolean({ defaultValue: true, description: 'Whether the schedule runs it.' }),
    }),
  },
  {
    description:
      'Saves a hosted registry’s cleanup policy (MAINTAINER), replacing any. Rules that would delete every tag of a repository as it is now ' +
      'are refused (ValidationError on that rule’s allowEmptyRepositories) unless they allow it.',
    authScopes: { authenticated: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    resolve: async (_root, { input }, ctx) => {
      const registry = await findRegistryForAction(ctx, input.registryId, 'registryId', 'MAINTAINER');
      return { policy: await setCleanupPolicy(ctx.db, registry, input, ctx.viewer?.id ?? null) };
    },
  },
  { outputFields: (t) => ({ policy: t.field({ type: CleanupPolicy, resolve: (payload) => payload.policy }) }) },
);

/** The entry's tag as the graph shows tags; its repository came from the index, so its name is valid. */
function tagRecord(ctx: Context, { registry, decision }: PreviewEntry): TagRecord {
  const { name, digest, pushedAt, pulledAt } = decision.tag;
  return { repository: repositoryRecord(ctx, registry, decision.repository)!, tag: { name, digest, pushedAt, pulledAt } };
}
