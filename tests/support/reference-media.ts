/**
 * Files that make a demuxer open something else, for the tests that prove the media path never
 * does (docs/media-security.md): HLS playlists (media, master with variants, an audio group, live),
 * a DASH manifest, an ffconcat list, a still image named as an image-sequence pattern, and a MOV
 * whose tracks refer to an external file (a QuickTime alias data reference). Each names two
 * targets: a local HTTP listener that counts its connections (standing for a host inside the
 * network) and a canary file.
 *
 * The canary is a FIFO holding a marker: whoever opens it for reading gets the marker and takes it
 * out of the pipe, so `wasRead()` is exact, needs no atime and cannot miss a read. (Someone reading
 * it blocks afterwards, as the test keeps the write end open: a regression shows as a hang that
 * the run's time limit ends, besides the failed assertion.)
 *
 * The MOV is generated, not committed: a small MP4 made by ffmpeg with each track's data
 * reference (`dref`) replaced by a Macintosh alias (`alis`) naming the canary's absolute path, the
 * form FFmpeg's MOV demuxer reads (see its mov_read_dref).
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { mediaFixture } from './media-fixtures.js';

const execFileAsync = promisify(execFile);

/** An HTTP server on 127.0.0.1 that answers 404 to everything and counts connections. */
export interface ConnectionCounter {
  port: number;
  url(pathName: string): string;
  connections(): number;
  close(): Promise<void>;
}

export async function startConnectionCounter(): Promise<ConnectionCounter> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((_request, response) => {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('nothing here\n');
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (pathName) => `http://127.0.0.1:${port}${pathName}`,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const MARKER = Buffer.from('reelin canary\n');

/** A FIFO that tells whether anything read it. */
export interface Canary {
  path: string;
  wasRead(): boolean;
  close(): Promise<void>;
}

export async function createCanary(dir: string, name = 'canary.ts'): Promise<Canary> {
  const fifo = path.join(dir, name);
  await execFileAsync('mkfifo', ['-m', '0644', fifo]);
  // Read-write and non-blocking: Linux opens a FIFO so without a peer, and this end keeps a writer
  // present, so a reader's open succeeds (and reads the marker) rather than blocking.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  writeSync(fd, MARKER);
  let closed = false;
  return {
    path: fifo,
    wasRead: () => {
      const buffer = Buffer.alloc(MARKER.length * 2);
      let got = 0;
      try {
        got = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      if (got > 0) writeSync(fd, buffer.subarray(0, got));
      return !buffer.subarray(0, got).equals(MARKER);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
      await fs.rm(fifo, { force: true });
    },
  };
}

export type ReferenceKind =
  'hls-media' | 'hls-master' | 'hls-audio-group' | 'hls-live' | 'dash' | 'ffconcat' | 'image-sequence' | 'mov-dref';

export interface ReferenceFile {
  kind: ReferenceKind;
  /** The name it is imported under (the URL's last segment). */
  fileName: string;
  body: Buffer;
  /** The demuxer ffmpeg probes it as, which the refusal names. */
  format: string;
  /** Whether its references include the listener (a MOV alias names only a file). */
  namesListener: boolean;
}

export interface ReferenceTargets {
  /** A URL on the counting listener; each file adds its own path. */
  listener: ConnectionCounter;
  canary: Canary;
}

/** Every kind of reference file, each naming the listener (where it can) and the canary. */
export async function referenceFiles(targets: ReferenceTargets): Promise<ReferenceFile[]> {
  const { listener, canary } = targets;
  const text = (lines: string[]): Buffer => Buffer.from(`${lines.join('\n')}\n`);
  return [
    {
      kind: 'hls-media',
      fileName: 'playlist.m3u8',
      format: 'hls',
      namesListener: true,
      body: text([
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:4',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXTINF:4.0,',
        listener.url('/latest/meta-data/iam/security-credentials/?x=.ts'),
        '#EXTINF:4.0,',
        canary.path,
        '#EXT-X-ENDLIST',
      ]),
    },
    {
      kind: 'hls-master',
      fileName: 'master.m3u8',
      format: 'hls',
      namesListener: true,
      body: text([
        '#EXTM3U',
        '#EXT-X-STREAM-INF:BANDWIDTH=1280000,RESOLUTION=640x360',
        listener.url('/variant-360p.m3u8'),
        '#EXT-X-STREAM-INF:BANDWIDTH=2560000,RESOLUTION=1280x720',
        canary.path,
      ]),
    },
    {
      kind: 'hls-audio-group',
      fileName: 'audio-group.m3u8',
      format: 'hls',
      namesListener: true,
      body: text([
        '#EXTM3U',
        `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES,AUTOSELECT=YES,URI="${listener.url('/audio.m3u8')}"`,
        '#EXT-X-STREAM-INF:BANDWIDTH=1280000,AUDIO="aud"',
        canary.path,
      ]),
    },
    {
      kind: 'hls-live',
      fileName: 'live.m3u8',
      format: 'hls',
      namesListener: true,
      // No EXT-X-ENDLIST and a ten-hour target duration: a reader would wait for the next segment.
      body: text([
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:36000',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXTINF:36000.0,',
        listener.url('/live-0.ts'),
        '#EXTINF:36000.0,',
        canary.path,
      ]),
    },
    {
      kind: 'dash',
      fileName: 'manifest.mpd',
      format: 'dash',
      namesListener: true,
      body: text([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">',
        '  <Period>',
        '    <AdaptationSet mimeType="video/mp4">',
        '      <Representation id="v" bandwidth="500000" codecs="avc1.64001e" width="640" height="360">',
        `        <BaseURL>${listener.url('/dash/')}</BaseURL>`,
        '        <SegmentTemplate initialization="init.mp4" media="seg-$Number$.m4s" startNumber="1" duration="4" timescale="1"/>',
        '      </Representation>',
        '    </AdaptationSet>',
        '    <AdaptationSet mimeType="audio/mp4">',
        '      <Representation id="a" bandwidth="64000" codecs="mp4a.40.2">',
        `        <BaseURL>file://${canary.path}</BaseURL>`,
        '      </Representation>',
        '    </AdaptationSet>',
        '  </Period>',
        '</MPD>',
      ]),
    },
    {
      kind: 'ffconcat',
      fileName: 'list.ffconcat',
      format: 'concat',
      namesListener: true,
      body: text(['ffconcat version 1.0', `file '${listener.url('/part-1.mp4')}'`, `file '${canary.path}'`]),
    },
    {
      // A name an image2 demuxer reads as a pattern (frame-001.png, frame-002.png, ...): Reelin
      // never hands ffmpeg a user's file name, and the content is a still image (png_pipe).
      kind: 'image-sequence',
      fileName: 'frame-%03d.png',
      format: 'png_pipe',
      namesListener: false,
      body: await pngImage(),
    },
    {
      kind: 'mov-dref',
      fileName: 'reference.mov',
      format: 'mov',
      namesListener: false,
      body: await movWithExternalReference(canary.path),
    },
  ];
}

/** A 64x64 PNG, made by ffmpeg. */
async function pngImage(): Promise<Buffer> {
  const { stdout } = await execFileAsync(
    process.env.REELIN_FFMPEG_PATH ?? 'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=64x64',
      '-frames:v',
      '1',
      '-c:v',
      'png',
      '-f',
      'image2pipe',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 1 << 20 },
  );
  return stdout;
}

function box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/**
 * A Macintosh alias record as FFmpeg's MOV demuxer reads it: 10 reserved bytes, the volume name
 * (length byte + 27), 12 bytes, the file name (length byte + 63), 16 bytes, the levels from and to
 * (2 + 2), 16 bytes, then typed records ending with type -1; type 2 is the absolute path.
 */
function aliasRecord(absolutePath: string): Buffer {
  const fileName = Buffer.from(path.basename(absolutePath), 'latin1');
  const fixed = Buffer.alloc(150);
  fixed.writeUInt8(Math.min(fileName.length, 63), 10 + 1 + 27 + 12);
  fileName.copy(fixed, 10 + 1 + 27 + 12 + 1, 0, Math.min(fileName.length, 63));
  fixed.writeUInt16BE(1, 10 + 1 + 27 + 12 + 1 + 63 + 16);
  fixed.writeUInt16BE(1, 10 + 1 + 27 + 12 + 1 + 63 + 16 + 2);
  const pathBytes = Buffer.from(absolutePath, 'latin1');
  const padded = Buffer.concat([pathBytes, Buffer.alloc(pathBytes.length % 2)]);
  const record = Buffer.alloc(4);
  record.writeUInt16BE(2, 0);
  record.writeUInt16BE(pathBytes.length, 2);
  const end = Buffer.from([0xff, 0xff, 0, 0]);
  // version 0, flags 0: the data is not in this file.
  return box('alis', Buffer.concat([Buffer.alloc(4), fixed, record, padded, end]));
}

/** Rewrites every track's `dref` to one alias naming `target`; container boxes are rebuilt with their new sizes. */
function replaceDataReferences(buffer: Buffer, target: string): Buffer {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset + 8 <= buffer.length;) {
    const size = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    if (size < 8) throw new Error(`box ${type} at ${offset} has size ${size}: not a plain MP4`);
    let body = buffer.subarray(offset + 8, offset + size);
    if (['moov', 'trak', 'mdia', 'minf', 'dinf'].includes(type)) body = replaceDataReferences(body, target);
    if (type === 'dref') body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), aliasRecord(target)]);
    pieces.push(box(type, body));
    offset += size;
  }
  return Buffer.concat(pieces);
}

/**
 * A MOV whose tracks' media lives in `target`: the short-4s fixture (index at the end, so the
 * media offsets stay valid when the index grows) with its data references replaced.
 */
export async function movWithExternalReference(target: string): Promise<Buffer> {
  const source = await fs.readFile(await mediaFixture('short-4s'));
  const rewritten = replaceDataReferences(source, target);
  if (rewritten.indexOf('alis') < 0) throw new Error('the fixture has no data reference to replace');
  return rewritten;
}
