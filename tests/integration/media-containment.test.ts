/**
 * The probe against files that refer to other resources (tests/support/reference-media.ts), with
 * the real ffprobe, on a local file and on an S3 pre-signed URL. Each kind is first read by an
 * unrestricted ffprobe, which follows its references (the control: the file is a real attack and
 * the canary and listener do notice), then by Reelin's probe, which refuses it naming its format
 * and opens nothing it names.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverMediaTools, type MediaTools } from '../../src/media/ffmpeg-tools.js';
import { probeVideoMetadata } from '../../src/media/ffprobe.js';
import {
  allowedDemuxers,
  inputArgs,
  mediaInputOf,
  probedInput,
  UnsupportedMediaFormatError,
} from '../../src/media/media-input.js';
import { MediaProcessError } from '../../src/media/process-runner.js';
import { ChildProcessRunner } from '../../src/media/process-runner.js';
import { videoSourceKey } from '../../src/storage/blob-keys.js';
import { createS3Store, type S3StoreHandle } from '../../src/storage/s3-client.js';
import {
  createCanary,
  referenceFiles,
  startConnectionCounter,
  type Canary,
  type ConnectionCounter,
  type ReferenceFile,
  type ReferenceKind,
} from '../support/reference-media.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-server.js';

const runner = new ChildProcessRunner();
const kinds: ReferenceKind[] = [
  'hls-media',
  'hls-master',
  'hls-audio-group',
  'hls-live',
  'dash',
  'ffconcat',
  'image-sequence',
  'mov-dref',
];

let tools: MediaTools;
let workDir: string;
let listener: ConnectionCounter;
const canaries: Canary[] = [];

beforeAll(async () => {
  tools = await discoverMediaTools({
    pathEnv: process.env.PATH ?? '',
    runner,
    ffmpegPath: process.env.REELIN_FFMPEG_PATH,
    ffprobePath: process.env.REELIN_FFPROBE_PATH,
  });
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-containment-'));
  listener = await startConnectionCounter();
});

afterAll(async () => {
  runner.killAll();
  for (const canary of canaries) await canary.close();
  await listener?.close();
  if (workDir) await fs.rm(workDir, { recursive: true, force: true });
});

/** A fresh canary and the file of `kind` naming it, in a folder of its own. */
async function prepare(kind: ReferenceKind): Promise<{ dir: string; canary: Canary; file: ReferenceFile }> {
  const dir = await fs.mkdtemp(path.join(workDir, `${kind}-`));
  const canary = await createCanary(dir);
  canaries.push(canary);
  const file = (await referenceFiles({ listener, canary })).find((candidate) => candidate.kind === kind);
  if (file === undefined) throw new Error(`no reference file of kind ${kind}`);
  return { dir, canary, file };
}

/** ffprobe as a service without containment would run it (references and drefs followed), bounded. */
async function unrestrictedProbe(input: string): Promise<void> {
  await runner
    .run(
      tools.ffprobePath,
      [
        '-hide_banner',
        '-v',
        'error',
        '-protocol_whitelist',
        'file,http,https,tcp,tls,crypto',
        '-safe',
        '0',
        '-enable_drefs',
        '1',
        '-use_absolute_path',
        '1',
        '-i',
        input,
      ],
      { timeoutMs: 5_000 },
    )
    .catch(() => undefined);
}

describe.each(kinds)('a %s file', (kind) => {
  it('is followed by an unrestricted ffprobe (the control)', async () => {
    const { dir, canary, file } = await prepare(kind);
    const before = listener.connections();
    if (kind === 'image-sequence') {
      // Under its own name, next to the frame the pattern names first. The image demuxer reads a
      // frame by its size, which a FIFO has not, so this canary is a file whose access time
      // (set in the past, below its modification time, so relatime updates it) shows the read.
      const frame = path.join(dir, 'frame-001.png');
      await fs.writeFile(frame, file.body);
      await fs.utimes(frame, new Date('2001-01-01T00:00:00Z'), new Date());
      const accessedBefore = (await fs.stat(frame)).atimeMs;
      await fs.writeFile(path.join(dir, file.fileName), file.body);
      await unrestrictedProbe(path.join(dir, file.fileName));
      expect((await fs.stat(frame)).atimeMs).toBeGreaterThan(accessedBefore);
      return;
    }
    const stored = path.join(dir, 'source');
    await fs.writeFile(stored, file.body);
    await unrestrictedProbe(stored);
    const reached = listener.connections() > before;
    expect({ reached: reached || canary.wasRead() }).toEqual({ reached: true });
  }, 30_000);

  it('is refused by the probe, which names its format and opens nothing it names', async () => {
    const { dir, canary, file } = await prepare(kind);
    // As the stores keep every file: under a name of the store's own, never the user's.
    const stored = path.join(dir, 'source');
    await fs.writeFile(stored, file.body);
    const before = listener.connections();
    const error: unknown = await probeVideoMetadata(runner, tools, mediaInputOf(stored)).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UnsupportedMediaFormatError);
    expect(error).toMatchObject({ format: file.format, reason: kind === 'mov-dref' ? 'data-reference' : 'format' });
    expect(listener.connections()).toBe(before);
    expect(canary.wasRead()).toBe(false);
  }, 30_000);
});

describe('the allow-list against this ffmpeg', () => {
  it('names demuxers this ffmpeg has, each by the name ffprobe reports', async () => {
    const { stdout } = await runner.run(tools.ffmpegPath, ['-hide_banner', '-demuxers']);
    // " D  mov,mp4,m4a,3gp,3g2,mj2 QuickTime / MOV"
    const names = new Set(
      stdout
        .split('\n')
        .map((line) => /^\s*D\S*\s+(\S+)\s/.exec(line)?.[1])
        .filter((name): name is string => name !== undefined),
    );
    expect(names.size).toBeGreaterThan(100);
    for (const demuxer of allowedDemuxers) expect(names.has(demuxer.name), demuxer.name).toBe(true);
  });

  it('is honoured by ffmpeg as by ffprobe: a playlist is refused before it is read, with the format forced or probed', async () => {
    const { dir, canary, file } = await prepare('hls-media');
    const stored = path.join(dir, 'source');
    await fs.writeFile(stored, file.body);
    const before = listener.connections();
    for (const input of [mediaInputOf(stored), probedInput(stored, { demuxer: 'mpegts' })]) {
      const error: unknown = await runner
        .run(
          tools.ffmpegPath,
          ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputArgs(input), '-f', 'null', '-'],
          { timeoutMs: 10_000 },
        )
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MediaProcessError);
    }
    const probed: unknown = await runner
      .run(tools.ffmpegPath, [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        ...inputArgs(mediaInputOf(stored)),
        '-f',
        'null',
        '-',
      ])
      .catch((caught: unknown) => caught);
    expect((probed as MediaProcessError).stderrTail).toMatch(/^\[hls @ 0x[0-9a-f]+\] Format not on whitelist/m);
    expect(listener.connections()).toBe(before);
    expect(canary.wasRead()).toBe(false);
  });
});

describe('a still image under an image-sequence pattern name', () => {
  it('is refused as an image sequence, and the frame its pattern names is not read', async () => {
    const { dir, file } = await prepare('image-sequence');
    const frame = path.join(dir, 'frame-001.png');
    await fs.writeFile(frame, file.body);
    await fs.utimes(frame, new Date('2001-01-01T00:00:00Z'), new Date());
    const accessedBefore = (await fs.stat(frame)).atimeMs;
    const named = path.join(dir, file.fileName);
    await fs.writeFile(named, file.body);
    const error: unknown = await probeVideoMetadata(runner, tools, mediaInputOf(named)).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      name: 'UnsupportedMediaFormatError',
      format: 'image2',
      message: expect.stringMatching(/^the file is an image sequence \(format image2\)/),
    });
    expect((await fs.stat(frame)).atimeMs).toBe(accessedBefore);
  });
});

describe('files on S3, read through pre-signed URLs', () => {
  let server: S3TestServer;
  let handle: S3StoreHandle;

  beforeAll(async () => {
    server = await startS3TestServer();
    await server.createBucket('media');
    handle = createS3Store(
      {
        bucket: 'media',
        region: server.region,
        endpoint: server.endpoint,
        forcePathStyle: true,
        keyPrefix: '',
        maxSockets: 8,
      },
      { connectTimeoutMs: 5_000, idleTimeoutMs: 30_000, credentials: server.credentials },
    );
  });

  afterAll(async () => {
    handle?.destroy();
    await server?.close();
  });

  async function presigned(file: ReferenceFile): Promise<string> {
    const key = videoSourceKey(randomUUID(), randomUUID());
    const local = path.join(workDir, `upload-${randomUUID()}`);
    await fs.writeFile(local, file.body);
    await handle.store.put(key, createReadStream(local));
    return handle.store.mediaSource(key, 3600);
  }

  it('an HLS playlist over http makes an unrestricted ffprobe connect to the address it names (the control)', async () => {
    const { file } = await prepare('hls-media');
    const before = listener.connections();
    await unrestrictedProbe(await presigned(file));
    expect(listener.connections()).toBeGreaterThan(before);
  }, 30_000);

  it.each(kinds)(
    'a %s file is refused by the probe naming its format, and nothing it names is opened',
    async (kind) => {
      const { canary, file } = await prepare(kind);
      const url = await presigned(file);
      const before = listener.connections();
      const error: unknown = await probeVideoMetadata(runner, tools, mediaInputOf(url)).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(UnsupportedMediaFormatError);
      expect(error).toMatchObject({ format: file.format });
      expect(listener.connections()).toBe(before);
      expect(canary.wasRead()).toBe(false);
    },
    30_000,
  );
});
