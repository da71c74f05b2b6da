/**
 * Pre-signed download links for files the service serves itself (the filesystem store). A link
 * names the video and an expiry time, signed with HMAC-SHA256 under a key every API process of the
 * deployment shares (kept in the database), so any of them can verify a link another one issued.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type LinkVerdict = 'valid' | 'expired' | 'invalid';

export class DownloadLinkSigner {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new RangeError('the download signing key must have at least 32 bytes');
  }

  private signature(videoId: string, expiresAtSeconds: number): string {
    return createHmac('sha256', this.key).update(`download:${videoId}:${expiresAtSeconds}`).digest('base64url');
  }

  /** The path and query of a link to `videoId`'s file, valid until `expiresAt`. */
  sign(videoId: string, fileName: string, expiresAt: Date): string {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return `/api/downloads/${videoId}/${encodeURIComponent(fileName)}?expires=${expires}&signature=${this.signature(videoId, expires)}`;
  }

  verify(videoId: string, expires: string | undefined, signature: string | undefined, now: Date): LinkVerdict {
    if (expires === undefined || signature === undefined || !/^[0-9]{1,12}$/.test(expires)) return 'invalid';
    const expected = Buffer.from(this.signature(videoId, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    return Number(expires) * 1000 <= now.getTime() ? 'expired' : 'valid';
  }
}
