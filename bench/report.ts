/**
 * How every benchmark reports a figure: berth's measurement next to its baseline, measured in the
 * same run, the ratio and the goal. People read the block; `npm run bench` collects the `BENCH`
 * line each block ends with (one JSON object).
 */
export interface Figure {
  /** What was measured, and against what. */
  figure: string;
  berth: number;
  baseline: number;
  unit: 'ms' | 's' | 'req/s' | 'KB' | 'MB' | 'calls' | 'statements';
  /**
   * The ratio berth/baseline must stay at or below `max`, or at or above `min`; or berth's own
   * value must stay at or below `atMost` (in `unit`), when the goal is a bound and not a ratio.
   */
  goal: { max: number } | { min: number } | { atMost: number };
}

export function report({ figure, berth, baseline, unit, goal }: Figure): void {
  const ratio = berth / baseline;
  const met = 'max' in goal ? ratio <= goal.max : 'min' in goal ? ratio >= goal.min : berth <= goal.atMost;
  const goalText = 'max' in goal ? `≤ ${goal.max}` : 'min' in goal ? `≥ ${goal.min}` : `≤ ${goal.atMost} ${unit}`;
  console.log(`figure:   ${figure}`);
  console.log(`berth:    ${format(berth, unit)}`);
  console.log(`baseline: ${format(baseline, unit)}`);
  console.log(`ratio:    ${ratio.toFixed(2)}`);
  console.log(`goal:     ${goalText} (${met ? 'met' : 'NOT met'})`);
  console.log(`BENCH ${JSON.stringify({ figure, berth, baseline, unit, ratio: Number(ratio.toFixed(3)), goal: goalText, met })}\n`);
}

export function format(value: number, unit: Figure['unit']): string {
  const shown = Number.isInteger(value) || value >= 1000 ? Math.round(value).toLocaleString('en') : value < 10 ? value.toFixed(2) : value.toFixed(1);
  return `${shown} ${unit}`;
}
