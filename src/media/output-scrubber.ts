/**
 * Scrubs what ffmpeg and ffprobe print before any of it is shown to a user (an ingestion's or a
 * clip's `error.message` and `error.details.stderrTail`). Their output names the file they read
 * (a path under the data folder, or the store's pre-signed URL with its signature and access key),
 * the work folder they write to, and pointers into their memory; none of that is the user's to see.
 * The operator's log keeps the full text. What comes out can be stored: a NUL character (which a
 * file's own metadata can put into ffmpeg's output) becomes U+FFFD, as the database requires.
 *
 * Hand-written because the job is narrow and specific to ffmpeg's messages: URLs of any scheme go
 * first (they contain paths), then signed query parameters and access key ids that survive without
 * their URL (a tail cut in the middle of one), then absolute paths, then pointers.
 */
import { storableText } from '../domain/stored-text.js';

/**
 * The rest of a token: anything up to a space or quote, not ending in the punctuation that follows
 * a name in ffmpeg's messages (`<file>: Invalid data`).
 */
const REST = `(?:[^\\s'"<>]*[^\\s'"<>:.,;)\\]])?`;
/** Every URL, whatever its scheme: `https://...`, `file://...`, `rtmp://...`. */
const URL_PATTERN = new RegExp(`\\b[a-z][a-z0-9+.-]*://${REST}`, 'gi');
/** `file:` inputs without slashes after the scheme (`file:relative/name`, `file:/abs`). */
const FILE_PROTOCOL_PATTERN = new RegExp(`\\bfile:${REST}`, 'gi');
/** Query parameters that carry signatures, credentials or tokens, wherever they appear. */
const SIGNED_PARAMETER_PATTERN =
  /\b(X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature|Expires|x-id|token|sig|se|sp|sv|sr)=[^\s&'"<>:]*/gi;
/** AWS access key ids (long-term and temporary). */
const ACCESS_KEY_PATTERN = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** An absolute path: a `/` at the start of a token (after a space, quote, `=`, `(`, `[`, `,` or `:`). */
const ABSOLUTE_PATH_PATTERN = new RegExp(`(^|[\\s'"=(:[,])/[^\\s'"<>,:\\]]${REST}`, 'g');
/**
 * Pointers in ffmpeg's log prefixes (`[h264 @ 0x55d0c3a1b2c0]`): 64-bit addresses have more digits
 * than the 8 of a codec tag (`avc1 / 0x31637661`), which stays.
 */
const POINTER_PATTERN = /\b0x[0-9a-f]{9,}\b/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface KnownText {
  /** A folder to hide wherever it appears, with whatever path follows it (the data folder, the work folder). */
  text: string;
  /** What is shown instead, e.g. `<work dir>`. */
  label: string;
}

/** `text` with every URL, signed parameter, access key id, absolute path and pointer replaced. */
export function scrubMediaText(text: string, known: readonly KnownText[] = []): string {
  let scrubbed = text;
  // Longest first: the work folder usually lies inside the data folder. Configured folders may
  // contain spaces, which the general path pattern would stop at.
  for (const item of [...known]
    .filter((entry) => entry.text.length > 1)
    .sort((a, b) => b.text.length - a.text.length)) {
    scrubbed = scrubbed.replace(new RegExp(`${escapeRegExp(item.text)}(?:/${REST})?`, 'g'), item.label);
  }
  return storableText(scrubbed)
    .replace(URL_PATTERN, '<url>')
    .replace(FILE_PROTOCOL_PATTERN, '<path>')
    .replace(SIGNED_PARAMETER_PATTERN, (_match, name: string) => `${name}=<redacted>`)
    .replace(ACCESS_KEY_PATTERN, '<credential>')
    .replace(ABSOLUTE_PATH_PATTERN, (_match, before: string) => `${before}<path>`)
    .replace(POINTER_PATTERN, '0x?');
}

/** A failure's details with every string in them scrubbed (nested objects and arrays too). */
export function scrubDetails(
  details: Record<string, unknown>,
  known: readonly KnownText[] = [],
): Record<string, unknown> {
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') return scrubMediaText(value, known);
    if (Array.isArray(value)) return value.map(scrub);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, scrub(inner)]));
    return value;
  };
  return scrub(details) as Record<string, unknown>;
}
