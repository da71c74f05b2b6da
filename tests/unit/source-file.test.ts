import { describe, expect, it } from 'vitest';
import {
  chooseFileName,
  describeFileType,
  fileExtension,
  httpDateToIso,
  ifRangeValidator,
  isStrongEtag,
  normalizeNameAsFileName,
} from '../../src/domain/source-file.js';

function fromUrl(url: string, name = 'My Clip'): string {
  return chooseFileName({ url: new URL(url), name });
}

describe('chooseFileName', () => {
  it('keeps an explicit fileName as given', () => {
    expect(
      chooseFileName({ fileName: 'given name.MOV', url: new URL('https://cdn.example.com/clip.mp4'), name: 'My Clip' }),
    ).toBe('given name.MOV');
  });

  it('uses the explicit fileName even when the URL has none', () => {
    expect(chooseFileName({ fileName: 'a.mxf', url: new URL('https://cdn.example.com/'), name: 'My Clip' })).toBe(
      'a.mxf',
    );
  });

  it.each([
    ['https://cdn.example.com/clip.mp4', 'clip.mp4'],
    ['https://cdn.example.com/media/2026/Master%20Final.mov', 'Master Final.mov'],
    ['https://cdn.example.com/media/clip.mp4?token=abc&name=other.mkv#t=10', 'clip.mp4'],
    ['https://cdn.example.com/caf%C3%A9.mp4', 'café.mp4'],
    ['https://cdn.example.com/100%25.mp4', '100%.mp4'],
    ['https://cdn.example.com/a/b/../c.mp4', 'c.mp4'],
  ])('takes the percent-decoded last path segment of %s', (url, fileName) => {
    expect(fromUrl(url)).toBe(fileName);
  });

  it('composes a decomposed accent into one character (NFC)', () => {
    const name = fromUrl('https://cdn.example.com/e%CC%81t%C3%A9.mp4');
    expect(name).toBe('\u00e9t\u00e9.mp4');
    expect(name).toHaveLength(7);
  });

  it.each([
    ['a lone percent sign', 'https://cdn.example.com/100%.mp4', '100%.mp4'],
    ['a truncated escape', 'https://cdn.example.com/bad%E0%A4%A.mp4', 'bad%E0%A4%A.mp4'],
    ['an invalid UTF-8 sequence', 'https://cdn.example.com/x%FF.mp4', 'x%FF.mp4'],
  ])('keeps the raw segment when it holds %s', (_label, url, fileName) => {
    expect(fromUrl(url)).toBe(fileName);
  });

  it.each([
    ['a trailing slash', 'https://cdn.example.com/videos/'],
    ['an empty path', 'https://cdn.example.com'],
    ['a root path with a query', 'https://cdn.example.com/?file=clip.mp4'],
    ['a segment of dots that the URL parser removes', 'https://cdn.example.com/videos/%2e%2e'],
    ['a segment of blanks', 'https://cdn.example.com/%20%20'],
    ['a segment of dots', 'https://cdn.example.com/...'],
  ])('falls back to the normalized name for %s', (_label, url) => {
    expect(fromUrl(url, 'Café Crème 2026!')).toBe('Cafe_Creme_2026');
  });

  it.each([
    ['..%2F..%2Fetc%2Fpasswd', '_.._etc_passwd'],
    ['..%5C..%5Cwindows%5Cwin.ini', '_.._windows_win.ini'],
    ['%2Fetc%2Fpasswd', '_etc_passwd'],
    ['a%2F%2F%2Fb.mp4', 'a_b.mp4'],
  ])('turns the encoded path separators of %s into a plain name', (segment, fileName) => {
    const name = fromUrl(`https://cdn.example.com/${segment}`);
    expect(name).toBe(fileName);
    expect(name).not.toMatch(/[/\\]/);
  });

  it('replaces control characters', () => {
    const name = fromUrl('https://cdn.example.com/a%00b%0A%0Dc%1Fd%7F.mp4');
    expect(name).toBe('a_b_c_d_.mp4');
    // eslint-disable-next-line no-control-regex
    expect(name).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  it('removes leading dots so the name is not hidden', () => {
    expect(fromUrl('https://cdn.example.com/.hidden.mp4')).toBe('hidden.mp4');
    expect(fromUrl('https://cdn.example.com/..%20.x.mp4')).toBe('x.mp4');
  });

  it('trims surrounding blanks', () => {
    expect(fromUrl('https://cdn.example.com/%20clip.mp4%20')).toBe('clip.mp4');
  });

  it('names a segment that is only an extension after the video', () => {
    expect(chooseFileName({ url: new URL('https://cdn.example.com/%20.mp4'), name: 'My Holiday' })).toBe(
      'My_Holiday.mp4',
    );
  });

  it('cuts a long name between characters, never inside a surrogate pair', () => {
    const name = fromUrl(`https://cdn.example.com/${'a'.repeat(254)}%F0%9F%98%80.mp4`);
    expect(name).toBe(`${'a'.repeat(251)}.mp4`);
  });

  it('cuts a long segment to 255 characters, keeping its extension', () => {
    const name = fromUrl(`https://cdn.example.com/${'a'.repeat(300)}.mp4`);
    expect(name).toBe(`${'a'.repeat(251)}.mp4`);
  });

  it('keeps a segment of exactly 255 characters', () => {
    const segment = `${'b'.repeat(251)}.mp4`;
    expect(fromUrl(`https://cdn.example.com/${segment}`)).toBe(segment);
  });
});

describe('normalizeNameAsFileName', () => {
  it.each([
    ['My Video', 'My_Video'],
    ['My Video.mp4', 'My_Video.mp4'],
    ['Café Crème — été 2024!', 'Cafe_Creme_ete_2024'],
    ['Ångström Øre', 'Angstrom_re'],
    ['ﬁle №5', 'file_No5'],
    ['a  &  b', 'a_b'],
    ['a__b', 'a_b'],
    ['___x___', 'x'],
    ['..hidden', 'hidden'],
    ['._.x', 'x'],
    ['keep-dash_and.dot', 'keep-dash_and.dot'],
    ['tab\there', 'tab_here'],
    ['名前', 'video'],
    ['!!!', 'video'],
    ['', 'video'],
    ['   ', 'video'],
  ])('turns %j into %j', (name, fileName) => {
    expect(normalizeNameAsFileName(name)).toBe(fileName);
  });

  it('cuts the result to 255 characters', () => {
    expect(normalizeNameAsFileName('x'.repeat(400))).toBe('x'.repeat(255));
  });
});

describe('fileExtension', () => {
  it.each([
    ['clip.mp4', 'mp4'],
    ['clip.MP4', 'mp4'],
    ['archive.tar.gz', 'gz'],
    ['a.b', 'b'],
    ['.bashrc', ''],
    ['noextension', ''],
    ['trailing.', ''],
    ['', ''],
  ])('reads the extension of %j as %j', (fileName, extension) => {
    expect(fileExtension(fileName)).toBe(extension);
  });
});

describe('describeFileType', () => {
  it.each([
    ['a.mp4', 'video/mp4', 'MPEG-4'],
    ['a.m4v', 'video/x-m4v', 'MPEG-4'],
    ['a.mov', 'video/quicktime', 'QuickTime'],
    ['a.qt', 'video/quicktime', 'QuickTime'],
    ['a.mxf', 'application/mxf', 'MXF'],
    ['a.mkv', 'video/x-matroska', 'Matroska'],
    ['a.webm', 'video/webm', 'WebM'],
    ['a.avi', 'video/x-msvideo', 'AVI'],
    ['a.ts', 'video/mp2t', 'MPEG-TS'],
    ['a.m2ts', 'video/mp2t', 'MPEG-TS'],
    ['a.mts', 'video/mp2t', 'MPEG-TS'],
    ['a.mpg', 'video/mpeg', 'MPEG-PS'],
    ['a.mpeg', 'video/mpeg', 'MPEG-PS'],
    ['a.vob', 'video/mpeg', 'MPEG-PS'],
    ['a.flv', 'video/x-flv', 'FLV'],
    ['a.wmv', 'video/x-ms-wmv', 'ASF'],
    ['a.3gp', 'video/3gpp', '3GPP'],
    ['a.y4m', 'video/x-yuv4mpeg', 'YUV4MPEG2'],
    ['a.dv', 'video/x-dv', 'DV'],
    ['SHOUTING.MOV', 'video/quicktime', 'QuickTime'],
  ])('describes %s as %s in %s', (fileName, mimeType, containerName) => {
    expect(describeFileType(fileName, null)).toEqual({ mimeType, containerName });
  });

  it('prefers the extension over the Content-Type', () => {
    expect(describeFileType('a.mp4', 'video/quicktime')).toEqual({ mimeType: 'video/mp4', containerName: 'MPEG-4' });
    expect(describeFileType('a.mkv', 'application/octet-stream')).toEqual({
      mimeType: 'video/x-matroska',
      containerName: 'Matroska',
    });
  });

  it.each([
    ['video/mp4', 'video/mp4'],
    ['video/mp4; codecs="avc1.640028"', 'video/mp4'],
    ['  Video/X-Custom+Stuff ; charset=binary', 'video/x-custom+stuff'],
    ['audio/mpeg', 'audio/mpeg'],
    ['application/mxf', 'application/mxf'],
  ])('falls back to the Content-Type %j for an unknown extension', (contentType, mimeType) => {
    expect(describeFileType('download.bin', contentType)).toEqual({ mimeType, containerName: null });
  });

  it.each([
    ['no Content-Type', null],
    ['an empty Content-Type', ''],
    ['a non-video type', 'text/html; charset=utf-8'],
    ['a generic binary type', 'application/octet-stream'],
    ['a type without subtype', 'video/'],
    ['a type with junk after it', 'video/mp4 <script>'],
    ['markup', '<script>alert(1)</script>'],
    ['a wildcard', 'video/*'],
  ])('answers application/octet-stream for %s', (_label, contentType) => {
    expect(describeFileType('download', contentType)).toEqual({
      mimeType: 'application/octet-stream',
      containerName: null,
    });
  });
});

describe('isStrongEtag', () => {
  it.each(['"abc"', '""', '"5f3c-1a2b3c"', '"a!#~"', '"\u00e9"'])('accepts the strong entity tag %s', (etag) => {
    expect(isStrongEtag(etag)).toBe(true);
  });

  it.each([
    ['a weak tag', 'W/"abc"'],
    ['a weak tag in lower case', 'w/"abc"'],
    ['an unquoted tag', 'abc'],
    ['a tag without its closing quote', '"abc'],
    ['a tag without its opening quote', 'abc"'],
    ['a tag with a space', '"a b"'],
    ['a tag with an inner quote', '"a"b"'],
    ['a tag with a leading blank', ' "abc"'],
    ['two tags', '"a", "b"'],
    ['the empty string', ''],
  ])('refuses %s (%j)', (_label, etag) => {
    expect(isStrongEtag(etag)).toBe(false);
  });

  it('refuses null', () => {
    expect(isStrongEtag(null)).toBe(false);
  });
});

describe('ifRangeValidator', () => {
  const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';

  it.each([
    ['a strong ETag before Last-Modified', '"v1"', lastModified, '"v1"'],
    ['a strong ETag without Last-Modified', '"v1"', null, '"v1"'],
    ['Last-Modified when the ETag is weak', 'W/"v1"', lastModified, lastModified],
    ['Last-Modified when the ETag is unquoted', 'v1', lastModified, lastModified],
    ['Last-Modified when there is no ETag', null, lastModified, lastModified],
    ['nothing for a weak ETag alone', 'W/"v1"', null, null],
    ['nothing without validators', null, null, null],
  ])('uses %s', (_label, etag, modified, expected) => {
    expect(ifRangeValidator({ etag, lastModified: modified })).toBe(expected);
  });
});

describe('httpDateToIso', () => {
  it.each([
    ['Wed, 21 Oct 2015 07:28:00 GMT', '2015-10-21T07:28:00.000Z'],
    ['Sun, 06 Nov 1994 08:49:37 GMT', '1994-11-06T08:49:37.000Z'],
    ['Sunday, 06-Nov-94 08:49:37 GMT', '1994-11-06T08:49:37.000Z'],
  ])('converts %j to %j', (value, iso) => {
    expect(httpDateToIso(value)).toBe(iso);
  });

  it.each(['', 'yesterday', 'Mon, 99 Foo 2026 99:99:99 GMT'])('returns null for the unreadable %j', (value) => {
    expect(httpDateToIso(value)).toBeNull();
  });

  it('returns null for null', () => {
    expect(httpDateToIso(null)).toBeNull();
  });
});
