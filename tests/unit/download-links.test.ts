import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DownloadLinkSigner } from '../../src/storage/download-links.js';

const key = Buffer.alloc(32, 7);
const videoId = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
const otherVideoId = '0b7e1c2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d';
const expiresAt = new Date('2026-11-28T10:15:00.000Z');
const expiresSeconds = String(expiresAt.getTime() / 1000);
const before = new Date('2026-11-28T10:00:00.000Z');

function queryOf(link: string): { expires: string | undefined; signature: string | undefined } {
  const url = new URL(link, 'https://reelin.example.com');
  return {
    expires: url.searchParams.get('expires') ?? undefined,
    signature: url.searchParams.get('signature') ?? undefined,
  };
}

/** Flips one character of a base64url string to another valid one. */
function flipFirstCharacter(text: string): string {
  return `${text[0] === 'A' ? 'B' : 'A'}${text.slice(1)}`;
}

describe('DownloadLinkSigner.sign', () => {
  const signer = new DownloadLinkSigner(key);

  it('builds the download path with the expiry in whole seconds and an HMAC-SHA256 signature', () => {
    const expectedSignature = createHmac('sha256', key)
      .update(`download:${videoId}:clip.mp4:${expiresSeconds}`)
      .digest('base64url');
    expect(signer.sign(videoId, 'clip.mp4', expiresAt)).toBe(
      `/api/downloads/${videoId}/clip.mp4?expires=1795860900&signature=${expectedSignature}`,
    );
    expect(expectedSignature).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('percent-encodes the file name', () => {
    const link = signer.sign(videoId, 'my clip/../#1?.mp4', expiresAt);
    expect(link.startsWith(`/api/downloads/${videoId}/my%20clip%2F..%2F%231%3F.mp4?expires=`)).toBe(true);
  });

  it('rounds a fractional expiry down to the second', () => {
    const { expires } = queryOf(signer.sign(videoId, 'a.mp4', new Date(expiresAt.getTime() + 999)));
    expect(expires).toBe(expiresSeconds);
  });

  it('covers the file name: links to one file under two names have different signatures', () => {
    expect(queryOf(signer.sign(videoId, 'a.mp4', expiresAt)).signature).not.toBe(
      queryOf(signer.sign(videoId, 'b.mov', expiresAt)).signature,
    );
  });

  it('signs the percent-encoded file name, so a name cannot pass for another subject', () => {
    const expectedSignature = createHmac('sha256', key)
      .update(`download:${videoId}:a%3A1.mp4:${expiresSeconds}`)
      .digest('base64url');
    expect(queryOf(signer.sign(videoId, 'a:1.mp4', expiresAt)).signature).toBe(expectedSignature);
  });
});

describe('DownloadLinkSigner.verify', () => {
  const signer = new DownloadLinkSigner(key);
  const { expires, signature } = queryOf(signer.sign(videoId, 'clip.mp4', expiresAt));

  it('accepts its own link before the expiry', () => {
    expect(verifyAt(before)).toBe('valid');
    expect(verifyAt(new Date(expiresAt.getTime() - 1))).toBe('valid');
  });

  it('answers expired at and after the expiry', () => {
    expect(verifyAt(expiresAt)).toBe('expired');
    expect(verifyAt(new Date(expiresAt.getTime() + 86_400_000))).toBe('expired');
  });

  it('accepts a link signed by another signer with the same key', () => {
    expect(
      new DownloadLinkSigner(Buffer.from(key)).verify({ videoId, fileName: 'clip.mp4' }, expires, signature, before),
    ).toBe('valid');
  });

  it('rejects a link signed with another key', () => {
    const other = new DownloadLinkSigner(Buffer.alloc(32, 8));
    expect(other.verify({ videoId, fileName: 'clip.mp4' }, expires, signature, before)).toBe('invalid');
  });

  it('rejects the link for another video', () => {
    expect(signer.verify({ videoId: otherVideoId, fileName: 'clip.mp4' }, expires, signature, before)).toBe('invalid');
  });

  it.each([
    ['another name', 'other.mp4'],
    ['a name with a character more', 'clip.mp4 '],
    ['the name in another case', 'CLIP.mp4'],
  ])('rejects the link under %s', (_label, fileName) => {
    expect(signer.verify({ videoId, fileName }, expires, signature, before)).toBe('invalid');
  });

  it('rejects a tampered signature', () => {
    expect(signer.verify({ videoId, fileName: 'clip.mp4' }, expires, flipFirstCharacter(signature ?? ''), before)).toBe(
      'invalid',
    );
  });

  it('rejects a truncated or extended signature', () => {
    expect(signer.verify({ videoId, fileName: 'clip.mp4' }, expires, signature?.slice(0, -1), before)).toBe('invalid');
    expect(signer.verify({ videoId, fileName: 'clip.mp4' }, expires, `${signature}A`, before)).toBe('invalid');
  });

  it('rejects an extended expiry, even when the link would still be valid then', () => {
    expect(signer.verify({ videoId, fileName: 'clip.mp4' }, String(Number(expires) + 3600), signature, before)).toBe(
      'invalid',
    );
  });

  it('rejects a tampered expiry rather than calling the link expired', () => {
    expect(
      signer.verify(
        { videoId, fileName: 'clip.mp4' },
        String(Number(expires) - 3600),
        signature,
        new Date(expiresAt.getTime() + 1),
      ),
    ).toBe('invalid');
  });

  it.each([
    ['a missing expiry', { expires: undefined }],
    ['a missing signature', { signature: undefined }],
    ['an empty expiry', { expires: '' }],
    ['an empty signature', { signature: '' }],
    ['a negative expiry', { expires: '-1' }],
    ['a fractional expiry', { expires: `${expiresSeconds}.5` }],
    ['an expiry in exponent notation', { expires: '1.7958609e9' }],
    ['an expiry of 13 digits', { expires: `${expiresSeconds}000` }],
  ])('rejects %s', (_label, change: { expires?: string | undefined; signature?: string | undefined }) => {
    const query = { expires, signature, ...change };
    expect(signer.verify({ videoId, fileName: 'clip.mp4' }, query.expires, query.signature, before)).toBe('invalid');
  });

  function verifyAt(now: Date): string {
    return signer.verify({ videoId, fileName: 'clip.mp4' }, expires, signature, now);
  }
});

describe('DownloadLinkSigner key', () => {
  it('rejects a key shorter than 32 bytes', () => {
    expect(() => new DownloadLinkSigner(Buffer.alloc(31))).toThrow(
      new RangeError('the download signing key must have at least 32 bytes'),
    );
    expect(() => new DownloadLinkSigner(Buffer.alloc(0))).toThrow(RangeError);
  });

  it('accepts a key of 32 bytes or more', () => {
    expect(new DownloadLinkSigner(Buffer.alloc(32)).sign(videoId, 'a', expiresAt)).toMatch(/^\/api\/downloads\//);
    expect(new DownloadLinkSigner(Buffer.alloc(64, 1)).sign(videoId, 'a', expiresAt)).toMatch(/^\/api\/downloads\//);
  });
});

describe('DownloadLinkSigner artifacts', () => {
  const signer = new DownloadLinkSigner(key);
  const artifactId = '6d1f0a3e-2b4c-4d5e-8f60-718293a4b5c6';
  const { expires, signature } = queryOf(signer.signArtifact(videoId, artifactId, 'thumbnail-01.webp', expiresAt));

  it('signs the exact subject video/artifacts/artifact, name and expiry (known answer)', () => {
    // HMAC-SHA256 under 32 bytes of 7 of the string below; pinned so the signed subject cannot change unnoticed.
    expect(
      createHmac('sha256', key)
        .update(`download:${videoId}/artifacts/${artifactId}:thumbnail-01.webp:1795860900`)
        .digest('base64url'),
    ).toBe('8fV6sbb6Qm4DIWzy1ZAjXw58NZkMPIg6fLS3o6gXOJs');
    expect(signer.signArtifact(videoId, artifactId, 'thumbnail-01.webp', expiresAt)).toBe(
      `/api/downloads/${videoId}/artifacts/${artifactId}/thumbnail-01.webp?expires=1795860900&signature=8fV6sbb6Qm4DIWzy1ZAjXw58NZkMPIg6fLS3o6gXOJs`,
    );
    expect(signer.sign(videoId, 'clip.mp4', expiresAt)).toBe(
      `/api/downloads/${videoId}/clip.mp4?expires=1795860900&signature=ExK9qoUfwv-AZoDPYEXC9qipoiikrttxqGBanVvNXiw`,
    );
  });

  it("refuses a video's link on any artifact path of that video, its own name kept", () => {
    const video = queryOf(signer.sign(videoId, 'thumbnail-01.webp', expiresAt));
    expect(signer.verify({ videoId, fileName: 'thumbnail-01.webp' }, video.expires, video.signature, before)).toBe(
      'valid',
    );
    for (const otherArtifact of [artifactId, videoId, '']) {
      expect(
        signer.verifyArtifact(
          { videoId, artifactId: otherArtifact, fileName: 'thumbnail-01.webp' },
          video.expires,
          video.signature,
          before,
        ),
      ).toBe('invalid');
    }
  });

  it('accepts its own artifact link and refuses it under another name, artifact or video', () => {
    expect(
      signer.verifyArtifact({ videoId, artifactId, fileName: 'thumbnail-01.webp' }, expires, signature, before),
    ).toBe('valid');
    expect(
      signer.verifyArtifact({ videoId, artifactId, fileName: 'thumbnail-01.html' }, expires, signature, before),
    ).toBe('invalid');
    expect(
      signer.verifyArtifact(
        { videoId, artifactId: otherVideoId, fileName: 'thumbnail-01.webp' },
        expires,
        signature,
        before,
      ),
    ).toBe('invalid');
    expect(
      signer.verifyArtifact(
        { videoId: otherVideoId, artifactId, fileName: 'thumbnail-01.webp' },
        expires,
        signature,
        before,
      ),
    ).toBe('invalid');
    expect(signer.verify({ videoId, fileName: 'thumbnail-01.webp' }, expires, signature, before)).toBe('invalid');
  });
});
