/**
 * What the ffmpeg analyses share: reading per-frame filter results that `metadata=mode=print`
 * writes to stdout, checking that the filters a graph needs exist, picking a deinterlacer, and
 * writing times the way ffmpeg's options take them.
 */
import type { MediaTools } from './ffmpeg-tools.js';

/** Seconds with microsecond precision, as ffmpeg's -ss expects. */
export function formatSeconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(6);
}

/** One frame's block of `metadata=mode=print` output. */
export interface PrintedFrame {
  frame: number;
  ptsTime: number | null;
  tags: Map<string, string>;
}

/** Parses `metadata=mode=print` output ("frame:N pts:P pts_time:T" then key=value lines) into frames. */
export function parseMetadataPrint(text: string): PrintedFrame[] {
  const frames: PrintedFrame[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    const header = /^frame:\s*(\d+)\s+pts:\s*\S+\s+pts_time:\s*(\S+)/.exec(line);
    if (header !== null) {
      const ptsTime = Number(header[2]);
      frames.push({ frame: Number(header[1]), ptsTime: Number.isFinite(ptsTime) ? ptsTime : null, tags: new Map() });
      continue;
    }
    const eq = line.indexOf('=');
    const current = frames.at(-1);
    if (eq > 0 && current !== undefined) current.tags.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return frames;
}

/** A finite number from a tag value; ffmpeg prints `nan`/`-nan`/`inf` for undefined measures. */
export function finiteTag(tags: ReadonlyMap<string, string>, key: string): number | null {
  const text = tags.get(key);
  if (text === undefined) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Throws one sentence naming the filters this ffmpeg lacks. */
export function requireFilters(tools: Pick<MediaTools, 'filters'>, names: readonly string[], purpose: string): void {
  const missing = names.filter((name) => !tools.filters.has(name));
  if (missing.length > 0) {
    throw new Error(
      `${purpose} needs the ffmpeg filter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this ffmpeg lacks: install an ffmpeg build that has ${missing.length > 1 ? 'them' : 'it'}`,
    );
  }
}

/** bwdif (better on motion), else yadif; throws when this ffmpeg has neither. */
export function chooseDeinterlaceFilter(tools: Pick<MediaTools, 'filters'>): string {
  if (tools.filters.has('bwdif')) return 'bwdif=mode=send_frame:parity=auto:deint=all';
  if (tools.filters.has('yadif')) return 'yadif=mode=send_frame:parity=auto:deint=all';
  throw new Error(
    'deinterlacing needs the ffmpeg filter bwdif or yadif, which this ffmpeg lacks: install an ffmpeg build that has one of them',
  );
}
