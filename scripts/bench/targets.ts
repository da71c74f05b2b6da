/**
 * The copy targets from the issue, judged on the median of each configuration's runs:
 * (1) at equal connection counts reelin is at least as fast as aria2c;
 * (2) with throttled connections reelin reaches at least 90% of connections x 5 MB/s;
 * (3) reelin's peak RSS stays under 300 MB whatever the file size.
 */
import { formatConnections, formatThrottle } from './format.js';
import type { GroupSummary } from './summary.js';

export const MIN_THROTTLED_EFFICIENCY_PERCENT = 90;
export const MAX_PEAK_RSS_MB = 300;

export interface TargetCheck {
  holds: boolean;
  detail: string;
}

export interface TargetResult {
  id: 1 | 2 | 3;
  description: string;
  /** null: nothing was run that this target could be judged on. */
  holds: boolean | null;
  checks: TargetCheck[];
  notes: string[];
}

export function evaluateTargets(summary: readonly GroupSummary[]): TargetResult[] {
  const reelin = summary.filter((group) => group.tool === 'reelin');
  return [
    speedTarget(
      reelin,
      summary.filter((group) => group.tool === 'aria2c'),
    ),
    throttledTarget(reelin),
    memoryTarget(reelin),
  ];
}

function verdict(checks: readonly TargetCheck[]): boolean | null {
  return checks.length === 0 ? null : checks.every((check) => check.holds);
}

function speedTarget(reelin: readonly GroupSummary[], aria2: readonly GroupSummary[]): TargetResult {
  const checks: TargetCheck[] = [];
  const notes: string[] = [];
  for (const ours of reelin) {
    const theirs = aria2.find(
      (group) => group.connections === ours.connections && group.throttleBytesPerSecond === ours.throttleBytesPerSecond,
    );
    if (theirs === undefined) continue;
    const label = `${ours.connections} conns, throttle ${formatThrottle(ours.throttleBytesPerSecond)}`;
    // A throttled aria2c held below reelin's connection count is limited by the throttle, not by
    // its own speed: comparing the two would flatter reelin.
    if (ours.throttleBytesPerSecond !== null && theirs.effectiveConnections !== ours.effectiveConnections) {
      notes.push(
        `${label}: not judged, aria2c ran with ${formatConnections(theirs)} connections, so the throttle alone makes it slower`,
      );
      continue;
    }
    const capped =
      theirs.effectiveConnections !== ours.effectiveConnections
        ? ` (aria2c capped at ${theirs.effectiveConnections})`
        : '';
    checks.push({
      holds: ours.medianMbPerSecond >= theirs.medianMbPerSecond,
      detail: `${label}: reelin ${ours.medianMbPerSecond.toFixed(1)} MB/s vs aria2c ${theirs.medianMbPerSecond.toFixed(1)} MB/s${capped}`,
    });
  }
  return {
    id: 1,
    description: 'at equal connection counts reelin is at least as fast as aria2c',
    holds: verdict(checks),
    checks,
    notes,
  };
}

function throttledTarget(reelin: readonly GroupSummary[]): TargetResult {
  const checks = reelin
    .filter((group) => group.medianEfficiencyPercent !== null)
    .map((group) => ({
      holds: (group.medianEfficiencyPercent ?? 0) >= MIN_THROTTLED_EFFICIENCY_PERCENT,
      detail: `${group.connections} conns x ${formatThrottle(group.throttleBytesPerSecond)}: ${group.medianMbPerSecond.toFixed(1)} MB/s = ${(group.medianEfficiencyPercent ?? 0).toFixed(1)}% of ${((group.connections * (group.throttleBytesPerSecond ?? 0)) / 1e6).toFixed(0)} MB/s`,
    }));
  return {
    id: 2,
    description: `with throttled connections reelin reaches at least ${MIN_THROTTLED_EFFICIENCY_PERCENT}% of connections x 5 MB/s`,
    holds: verdict(checks),
    checks,
    notes: [],
  };
}

function memoryTarget(reelin: readonly GroupSummary[]): TargetResult {
  const checks = reelin.map((group) => ({
    holds: group.maxRssMb < MAX_PEAK_RSS_MB,
    detail: `${group.connections} conns, throttle ${formatThrottle(group.throttleBytesPerSecond)}, ${(group.sizeBytes / 1e6).toFixed(0)} MB: peak ${group.maxRssMb.toFixed(1)} MB`,
  }));
  const notes = [
    'judged on the higher of the sampled VmRSS peak and VmHWM (which also covers start-up); compare runs of different --size-mib to see that it does not grow with the file',
  ];
  return {
    id: 3,
    description: `reelin's peak RSS stays under ${MAX_PEAK_RSS_MB} MB`,
    holds: verdict(checks),
    checks,
    notes,
  };
}
