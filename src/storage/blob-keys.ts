/**
 * Storage keys. Every key is built here, from ids, never from user text, and checked so that no
 * key can name a path outside the store (`..`, absolute paths, NUL, backslashes).
 */

export type BlobKey = string & { readonly __brand: 'BlobKey' };

const segmentPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a key made of `/`-separated safe segments; throws for anything else. */
export function toBlobKey(text: string): BlobKey {
  if (text.length === 0 || text.length > 1024) throw new TypeError('a storage key must be 1..1024 characters');
  const segments = text.split('/');
  for (const segment of segments) {
    if (segment === '.' || segment === '..' || !segmentPattern.test(segment)) {
      throw new TypeError(`unsafe storage key segment ${JSON.stringify(segment)} in ${JSON.stringify(text)}`);
    }
  }
  return text as BlobKey;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkId(name: string, value: string): string {
  if (!uuidPattern.test(value)) throw new TypeError(`${name} must be a lower-case UUID, got ${JSON.stringify(value)}`);
  return value;
}

/** The key of a video's source file (the copied master, or a cut clip). */
export function videoSourceKey(teamId: string, videoId: string): BlobKey {
  return toBlobKey(`teams/${checkId('teamId', teamId)}/videos/${checkId('videoId', videoId)}/source`);
}

/** The prefix under which everything of one video is stored. */
export function videoPrefix(teamId: string, videoId: string): BlobKey {
  return toBlobKey(`teams/${checkId('teamId', teamId)}/videos/${checkId('videoId', videoId)}`);
}

/** The key of a file ingestion made for a video (`thumbnails/0003.jpg`, `web.mp4`, ...). */
export function videoArtifactKey(teamId: string, videoId: string, name: string): BlobKey {
  return toBlobKey(`${videoPrefix(teamId, videoId)}/artifacts/${name}`);
}
