import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { GcProgress, type GcRunProgressFields } from '../../src/gc/progress.js';
import { ProgressReporter } from '../../src/jobs/progress-reporter.js';

describe('ProgressReporter', () => {
  it('reports moving counts at least every interval but not more often, and a phase change at once', async () => {
    const progress = new GcProgress(false);
    const saves: { at: number; fields: GcRunProgressFields }[] = [];
    const reporter = new ProgressReporter(() => progress.fields(), async (fields: GcRunProgressFields) => void saves.push({ at: Date.now(), fields }), 100, pino({ level: 'silent' }));

    progress.enter('MARKING');
    reporter.now();
    await sleep(5);
    expect(saves.map((s) => s.fields.phase)).toEqual(['MARKING']);

    const start = Date.now();
    while (Date.now() - start < 550) {
      progress.blobsMarked += 1;
      reporter.changed();
      await sleep(5);
    }
    await reporter.settled();
    const gaps = saves.slice(1).map((s, i) => s.at - saves[i]!.at);
    expect(saves.length).toBeGreaterThanOrEqual(3);
    expect(saves.length).toBeLessThanOrEqual(8);
    // Well under the second the contract allows, even on a busy machine.
    expect(Math.max(...gaps)).toBeLessThan(500);
    expect(saves.at(-1)!.fields.blobsMarked).toBe(progress.blobsMarked);
    // Saved in the order they happened.
    const marked = saves.map((s) => s.fields.blobsMarked);
    expect(marked).toEqual([...marked].sort((a, b) => a - b));
  });

  it('keeps percent rising across phases and ends at 100', () => {
    const progress = new GcProgress(false);
    const seen: number[] = [];
    for (const phase of ['PREPARING', 'READ_ONLY', 'MARKING', 'SWEEPING', 'RESTORING'] as const) {
      progress.enter(phase);
      seen.push(progress.fields().percent);
      progress.advance(0.5);
      progress.advance(0.25);
      seen.push(progress.fields().percent);
    }
    progress.finish();
    seen.push(progress.fields().percent);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(100);
  });
});
