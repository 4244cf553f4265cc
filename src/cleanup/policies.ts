import type { Db } from '../db/client.js';
import { ValidationError } from '../errors.js';
import type { CleanupPolicy, Registry } from '../generated/prisma/client.js';
import { registrySnapshot } from '../registry/content-index/registry-snapshot.js';
import { evaluateCleanup } from './evaluate.js';
import { type CleanupPlan, planCleanup } from './plan.js';
import { compileRules, type CleanupRuleInput, ruleSpecs } from './rules.js';
import { nextRun, requireSchedule } from './schedule.js';

/**
 * The rules for cleanup policies, which the schema calls once it has found the registry and
 * checked the viewer's role. Cleanup works on what berth stores, so only hosted registries have it.
 */

export interface PolicyInput {
  rules: readonly CleanupRuleInput[];
  /** A five-field cron expression (UTC); null or omitted: the policy runs only when asked. */
  schedule?: string | null;
  /** Whether the schedule runs it. @default true */
  enabled?: boolean | null;
}

/**
 * Saves the registry's policy, replacing any. Rules that would delete every tag of a repository
 * as it is now are refused unless they allow it; a run checks that again against what it finds.
 */
export async function setCleanupPolicy(db: Db, registry: Registry, input: PolicyInput, actorId: string | null, now = new Date()): Promise<CleanupPolicy> {
  const slug = hostedSlug(registry);
  const rules = compileRules(input.rules);
  const schedule = input.schedule?.trim() ? requireSchedule(input.schedule.trim(), 'schedule') : null;
  const enabled = input.enabled ?? true;
  const { refused } = evaluateCleanup(rules, await registrySnapshot(db, slug), now);
  const [first] = refused;
  if (first) {
    const rule = rules[first.rule]!;
    const repositories = refused.filter((entry) => entry.rule === first.rule).map((entry) => entry.repository);
    throw new ValidationError(
      `${rule.label} would delete every tag of ${repositories.join(', ')}; set allowEmptyRepositories on it if that is what you want`,
      `rules.${first.rule}.allowEmptyRepositories`,
    );
  }
  const data = {
    rules: JSON.stringify(ruleSpecs(rules)),
    schedule,
    enabled,
    nextRunAt: enabled && schedule ? nextRun(schedule, now) : null,
    updatedById: actorId,
  };
  return db.cleanupPolicy.upsert({ where: { registryId: registry.id }, create: { registryId: registry.id, ...data }, update: data });
}

/** What the rules, saved or not, would do to the registry now. */
export async function previewCleanup(db: Db, registry: Registry, rules: readonly CleanupRuleInput[], now = new Date()): Promise<CleanupPlan> {
  return planCleanup(db, hostedSlug(registry), compileRules(rules), now);
}

function hostedSlug(registry: Registry): string {
  if (registry.kind !== 'HOSTED' || registry.slug === null) {
    throw new ValidationError('cleanup policies are for hosted registries; this one is EXTERNAL', 'registryId');
  }
  return registry.slug;
}
