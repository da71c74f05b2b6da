/** Number formatting shared by the report's tables and the targets' sentences. */

export function formatConnections(run: { connections: number; effectiveConnections: number }): string {
  return run.effectiveConnections === run.connections
    ? String(run.connections)
    : `${run.effectiveConnections} (of ${run.connections})`;
}

export function formatThrottle(bytesPerSecond: number | null): string {
  return bytesPerSecond === null ? 'none' : `${fixed(bytesPerSecond / 1e6, 0)} MB/s/conn`;
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}
