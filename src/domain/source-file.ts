/**
 * What the service records about a source file from its URL and the probe's headers: the file
 * name, the MIME type and container name shown before ingestion, and the validator used in
 * `If-Range` so a copy notices when the file changes under it.
 */

import { parseHttpDate } from './http-date.js';

const containers: Record<string, { mimeType: string; containerName: string }> = {
  mp4: { mimeType: 'video/mp4', containerName: 'MPEG-4' },
  m4v: { mimeType: 'video/x-m4v', containerName: 'MPEG-4' },
  mov: { mimeType: 'video/quicktime', containerName: 'QuickTime' },
  qt: { mimeType: 'video/quicktime', containerName: 'QuickTime' },
  mxf: { mimeType: 'application/mxf', containerName: 'MXF' },
  mkv: { mimeType: 'video/x-matroska', containerName: 'Matroska' },
  webm: { mimeType: 'video/webm', containerName: 'WebM' },
  avi: { mimeType: 'video/x-msvideo', containerName: 'AVI' },
  ts: { mimeType: 'video/mp2t', containerName: 'MPEG-TS' },
  m2ts: { mimeType: 'video/mp2t', containerName: 'MPEG-TS' },
  mts: { mimeType: 'video/mp2t', containerName: 'MPEG-TS' },
  mpg: { mimeType: 'video/mpeg', containerName: 'MPEG-PS' },
  mpeg: { mimeType: 'video/mpeg', containerName: 'MPEG-PS' },
  vob: { mimeType: 'video/mpeg', containerName: 'MPEG-PS' },
  flv: { mimeType: 'video/x-flv', containerName: 'FLV' },
  wmv: { mimeType: 'video/x-ms-wmv', containerName: 'ASF' },
  '3gp': { mimeType: 'video/3gpp', containerName: '3GPP' },
  y4m: { mimeType: 'video/x-yuv4mpeg', containerName: 'YUV4MPEG2' },
  dv: { mimeType: 'video/x-dv', containerName: 'DV' },
};

const MAX_FILE_NAME_LENGTH = 255;

/** Shortens a file name to `max` UTF-16 units without splitting a character, keeping its extension. */
function truncateFileName(fileName: string, max = MAX_FILE_NAME_LENGTH): string {
  if (fileName.length <= max) return fileName;
  const dot = fileName.lastIndexOf('.');
  const extension = dot > 0 && fileName.length - dot <= 16 ? fileName.slice(dot) : '';
  let base = '';
  for (const character of fileName.slice(0, fileName.length - extension.length)) {
    if (base.length + character.length + extension.length > max) break;
    base += character;
  }
  return `${base}${extension}`;
}

/** Removes what must not be in a file name: path separators, control characters, surrounding blanks. */
function sanitizeFileName(text: string): string {
  return (
    text
      .normalize('NFC')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f/\\]+/g, '_')
      .trim()
  );
}

/** `name` as a file name: ASCII letters, digits, dots, dashes and underscores. */
export function normalizeNameAsFileName(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[._]+|_+$/g, '')
    .slice(0, MAX_FILE_NAME_LENGTH);
  return ascii === '' ? 'video' : ascii;
}

/** The file name for an import: the given one, else the URL's last path segment, else the normalized `name`. */
export function chooseFileName(options: { fileName?: string | undefined; url: URL; name: string }): string {
  if (options.fileName !== undefined) return options.fileName;
  const lastSegment = options.url.pathname.split('/').pop() ?? '';
  let decoded = lastSegment;
  try {
    decoded = decodeURIComponent(lastSegment);
  } catch {
    decoded = lastSegment;
  }
  const fromUrl = sanitizeFileName(decoded);
  if (fromUrl === '') return normalizeNameAsFileName(options.name);
  // A segment that is only an extension (".mp4") names the type of the file, not the file.
  const onlyExtension = /^\.+([^.]*)$/.exec(fromUrl);
  if (onlyExtension)
    return truncateFileName(
      `${normalizeNameAsFileName(options.name)}${onlyExtension[1] ? `.${onlyExtension[1]}` : ''}`,
    );
  // Leading dots would make a hidden file on the user's disk.
  return truncateFileName(fromUrl.replace(/^[.\s]+/, ''));
}

export function fileExtension(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot <= 0 || dot === fileName.length - 1 ? '' : fileName.slice(dot + 1).toLowerCase();
}

/** The file name without its extension (`master.final.mov` → `master.final`). */
export function fileStem(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot <= 0 ? fileName : fileName.slice(0, dot);
}

/** MIME type and container by extension, then the server's Content-Type when it names a video. */
export function describeFileType(
  fileName: string,
  contentType: string | null,
): { mimeType: string; containerName: string | null } {
  const known = containers[fileExtension(fileName)];
  if (known) return known;
  const essence = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (/^(video|audio)\/[a-z0-9.+-]+$/.test(essence) || essence === 'application/mxf')
    return { mimeType: essence, containerName: null };
  return { mimeType: 'application/octet-stream', containerName: null };
}

/** True for a strong entity tag (`"abc"`); weak ones (`W/"abc"`) cannot be used in If-Range. */
export function isStrongEtag(etag: string | null): etag is string {
  return etag !== null && /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(etag);
}

/** The `If-Range` validator: the strong ETag, else Last-Modified, else none. */
export function ifRangeValidator(source: { etag: string | null; lastModified: string | null }): string | null {
  if (isStrongEtag(source.etag)) return source.etag;
  return source.lastModified;
}

/** An HTTP-date as an RFC 3339 timestamp, or null when unreadable. */
export function httpDateToIso(value: string | null): string | null {
  const ms = value === null ? null : parseHttpDate(value);
  return ms === null ? null : new Date(ms).toISOString();
}
