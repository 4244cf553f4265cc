import { describe, expect, it } from 'vitest';
import { compileRules, type CleanupRuleInput, MAX_PATTERN_LENGTH, parseStoredRules, ruleSpecs } from '../../src/cleanup/rules.js';
import { ValidationError } from '../../src/errors.js';

function refusal(rules: CleanupRuleInput[]): { field: string; message: string } {
  try {
    compileRules(rules);
  } catch (error) {
    if (error instanceof ValidationError) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('the rules were accepted');
}

describe('compileRules', () => {
  it('names the field of what is wrong', () => {
    expect(refusal([{ tagRegex: 'ok' }, { tagRegex: '(unclosed' }])).toEqual({
      field: 'rules.1.tagRegex',
      message: 'not a valid RE2 regular expression: error parsing regexp: missing closing ): `(unclosed`',
    });
    expect(refusal([{ tagRegex: '.*', keepRegex: '(?=lookahead)' }]).field).toBe('rules.0.keepRegex');
    expect(refusal([{ tagRegex: '.*', repositoryGlob: 'a/*', repositoryRegex: 'a/.*' }]).field).toBe('rules.0.repositoryRegex');
    expect(refusal([{ tagRegex: '.*', repositoryGlob: 'Web[0-9]' }])).toMatchObject({ field: 'rules.0.repositoryGlob', message: expect.stringContaining('"W"') });
    expect(refusal([{ tagRegex: '.*', repositoryGlob: 'web/{a,b' }]).field).toBe('rules.0.repositoryGlob');
    expect(refusal([{ olderThanDays: -1 }]).field).toBe('rules.0.olderThanDays');
    expect(refusal([{ notPulledForDays: 1.5 }]).field).toBe('rules.0.notPulledForDays');
    expect(refusal([{ tagRegex: '.*', keepMostRecent: -2 }]).field).toBe('rules.0.keepMostRecent');
    expect(refusal([{ tagRegex: '' }]).field).toBe('rules.0.tagRegex');
  });

  it('asks every rule to say which tags it may delete', () => {
    expect(refusal([{ keepMostRecent: 5 }])).toMatchObject({ field: 'rules.0', message: expect.stringContaining('tagRegex, olderThanDays or notPulledForDays') });
  });

  it('bounds patterns, and matches in linear time whatever the pattern', () => {
    expect(refusal([{ tagRegex: 'a'.repeat(MAX_PATTERN_LENGTH + 1) }])).toEqual({ field: 'rules.0.tagRegex', message: `at most ${MAX_PATTERN_LENGTH} characters` });
    // Exponential for a backtracking engine (minutes at this length); RE2 answers at once.
    const [rule] = compileRules([{ tagRegex: '(a+)+$', repositoryGlob: '*a*a*a*a*a*a*a*a*b' }]);
    expect(rule!.selects({ name: `${'a'.repeat(127)}!`, pushedAt: new Date(), pulledAt: null }, new Date())).toBe(false);
    expect(rule!.coversRepository('a'.repeat(255))).toBe(false);
  });

  it('matches whole names', () => {
    const [rule] = compileRules([{ tagRegex: 'ci-', keepRegex: 'latest' }]);
    expect(rule!.selects({ name: 'ci-1', pushedAt: new Date(), pulledAt: null }, new Date())).toBe(false);
    expect(rule!.keepsName('latest')).toBe(true);
    expect(rule!.keepsName('latest-rc')).toBe(false);
  });

  it('stores rules with their defaults and reads them back as they were', () => {
    const rules = compileRules([{ name: ' nightly ', tagRegex: 'ci-.*', olderThanDays: 7 }]);
    expect(ruleSpecs(rules)).toEqual([
      {
        name: 'nightly',
        repositoryGlob: null,
        repositoryRegex: null,
        tagRegex: 'ci-.*',
        olderThanDays: 7,
        notPulledForDays: null,
        keepMostRecent: null,
        keepRegex: null,
        keepSigned: true,
        keepIndexChildren: true,
        allowEmptyRepositories: false,
      },
    ]);
    expect(ruleSpecs(parseStoredRules(JSON.stringify(ruleSpecs(rules))))).toEqual(ruleSpecs(rules));
  });
});
