/**
 * Pre-signed download links. For files the service serves itself (the filesystem store): a link
 * names the video (or one artifact of it), the file name and an expiry time, all signed with
 * HMAC-SHA256 under a key every API process of the deployment shares (kept in the database,
 * sealed), so any of them can verify a link another one issued, and a link whose file name was
 * changed is refused like one whose expiry was. A store that serves downloads itself (S3:
 * `capabilities.presignedDownloads`) signs its own URLs instead, with the same expiry and the file
 * name in the response's Content-Disposition.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BlobKey } from './blob-keys.js';
import type { BlobStore } from './blob-store.js';

export type LinkVerdict = 'valid' | 'expired' | 'invalid';

export class DownloadLinkSigner {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new RangeError('the download signing key must have at least 32 bytes');
  }

  // The subject names what the link opens (a video's file, or one artifact of it) and under which
  // file name, so a signature for one can never open another. The name is percent-encoded so no
  // name can pass for another subject (it cannot contain the ':' that separates the parts).
  private signature(subject: string, fileName: string, expiresAtSeconds: number): string {
    return createHmac('sha256', this.key)
      .update(`download:${subject}:${encodeURIComponent(fileName)}:${expiresAtSeconds}`)
      .digest('base64url');
  }

  /** The path and query of a link to `videoId`'s file, valid until `expiresAt`. */
  sign(videoId: string, fileName: string, expiresAt: Date): string {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return `/api/downloads/${videoId}/${encodeURIComponent(fileName)}?expires=${expires}&signature=${this.signature(videoId, fileName, expires)}`;
  }

  /** The path and query of a link to one artifact of a video (a thumbnail, the web video, ...). */
  signArtifact(videoId: string, artifactId: string, fileName: string, expiresAt: Date): string {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    const signature = this.signature(artifactSubject(videoId, artifactId), fileName, expires);
    return `/api/downloads/${videoId}/artifacts/${artifactId}/${encodeURIComponent(fileName)}?expires=${expires}&signature=${signature}`;
  }

  verifyArtifact(
    link: { videoId: string; artifactId: string; fileName: string },
    expires: string | undefined,
    signature: string | undefined,
    now: Date,
  ): LinkVerdict {
    return this.check(artifactSubject(link.videoId, link.artifactId), link.fileName, expires, signature, now);
  }

  /** Checks a link to a video's file under the file name the link's path gives. */
  verify(
    link: { videoId: string; fileName: string },
    expires: string | undefined,
    signature: string | undefined,
    now: Date,
  ): LinkVerdict {
    return this.check(link.videoId, link.fileName, expires, signature, now);
  }

  private check(
    subject: string,
    fileName: string,
    expires: string | undefined,
    signature: string | undefined,
    now: Date,
  ): LinkVerdict {
    if (expires === undefined || signature === undefined || !/^[0-9]{1,12}$/.test(expires)) return 'invalid';
    const expected = Buffer.from(this.signature(subject, fileName, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    return Number(expires) * 1000 <= now.getTime() ? 'expired' : 'valid';
  }
}

function artifactSubject(videoId: string, artifactId: string): string {
  return `${videoId}/artifacts/${artifactId}`;
}

/** Whether a browser should show a file (images, MP4 video) or save it; the download routes use the same rule. */
export function dispositionFor(mimeType: string): 'inline' | 'attachment' {
  return mimeType.startsWith('image/') || mimeType === 'video/mp4' ? 'inline' : 'attachment';
}

/**
 * The store's own pre-signed URL for a file, or null when the service serves downloads itself
 * (then the caller issues a link with DownloadLinkSigner).
 */
export async function storePresignedUrl(
  store: BlobStore,
  key: BlobKey,
  file: { fileName: string; mimeType: string; signedAt: Date; expiresAt: Date },
): Promise<string | null> {
  if (!store.capabilities.presignedDownloads || !store.presignDownload) return null;
  return store.presignDownload(key, {
    fileName: file.fileName,
    contentType: file.mimeType,
    disposition: dispositionFor(file.mimeType),
    signedAt: file.signedAt,
    expiresAt: file.expiresAt,
  });
}
