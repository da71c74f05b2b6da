import { describe, expect, it } from 'vitest';
import {
  explainUnreadable,
  ffprobeMetadataArgs,
  parseFfprobeJson,
  type FfprobeOutput,
} from '../../src/media/ffprobe.js';
import { FORMAT_WHITELIST, mediaInputOf } from '../../src/media/media-input.js';
import {
  NotAVideoError,
  aspectRatioTag,
  bitDepth,
  friendlyContainerName,
  parseRational,
  scanTypeFromFieldOrder,
  toProbedVideo,
  toVideoMetadata,
} from '../../src/media/metadata.js';

/** ffprobe JSON as printed for progressive.mp4 (trimmed to fields we read plus a few we ignore). */
const progressiveJson = {
  streams: [
    {
      index: 0,
      codec_name: 'h264',
      codec_long_name: 'H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10',
      profile: 'High',
      codec_type: 'video',
      width: 640,
      height: 360,
      coded_width: 640,
      coded_height: 360,
      sample_aspect_ratio: '1:1',
      display_aspect_ratio: '16:9',
      pix_fmt: 'yuv420p',
      field_order: 'progressive',
      r_frame_rate: '25/1',
      avg_frame_rate: '25/1',
      time_base: '1/12800',
      duration: '12.000000',
      bit_rate: '244228',
      bits_per_raw_sample: '8',
      nb_frames: '300',
      disposition: { default: 1, attached_pic: 0 },
      tags: { language: 'und', handler_name: 'VideoHandler' },
    },
    {
      index: 1,
      codec_name: 'aac',
      codec_type: 'audio',
      sample_rate: '48000',
      channels: 1,
      duration: '12.000000',
      bit_rate: '64000',
      nb_frames: '564',
    },
  ],
  frames: [
    { stream_index: 1 },
    { stream_index: 0, side_data_list: [{ side_data_type: 'H.26[45] User Data Unregistered SEI message' }] },
  ],
  format: {
    filename: 'progressive.mp4',
    nb_streams: 2,
    format_name: 'mov,mp4,m4a,3gp,3g2,mj2',
    format_long_name: 'QuickTime / MOV',
    duration: '12.000000',
    size: '473381',
    bit_rate: '315587',
    tags: { major_brand: 'isom', minor_version: '512' },
  },
};

type Json = Record<string, unknown>;
/** The progressive probe with the video stream (and optionally format) changed. */
function probeWith(video: Json, options: { format?: Json; frames?: Json[]; dropAudio?: boolean } = {}): FfprobeOutput {
  const [videoStream, audioStream] = progressiveJson.streams;
  return parseFfprobeJson(
    JSON.stringify({
      streams:
        options.dropAudio === true ? [{ ...videoStream, ...video }] : [{ ...videoStream, ...video }, audioStream],
      frames: options.frames ?? progressiveJson.frames,
      format: { ...progressiveJson.format, ...options.format },
    }),
  );
}

describe('toVideoMetadata', () => {
  it('maps a progressive H.264 MP4', () => {
    expect(toVideoMetadata(probeWith({}), 473381)).toEqual({
      containerName: 'MP4',
      longContainerName: 'QuickTime / MOV',
      codecName: 'h264',
      longCodecName: 'H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10',
      pixelFormatName: 'yuv420p',
      primaryBitDepth: 8,
      frameWidth: 640,
      frameHeight: 360,
      displayAspectRatio: { ratio: 1.78, tag: '16:9' },
      scanning: { metadata: 'PROGRESSIVE', heuristics: null },
      averageFrameRate: { frameRate: 25, rational: '25:1' },
      durationInMillis: 12000,
      totalFrames: 300,
      size: 473381,
      videoStreamSize: 366342,
      colorRangeName: null,
      colorSpaceName: null,
      colorTransferName: null,
      colorPrimariesName: null,
      hdrStandardName: null,
    });
  });

  it.each([
    { field_order: 'tt', expected: 'INTERLACED_TOP_FIRST' },
    { field_order: 'tb', expected: 'INTERLACED_TOP_FIRST' },
    { field_order: 'bb', expected: 'INTERLACED_BOTTOM_FIRST' },
    { field_order: 'bt', expected: 'INTERLACED_BOTTOM_FIRST' },
    { field_order: 'progressive', expected: 'PROGRESSIVE' },
    { field_order: 'unknown', expected: 'PROGRESSIVE' },
    { field_order: undefined, expected: 'PROGRESSIVE' },
  ])('declares $expected for field_order $field_order', ({ field_order, expected }) => {
    expect(scanTypeFromFieldOrder(field_order)).toBe(expected);
    expect(toVideoMetadata(probeWith({ field_order }), 1).scanning).toEqual({ metadata: expected, heuristics: null });
  });

  it('applies the sample aspect ratio of PAL 4:3 to the display aspect ratio, not to the frame size', () => {
    const metadata = toVideoMetadata(
      probeWith({ width: 720, height: 576, sample_aspect_ratio: '16:15', field_order: 'tt' }),
      1,
    );
    expect(metadata).toMatchObject({
      frameWidth: 720,
      frameHeight: 576,
      displayAspectRatio: { ratio: 1.33, tag: '4:3' },
      scanning: { metadata: 'INTERLACED_TOP_FIRST' },
    });
  });

  it.each([
    { side: [{ side_data_type: 'Display Matrix', rotation: 90 }], tags: {}, rotation: 270 },
    { side: [{ side_data_type: 'Display Matrix', rotation: -90 }], tags: {}, rotation: 90 },
    { side: [{ side_data_type: 'Display Matrix', rotation: 180 }], tags: {}, rotation: 180 },
    { side: undefined, tags: { rotate: '90' }, rotation: 90 },
  ])('reports a phone video rotated by $rotation° in its displayed orientation', ({ side, tags, rotation }) => {
    const probed = toProbedVideo(probeWith({ width: 640, height: 360, side_data_list: side, tags }));
    const turned = rotation !== 180;
    expect(probed.rotationDegrees).toBe(rotation);
    expect(probed).toMatchObject({ storedWidth: 640, storedHeight: 360 });
    expect(probed.metadata).toMatchObject(
      turned
        ? { frameWidth: 360, frameHeight: 640, displayAspectRatio: { ratio: 0.56, tag: '9:16' } }
        : { frameWidth: 640, frameHeight: 360, displayAspectRatio: { ratio: 1.78, tag: '16:9' } },
    );
  });

  it.each([
    {
      name: 'HDR10',
      video: { color_transfer: 'smpte2084', color_primaries: 'bt2020', color_space: 'bt2020nc', color_range: 'tv' },
      frames: [],
      expected: 'HDR10',
    },
    {
      name: 'HDR10+ (dynamic metadata in the first frame)',
      video: { color_transfer: 'smpte2084' },
      frames: [{ stream_index: 0, side_data_list: [{ side_data_type: 'HDR Dynamic Metadata SMPTE2094-40 (HDR10+)' }] }],
      expected: 'HDR10+',
    },
    { name: 'HLG', video: { color_transfer: 'arib-std-b67' }, frames: [], expected: 'HLG' },
    {
      name: 'Dolby Vision',
      video: { color_transfer: 'smpte2084', side_data_list: [{ side_data_type: 'DOVI configuration record' }] },
      frames: [],
      expected: 'Dolby Vision',
    },
    { name: 'SDR', video: { color_transfer: 'bt709' }, frames: [], expected: null },
    {
      name: 'SDR although another stream has HDR10+ side data',
      video: { color_transfer: 'bt709' },
      frames: [{ stream_index: 1, side_data_list: [{ side_data_type: 'HDR Dynamic Metadata SMPTE2094-40 (HDR10+)' }] }],
      expected: null,
    },
  ])('names the HDR standard: $name', ({ video, frames, expected }) => {
    expect(toVideoMetadata(probeWith(video, { frames }), 1).hdrStandardName).toBe(expected);
  });

  it('reads HDR10 colour names and 10-bit depth from the pixel format', () => {
    const metadata = toVideoMetadata(
      probeWith({
        codec_name: 'hevc',
        pix_fmt: 'yuv420p10le',
        bits_per_raw_sample: undefined,
        color_range: 'tv',
        color_space: 'bt2020nc',
        color_transfer: 'smpte2084',
        color_primaries: 'bt2020',
      }),
      1,
    );
    expect(metadata).toMatchObject({
      codecName: 'hevc',
      primaryBitDepth: 10,
      colorRangeName: 'tv',
      colorSpaceName: 'bt2020nc',
      colorTransferName: 'smpte2084',
      colorPrimariesName: 'bt2020',
      hdrStandardName: 'HDR10',
    });
  });

  it('keeps NTSC rates rational and rounds the decimal to 3 places', () => {
    const metadata = toVideoMetadata(
      probeWith({
        avg_frame_rate: '30000/1001',
        r_frame_rate: '30000/1001',
        nb_frames: undefined,
        duration: '10.010000',
      }),
      1,
    );
    expect(metadata.averageFrameRate).toEqual({ frameRate: 29.97, rational: '30000:1001' });
    expect(metadata.totalFrames).toBe(300);
  });

  it('reports a variable frame rate by its average', () => {
    const metadata = toVideoMetadata(
      probeWith({ r_frame_rate: '30/1', avg_frame_rate: '500/29', duration: '5.800000', nb_frames: '100' }),
      1,
    );
    expect(metadata).toMatchObject({
      averageFrameRate: { frameRate: 17.241, rational: '500:29' },
      totalFrames: 100,
      durationInMillis: 5800,
    });
  });

  it('falls back to r_frame_rate when the average is 0/0', () => {
    expect(toVideoMetadata(probeWith({ avg_frame_rate: '0/0', r_frame_rate: '24/1' }), 1).averageFrameRate).toEqual({
      frameRate: 24,
      rational: '24:1',
    });
  });

  it('reads Matroska statistics tags when the stream has no duration, frame count or bit rate', () => {
    const metadata = toVideoMetadata(
      probeWith(
        {
          duration: undefined,
          nb_frames: undefined,
          bit_rate: undefined,
          tags: { DURATION: '00:01:02.500000000', NUMBER_OF_FRAMES: '1562', NUMBER_OF_BYTES: '7654321' },
        },
        {
          format: {
            format_name: 'matroska,webm',
            format_long_name: 'Matroska / WebM',
            duration: '62.520000',
            tags: {},
          },
        },
      ),
      1,
    );
    expect(metadata).toMatchObject({
      containerName: 'Matroska',
      durationInMillis: 62500,
      totalFrames: 1562,
      videoStreamSize: 7654321,
    });
  });

  it('leaves the video stream size null and counts frames from the duration when nothing else is known', () => {
    const metadata = toVideoMetadata(
      probeWith(
        { duration: undefined, nb_frames: undefined, bit_rate: undefined, tags: {} },
        { format: { duration: '8.000000' } },
      ),
      1,
    );
    expect(metadata).toMatchObject({ durationInMillis: 8000, totalFrames: 200, videoStreamSize: null });
  });

  it('takes the file size from ffprobe when the caller gives none', () => {
    expect(toProbedVideo(probeWith({})).metadata.size).toBe(473381);
  });

  it('ignores cover art and rejects audio-only files', () => {
    const audioWithCover = parseFfprobeJson(
      JSON.stringify({
        streams: [
          { index: 0, codec_type: 'audio', codec_name: 'aac' },
          {
            index: 1,
            codec_type: 'video',
            codec_name: 'mjpeg',
            width: 500,
            height: 500,
            disposition: { attached_pic: 1 },
          },
        ],
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2' },
      }),
    );
    const error = (() => {
      try {
        toVideoMetadata(audioWithCover, 1);
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(NotAVideoError);
    expect(error).toMatchObject({
      kind: 'NO_VIDEO_STREAM',
      reason: 'the file has no video stream with pictures: it holds audio (aac), video (mjpeg)',
    });
  });

  it('rejects a probe with no streams at all', () => {
    expect(() => toVideoMetadata(parseFfprobeJson('{"streams":[],"format":{}}'), 1)).toThrow(
      'the file has no video stream with pictures: it holds no streams at all',
    );
  });

  it('reports whether there is audio', () => {
    expect(toProbedVideo(probeWith({})).hasAudio).toBe(true);
    expect(toProbedVideo(probeWith({}, { dropAudio: true })).hasAudio).toBe(false);
  });
});

describe('metadata helpers', () => {
  it.each([
    [16 / 9, '16:9'],
    [4 / 3, '4:3'],
    [1.85, '1.85:1'],
    [2.39, '2.39:1'],
    [2.35, '2.35:1'],
    [64 / 27, '21:9'],
    [9 / 16, '9:16'],
    [1, '1:1'],
    [1920 / 1088, '16:9'],
    [4096 / 2160, '1.9:1'],
    [1.5, '3:2'],
    [3.1, '3.10:1'],
  ])('tags the aspect ratio %f as %s', (ratio, tag) => {
    expect(aspectRatioTag(ratio)).toBe(tag);
  });

  it.each([
    [undefined, 'yuv420p', 8],
    [undefined, 'yuv420p10le', 10],
    [undefined, 'p010le', 10],
    [undefined, 'gray12le', 12],
    [undefined, 'rgb48le', 16],
    [undefined, 'rgb24', 8],
    [undefined, 'v210', 10],
    [10, 'yuv420p', 10],
    [0, 'yuv422p10le', 10],
    [undefined, 'unknown', null],
    [undefined, undefined, null],
  ])('bit depth of (%s, %s) is %s', (bits, pixFmt, expected) => {
    expect(bitDepth(bits, pixFmt)).toBe(expected);
  });

  it.each([
    ['30000/1001', [30000, 1001]],
    ['16:9', [16, 9]],
    ['0/0', null],
    ['N/A', null],
    [undefined, null],
    ['0:1', null],
  ])('parses the rational %s', (text, expected) => {
    expect(parseRational(text)).toEqual(expected);
  });

  it.each([
    ['mov,mp4,m4a,3gp,3g2,mj2', 'isom', 'MP4'],
    ['mov,mp4,m4a,3gp,3g2,mj2', 'qt  ', 'QuickTime'],
    ['mov,mp4,m4a,3gp,3g2,mj2', '3gp4', '3GP'],
    ['matroska,webm', undefined, 'Matroska'],
    ['mpegts', undefined, 'MPEG-TS'],
    ['mxf', undefined, 'MXF'],
    ['yuv4mpegpipe', undefined, 'yuv4mpegpipe'],
  ])('names the container %s (%s) %s', (formatName, brand, expected) => {
    expect(friendlyContainerName(formatName, brand)).toBe(expected);
  });
});

describe('ffprobe', () => {
  it('builds a bounded probe with both whitelists: no frame counting, one packet per stream', () => {
    const args = ffprobeMetadataArgs(mediaInputOf('/data/in.mp4'));
    expect(args).toEqual([
      '-hide_banner',
      '-v',
      'warning',
      '-of',
      'json',
      '-show_format',
      '-show_streams',
      '-show_frames',
      '-read_intervals',
      '%+#1',
      '-show_entries',
      'frame=stream_index,side_data_list',
      '-format_whitelist',
      FORMAT_WHITELIST,
      '-protocol_whitelist',
      'file',
      '-enable_drefs',
      '0',
      '-i',
      '/data/in.mp4',
    ]);
    expect(args).not.toContain('-count_frames');
    expect(ffprobeMetadataArgs(mediaInputOf('clip:1.mov')).at(-1)).toBe('file:clip:1.mov');
  });

  it('rejects output that is not JSON or not the expected shape', () => {
    expect(() => parseFfprobeJson('Invalid data')).toThrow('ffprobe printed something that is not JSON');
    expect(() => parseFfprobeJson('{"streams":[{"index":"zero"}]}')).toThrow("ffprobe's JSON has an unexpected shape");
  });

  it.each([
    [
      '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5] moov atom not found\n/x/t.mp4: Invalid data found when processing input\n',
      'the file could not be read as a video: its MP4/MOV index (moov atom) is missing, so it is truncated or not a video',
    ],
    [
      '/x/a.mp4: Invalid data found when processing input\n',
      'the file could not be read as a video: it is not in a media format ffprobe recognises (corrupted, truncated or not a video)',
    ],
    ['/x/a.mp4: Permission denied\n', 'the file could not be read as a video: /x/a.mp4: Permission denied'],
  ])('explains %j', (stderr, expected) => {
    expect(explainUnreadable(stderr)).toBe(expected);
  });
});
