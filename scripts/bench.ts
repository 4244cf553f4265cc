// `npm run bench`: runs every benchmark under bench/ one after the other (each in its own process,
// as `npx tsx bench/<name>.ts` would), shows their output as it comes, and ends with one table of
// the figures they reported through bench/report.ts. `npm run bench -- gc throughput` runs those only.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { format, type Figure } from '../bench/report.js';

interface Reported {
  figure: string;
  berth: number;
  baseline: number;
  unit: Figure['unit'];
  ratio: number;
  goal: string;
  met: boolean;
}

interface Outcome {
  script: string;
  figures: Reported[];
  exitCode: number | null;
  seconds: number;
}

const BENCH_DIR = path.resolve('bench');
/** Modules that benchmarks import; everything else at the top of bench/ is a benchmark. */
const NOT_BENCHMARKS = new Set(['report.ts']);

const only = process.argv.slice(2);
const scripts = (await readdir(BENCH_DIR, { withFileTypes: true }))
  .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !NOT_BENCHMARKS.has(entry.name))
  .map((entry) => entry.name)
  .filter((name) => only.length === 0 || only.includes(name.replace(/\.ts$/, '')))
  .sort();
if (scripts.length === 0) {
  console.error(`no benchmark under bench/ matches ${only.join(', ')}`);
  process.exit(1);
}

const outcomes: Outcome[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script} ===\n`);
  outcomes.push(await runBenchmark(script));
}
printTable(outcomes);
process.exit(outcomes.every((outcome) => outcome.exitCode === 0) ? 0 : 1);

function runBenchmark(script: string): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, script)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const figures: Reported[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    console.log(line);
    if (line.startsWith('BENCH ')) figures.push(JSON.parse(line.slice('BENCH '.length)) as Reported);
  });
  return new Promise((resolve) => {
    child.on('close', (exitCode) => resolve({ script, figures, exitCode, seconds: (performance.now() - started) / 1000 }));
  });
}

function printTable(outcomes: Outcome[]): void {
  const rows: string[][] = [['figure', 'berth', 'baseline', 'ratio', 'goal', '']];
  for (const { script, figures, exitCode, seconds } of outcomes) {
    for (const f of figures) rows.push([f.figure, format(f.berth, f.unit), format(f.baseline, f.unit), f.ratio.toFixed(2), f.goal, f.met ? 'met' : 'NOT met']);
    if (exitCode !== 0) rows.push([`bench/${script} failed (exit ${exitCode}) after ${seconds.toFixed(0)} s`, '', '', '', '', '']);
    else if (figures.length === 0) rows.push([`bench/${script}: no figure reported through bench/report.ts (see its output above)`, '', '', '', '', '']);
  }
  console.log('\n| ' + rows[0]!.join(' | ') + ' |');
  console.log('| ' + rows[0]!.map(() => '---').join(' | ') + ' |');
  for (const row of rows.slice(1)) console.log('| ' + row.join(' | ') + ' |');
}
