import { Cron } from 'croner';
import { ValidationError } from '../errors.js';

/**
 * Cleanup schedules: five-field cron expressions (minute hour day-of-month month day-of-week, as
 * crontab has them, names like MON and JAN allowed) read in UTC, parsed and stepped by croner. A
 * seconds field is refused: nothing about a registry needs cleaning more than once a minute.
 */

const MAX_SCHEDULE_LENGTH = 100;

/** The expression as given, once croner accepts it; ValidationError otherwise. */
export function requireSchedule(expression: string, field: string): string {
  if (expression.length > MAX_SCHEDULE_LENGTH) throw new ValidationError(`at most ${MAX_SCHEDULE_LENGTH} characters`, field);
  try {
    cron(expression);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new ValidationError(`not a five-field cron expression (minute hour day month weekday, UTC): ${error.message}`, field);
    }
    throw error;
  }
  return expression;
}

/** The first time after `after` that the schedule names; null when it names none (e.g. 30 February). */
export function nextRun(expression: string, after: Date): Date | null {
  return cron(expression).nextRun(after);
}

/** Paused and without a function: croner only computes, it schedules nothing. */
function cron(expression: string): Cron {
  return new Cron(expression, { paused: true, timezone: 'UTC', mode: '5-part' });
}
