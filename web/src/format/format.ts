/** Figures as people read them: sizes in kB/MB/GB (decimal, as disks are sold), rates, durations, times. */

const sizeUnits = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < sizeUnits.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${sizeUnits[unit]}`;
}

export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds as `1 h 02 min`, `3 min 05 s` or `42 s`. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes > 0) return `${minutes} min ${String(rest).padStart(2, '0')} s`;
  return `${rest} s`;
}

/** A media duration in milliseconds as `m:ss.t` (or `h:mm:ss`). */
export function formatDuration(milliseconds: number | null | undefined): string {
  if (milliseconds === null || milliseconds === undefined) return '—';
  const totalSeconds = milliseconds / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${String(Math.floor(seconds)).padStart(2, '0')}`;
  return `${minutes}:${seconds.toFixed(1).padStart(4, '0')}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A CRC32C as the API gives it (an unsigned integer) in the 8 hex digits tools print. */
export function formatCrc32c(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/**
 * A CRC32C typed by a person: a decimal integer as the API takes it, or hex with `0x` (as tools
 * print it); null when neither (the text then goes to the API as typed, which words the error).
 */
export function parseCrc32c(text: string): number | null {
  const trimmed = text.trim();
  if (/^[0-9]{1,10}$/.test(trimmed)) return Number(trimmed);
  const hex = /^0x([0-9a-f]{1,8})$/i.exec(trimmed);
  return hex?.[1] === undefined ? null : Number.parseInt(hex[1], 16);
}
