/**
 * Runs grouped by configuration (tool, connection count, throttle) with their best and median
 * figures: what the report's second table and the targets are judged on.
 */
import { median, type RunResult, type Tool } from './results.js';

export interface GroupSummary {
  tool: Tool;
  connections: number;
  effectiveConnections: number;
  throttleBytesPerSecond: number | null;
  sizeBytes: number;
  runs: number;
  bestMbPerSecond: number;
  medianMbPerSecond: number;
  medianSeconds: number;
  medianCpuSecondsPerGb: number;
  /** The highest of every run's peak (and, for reelin, VmHWM): the figure the memory target uses. */
  maxRssMb: number;
  medianEfficiencyPercent: number | null;
  /** reelin only: medians of the fixed costs at both ends of the copy. */
  medianPostToFirstRangeMs: number | null;
  medianLastByteToDoneMs: number | null;
}

/** Groups runs by tool, connection count, throttle and size, in the order they first ran. */
export function summarize(runs: readonly RunResult[]): GroupSummary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.tool}|${run.connections}|${run.throttleBytesPerSecond ?? 0}|${run.sizeBytes}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const efficiencies = group.map((run) => run.efficiencyPercent).filter((value): value is number => value !== null);
    return {
      tool: first.tool,
      connections: first.connections,
      effectiveConnections: first.effectiveConnections,
      throttleBytesPerSecond: first.throttleBytesPerSecond,
      sizeBytes: first.sizeBytes,
      runs: group.length,
      bestMbPerSecond: Math.max(...group.map((run) => run.mbPerSecond)),
      medianMbPerSecond: median(group.map((run) => run.mbPerSecond)),
      medianSeconds: median(group.map((run) => run.seconds)),
      medianCpuSecondsPerGb: median(group.map((run) => run.cpuSecondsPerGb)),
      maxRssMb: Math.max(...group.map((run) => Math.max(run.peakRssMb, run.hwmRssMb ?? 0))),
      medianEfficiencyPercent: efficiencies.length > 0 ? median(efficiencies) : null,
      medianPostToFirstRangeMs: medianOf(group.map((run) => run.postToFirstRangeMs)),
      medianLastByteToDoneMs: medianOf(group.map((run) => run.lastByteToDoneMs)),
    };
  });
}

function medianOf(values: readonly (number | null)[]): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length > 0 ? median(known) : null;
}
