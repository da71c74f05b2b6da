/**
 * Strict parsing of the `Content-Range` response header (RFC 9110, section 14.4), hand-written
 * because the usual libraries parse the request's `Range` header, not this one, and a copy that
 * trusts a loosely parsed range writes bytes to the wrong place.
 */

export interface ContentRange {
  /** First byte position, inclusive. */
  start: number;
  /** Last byte position, inclusive. */
  end: number;
  /** Complete length of the representation; null when the server sent `*`. */
  totalBytes: number | null;
}

export interface UnsatisfiedContentRange {
  /** From `bytes * /<length>`, sent with 416 responses. */
  totalBytes: number;
}

const digits = /^[0-9]{1,16}$/;
const rangePattern = /^bytes[ ]+([0-9]+)-([0-9]+)\/([0-9]+|\*)$/i;
const unsatisfiedPattern = /^bytes[ ]+\*\/([0-9]+)$/i;

function parsePosition(text: string): number | null {
  if (!digits.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** Parses `bytes <first>-<last>/<complete-length or *>`; returns null for anything else. */
export function parseContentRange(header: string | null | undefined): ContentRange | null {
  if (header === null || header === undefined) return null;
  const match = rangePattern.exec(header.trim());
  if (!match) return null;
  const start = parsePosition(match[1] ?? '');
  const end = parsePosition(match[2] ?? '');
  if (start === null || end === null || end < start) return null;
  if (match[3] === '*') return { start, end, totalBytes: null };
  const totalBytes = parsePosition(match[3] ?? '');
  if (totalBytes === null || end >= totalBytes) return null;
  return { start, end, totalBytes };
}

/** Parses the `bytes * /<complete-length>` form of a 416 response; null for anything else. */
export function parseUnsatisfiedContentRange(header: string | null | undefined): UnsatisfiedContentRange | null {
  if (header === null || header === undefined) return null;
  const match = unsatisfiedPattern.exec(header.trim());
  if (!match) return null;
  const totalBytes = parsePosition(match[1] ?? '');
  return totalBytes === null ? null : { totalBytes };
}

/** The request header for an inclusive byte range. */
export function formatRangeHeader(start: number, end: number): string {
  return `bytes=${start}-${end}`;
}
