import { describe, expect, it } from 'vitest';
import { toBlobKey, videoPrefix, videoSourceKey } from '../../src/storage/blob-keys.js';

const teamId = '0b7e1c2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d';
const videoId = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';

/** A key of exactly `length` characters made of valid segments (at most 128 characters each). */
function keyOfLength(length: number): string {
  const segments: string[] = [];
  let remaining = length;
  while (remaining > 0) {
    const size = Math.min(128, remaining);
    segments.push('k'.repeat(size));
    remaining -= size + 1;
  }
  return segments.join('/');
}

describe('toBlobKey', () => {
  it.each(['source', 'teams/a/videos/b/source', 'a.b-c_d/E9', '0/1/2', 'v..2', `${'s'.repeat(128)}/x`])(
    'accepts the safe key %j unchanged',
    (text) => {
      expect(toBlobKey(text)).toBe(text);
    },
  );

  it('accepts a key of exactly 1024 characters', () => {
    const key = keyOfLength(1024);
    expect(key).toHaveLength(1024);
    expect(toBlobKey(key)).toBe(key);
  });

  it('rejects a key of 1025 characters', () => {
    const key = keyOfLength(1025);
    expect(key).toHaveLength(1025);
    expect(() => toBlobKey(key)).toThrow(new TypeError('a storage key must be 1..1024 characters'));
  });

  it('rejects the empty key', () => {
    expect(() => toBlobKey('')).toThrow(new TypeError('a storage key must be 1..1024 characters'));
  });

  it.each([
    ['a parent segment', '..', '..'],
    ['a parent segment inside the key', 'teams/../secrets', '..'],
    ['a parent segment at the end', 'teams/a/..', '..'],
    ['a current-directory segment', 'teams/./a', '.'],
    ['a lone dot', '.', '.'],
    ['an absolute path', '/etc/passwd', ''],
    ['an empty segment', 'teams//a', ''],
    ['a trailing slash', 'teams/a/', ''],
    ['a NUL byte', 'teams/a\u0000b', 'a\u0000b'],
    ['a backslash', 'teams\\..\\a', 'teams\\..\\a'],
    ['a Windows drive', 'C:/a', 'C:'],
    ['a hidden segment', 'teams/.git', '.git'],
    ['a segment starting with a dash', '-rf', '-rf'],
    ['a space', 'my video', 'my video'],
    ['a percent escape', 'a%2F..', 'a%2F..'],
    ['a non-ASCII letter', 'caf\u00e9', 'caf\u00e9'],
    ['a segment of 129 characters', 'x'.repeat(129), 'x'.repeat(129)],
  ])('rejects %s', (_label, text, segment) => {
    expect(() => toBlobKey(text)).toThrow(
      new TypeError(`unsafe storage key segment ${JSON.stringify(segment)} in ${JSON.stringify(text)}`),
    );
  });
});

describe('videoSourceKey', () => {
  it('builds the key of the source file under the team and video', () => {
    expect(videoSourceKey(teamId, videoId)).toBe(`teams/${teamId}/videos/${videoId}/source`);
  });

  it.each([
    ['an upper-case team id', teamId.toUpperCase(), videoId, 'teamId'],
    ['an upper-case video id', teamId, videoId.toUpperCase(), 'videoId'],
    ['a team id without dashes', teamId.replaceAll('-', ''), videoId, 'teamId'],
    ['a braced video id', teamId, `{${videoId}}`, 'videoId'],
    ['a traversal in the team id', '../../etc', videoId, 'teamId'],
    ['a video id with a path', teamId, `${videoId}/../x`, 'videoId'],
    ['an empty video id', teamId, '', 'videoId'],
    ['a team id with a trailing newline', `${teamId}\n`, videoId, 'teamId'],
  ])('rejects %s', (_label, team, video, name) => {
    const bad = name === 'teamId' ? team : video;
    expect(() => videoSourceKey(team, video)).toThrow(
      new TypeError(`${name} must be a lower-case UUID, got ${JSON.stringify(bad)}`),
    );
  });
});

describe('videoPrefix', () => {
  it('builds the prefix of everything stored for the video', () => {
    expect(videoPrefix(teamId, videoId)).toBe(`teams/${teamId}/videos/${videoId}`);
  });

  it('is a prefix of the source key', () => {
    expect(videoSourceKey(teamId, videoId).startsWith(`${videoPrefix(teamId, videoId)}/`)).toBe(true);
  });

  it.each([
    ['an upper-case team id', teamId.toUpperCase(), videoId],
    ['an upper-case video id', teamId, videoId.toUpperCase()],
    ['a wildcard video id', teamId, '*'],
    ['an empty team id', '', videoId],
  ])('rejects %s', (_label, team, video) => {
    expect(() => videoPrefix(team, video)).toThrow(TypeError);
  });
});
