/**
 * The benchmark's report: a table of every run, the best and median per configuration, the
 * targets with HOLDS / MISSED, and one machine-readable `BENCH_RESULT {...}` line.
 */
import { fixed, formatConnections, formatThrottle } from './format.js';
import type { RunResult } from './results.js';
import { summarize, type GroupSummary } from './summary.js';
import { evaluateTargets, type TargetResult } from './targets.js';

export interface ReportContext {
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  notes: string[];
}

export function printReport(runs: readonly RunResult[], context: ReportContext): void {
  const summary = summarize(runs);
  const targets = evaluateTargets(summary);
  console.log('\nRuns (MB = 1e6 bytes; CPU s/GB = CPU seconds of the copying process per 1e9 bytes):\n');
  console.log(formatTable(runColumns, runs.map(runRow)));
  if (runs.some((run) => run.attempt > 1)) {
    console.log('\nBest and median per configuration:\n');
    console.log(formatTable(summaryColumns, summary.map(summaryRow)));
  }
  for (const note of context.notes) console.log(`note: ${note}`);
  console.log('\nTargets:');
  for (const target of targets) printTarget(target);
  const result = { ...context, runs: runs.map(roundNumbers), summary: summary.map(roundNumbers), targets };
  console.log(`\nBENCH_RESULT ${JSON.stringify(result)}`);
}

function printTarget(target: TargetResult): void {
  const verdict = target.holds === null ? 'NOT RUN' : target.holds ? 'HOLDS' : 'MISSED';
  console.log(`  (${target.id}) ${target.description}: ${verdict}`);
  for (const check of target.checks) console.log(`      ${check.holds ? 'ok    ' : 'MISSED'} ${check.detail}`);
  for (const note of target.notes) console.log(`      note: ${note}`);
}

type Row = string[];

const runColumns = [
  'tool',
  'conns',
  'throttle',
  'size MB',
  'seconds',
  'MB/s',
  'CPU s/GB',
  'idle RSS MB',
  'peak RSS MB',
  'VmHWM MB',
  'efficiency',
  'POST→range ms',
  'last byte→DONE ms',
];
const summaryColumns = [
  'tool',
  'conns',
  'throttle',
  'size MB',
  'runs',
  'best MB/s',
  'median MB/s',
  'median s',
  'median CPU s/GB',
  'max RSS MB',
  'median efficiency',
  'median POST→range ms',
  'median last byte→DONE ms',
];

function runRow(run: RunResult): Row {
  return [
    run.tool,
    formatConnections(run),
    formatThrottle(run.throttleBytesPerSecond),
    fixed(run.sizeBytes / 1e6, 1),
    fixed(run.seconds, 2),
    fixed(run.mbPerSecond, 1),
    fixed(run.cpuSecondsPerGb, 2),
    run.idleRssMb === null ? '-' : fixed(run.idleRssMb, 1),
    fixed(run.peakRssMb, 1),
    run.hwmRssMb === null ? '-' : fixed(run.hwmRssMb, 1),
    run.efficiencyPercent === null ? '-' : `${fixed(run.efficiencyPercent, 1)}%`,
    run.postToFirstRangeMs === null ? '-' : String(run.postToFirstRangeMs),
    run.lastByteToDoneMs === null ? '-' : String(run.lastByteToDoneMs),
  ];
}

function summaryRow(group: GroupSummary): Row {
  return [
    group.tool,
    formatConnections(group),
    formatThrottle(group.throttleBytesPerSecond),
    fixed(group.sizeBytes / 1e6, 1),
    String(group.runs),
    fixed(group.bestMbPerSecond, 1),
    fixed(group.medianMbPerSecond, 1),
    fixed(group.medianSeconds, 2),
    fixed(group.medianCpuSecondsPerGb, 2),
    fixed(group.maxRssMb, 1),
    group.medianEfficiencyPercent === null ? '-' : `${fixed(group.medianEfficiencyPercent, 1)}%`,
    group.medianPostToFirstRangeMs === null ? '-' : fixed(group.medianPostToFirstRangeMs, 0),
    group.medianLastByteToDoneMs === null ? '-' : fixed(group.medianLastByteToDoneMs, 0),
  ];
}

/** Left-aligned text columns, right-aligned figures. */
function formatTable(columns: readonly string[], rows: readonly Row[]): string {
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const isText = (index: number) => index < 3;
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (isText(index) ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!)))
      .join('  ');
  return [line(columns), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** Rounds the figures of the JSON line to 3 decimals (microsecond noise is not information). */
function roundNumbers<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).map(([key, entry]) => [
      key,
      typeof entry === 'number' ? Math.round(entry * 1000) / 1000 : entry,
    ]),
  ) as T;
}
