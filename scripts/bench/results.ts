/**
 * What one benchmark run copies and what it measured, with the derived figures computed in one
 * place so reelin and aria2c rows use the same units: MB = 1e6 bytes, GB = 1e9 bytes.
 */

/** Per-connection throttle of the throttled runs: 5 MB/s. */
export const THROTTLE_BYTES_PER_SECOND = 5_000_000;

/** Throttled runs copy at most this many seconds' worth at the full throttled rate, so one connection does not take minutes. */
export const THROTTLED_RUN_SECONDS = 20;

import type { OriginTiming } from './origin-process.js';

export type Tool = 'reelin' | 'aria2c';

/** One file served by one origin process, with the checksum a copy of it must have. */
export interface CopyTarget {
  url: string;
  /** A few MiB of the same file, which reelin's service imports once, untimed, before its timed copy. */
  warmupUrl: string;
  originPort: number;
  sizeBytes: number;
  /** Per TLS connection; null when unthrottled. */
  throttleBytesPerSecond: number | null;
  /** CRC32C of the bytes served (unsigned). */
  crc32c: number;
  /** When the origin saw the copy's first range request and its last byte (since the previous call). */
  originTiming: () => Promise<OriginTiming>;
}

export interface RunResult {
  tool: Tool;
  /** Connections asked for. */
  connections: number;
  /** Connections the tool could use (aria2c allows at most 16 per server). */
  effectiveConnections: number;
  throttleBytesPerSecond: number | null;
  sizeBytes: number;
  seconds: number;
  mbPerSecond: number;
  cpuSeconds: number;
  cpuSecondsPerGb: number;
  /** Highest resident set seen: VmRSS sampled every 50 ms for reelin, GNU time's %M for aria2c. */
  peakRssMb: number;
  /** reelin only: the kernel's high-water mark (VmHWM) over the service's whole life. */
  hwmRssMb: number | null;
  /** reelin only: VmRSS right before the POST, so the copy's own share of the peak shows. */
  idleRssMb: number | null;
  /** Throttled runs: MB/s as a percentage of effective connections x throttle. */
  efficiencyPercent: number | null;
  /** 1-based repeat number. */
  attempt: number;
  /** reelin only: from sending the POST to the origin's first range request of the copy. */
  postToFirstRangeMs: number | null;
  /** reelin only: from the origin's last byte of the copy to the moment the service marked the import DONE. */
  lastByteToDoneMs: number | null;
}

export interface Measurement {
  tool: Tool;
  connections: number;
  effectiveConnections: number;
  target: CopyTarget;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  hwmRssMb: number | null;
  idleRssMb: number | null;
  attempt: number;
  postToFirstRangeMs?: number | null;
  lastByteToDoneMs?: number | null;
}

export function toRunResult(measured: Measurement): RunResult {
  const { target } = measured;
  const mbPerSecond = target.sizeBytes / 1e6 / measured.seconds;
  return {
    tool: measured.tool,
    connections: measured.connections,
    effectiveConnections: measured.effectiveConnections,
    throttleBytesPerSecond: target.throttleBytesPerSecond,
    sizeBytes: target.sizeBytes,
    seconds: measured.seconds,
    mbPerSecond,
    cpuSeconds: measured.cpuSeconds,
    cpuSecondsPerGb: measured.cpuSeconds / (target.sizeBytes / 1e9),
    peakRssMb: measured.peakRssMb,
    hwmRssMb: measured.hwmRssMb,
    idleRssMb: measured.idleRssMb,
    efficiencyPercent:
      target.throttleBytesPerSecond === null
        ? null
        : (100 * mbPerSecond) / ((measured.effectiveConnections * target.throttleBytesPerSecond) / 1e6),
    attempt: measured.attempt,
    postToFirstRangeMs: measured.postToFirstRangeMs ?? null,
    lastByteToDoneMs: measured.lastByteToDoneMs ?? null,
  };
}

/** Bytes a throttled run copies: what `connections` throttled connections move in THROTTLED_RUN_SECONDS, at most the file. */
export function throttledSizeBytes(fileSizeBytes: number, connections: number): number {
  return Math.min(fileSizeBytes, connections * THROTTLE_BYTES_PER_SECOND * THROTTLED_RUN_SECONDS);
}

/** A copy that does not match its source byte for byte fails the benchmark. */
export function checkCopy(label: string, actual: { sizeBytes: number; crc32c: number }, target: CopyTarget): void {
  if (actual.sizeBytes !== target.sizeBytes) {
    throw new Error(
      `${label} has ${actual.sizeBytes} bytes, but the source has ${target.sizeBytes}: the copy is wrong`,
    );
  }
  if (actual.crc32c !== target.crc32c) {
    throw new Error(
      `${label} has CRC32C ${formatCrc(actual.crc32c)}, but the source has ${formatCrc(target.crc32c)}: the copy holds different bytes`,
    );
  }
}

export function formatCrc(crc: number): string {
  return `0x${(crc >>> 0).toString(16).padStart(8, '0')}`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
