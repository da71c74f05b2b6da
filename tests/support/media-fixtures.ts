/**
 * Named media fixtures generated with ffmpeg's test sources, each one edge case (STYLE.md "Media").
 *
 * Files are made on first use and cached under os.tmpdir(), named by a hash of their recipe, so a
 * changed recipe makes a new file and an unchanged one is reused across runs. Several vitest workers
 * may ask for the same fixture at once: each writes to its own temporary name and renames it into
 * place, so a reader never sees a half-written file (rename is atomic and both writers produce an
 * equivalent file).
 *
 * What each fixture is:
 * - progressive: 12 s, 640x360, 25 fps H.264 + AAC MP4 (moov at the end), testsrc2 (detail, motion).
 * - interlaced-tff / interlaced-bff: 6 s, 720x576 PAL 4:3 (SAR 16:15), 25 interlaced frames per second
 *   woven from a 50p source, encoded as interlaced H.264 with the field order flagged (tt / bb).
 * - interlaced-*-unflagged: the same interlaced pictures, encoded and declared progressive.
 * - hdr10: 4 s, 640x360 10-bit HEVC (H.264 10-bit when libx265 is missing) tagged BT.2020 / PQ.
 * - short-4s: 4 s, 640x360, 25 fps H.264 + AAC.
 * - vfr: 6 s; 30 fps for 2 s, then every third frame (10 fps): 100 frames, r_frame_rate 30/1.
 * - rotated: a 640x360 phone recording with a 90° display matrix (shown as 360x640), 30 fps, 4 s.
 * - audio-only: 4 s AAC in .m4a.  truncated: the first 40% of progressive's bytes (no moov).
 * - not-video: a text file named .mp4.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChildProcessRunner } from '../../src/media/process-runner.js';

export type MediaFixtureName =
  | 'progressive'
  | 'interlaced-tff'
  | 'interlaced-bff'
  | 'interlaced-tff-unflagged'
  | 'interlaced-bff-unflagged'
  | 'hdr10'
  | 'short-4s'
  | 'vfr'
  | 'rotated'
  | 'audio-only'
  | 'truncated'
  | 'not-video';

type Recipe =
  /** ffmpeg args; the output path is appended. */
  | { kind: 'ffmpeg'; ext: string; args: string[] }
  /** Encode with `args`, then add a display matrix by remuxing. */
  | { kind: 'rotate'; ext: string; args: string[]; degrees: number }
  | { kind: 'truncate'; ext: string; from: MediaFixtureName; fraction: number }
  | { kind: 'text'; ext: string; content: string };

const quiet = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
const sine = (seconds: number): string[] => [
  '-f',
  'lavfi',
  '-i',
  `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
];
const testsrc = (size: string, rate: number, seconds: number): string[] => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
];
// testsrc2's one-pixel lines look combed to idet at small sizes; drawing at 720p and scaling down
// smooths them, so the progressive fixtures are progressive to picture analysis too.
const progressiveSource = (rate: number, seconds: number): string[] => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=1280x720:rate=${rate}:duration=${seconds},scale=640:360`,
];
const h264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '26', '-pix_fmt', 'yuv420p'];
const aac = ['-c:a', 'aac', '-b:a', '64k'];

function interlaced(order: 'tff' | 'bff', flagged: boolean): Recipe {
  // Weave pairs of 50p frames into one 25i frame; `setfield=prog` then drops the flag so the encoder
  // and container declare progressive although the pictures are combed.
  const filter = `interlace=scan=${order}:lowpass=0,setsar=16/15${flagged ? '' : ',setfield=prog'}`;
  const interlacedEncode = flagged ? ['-flags', '+ildct+ilme', '-x264-params', `${order}=1`] : [];
  return {
    kind: 'ffmpeg',
    ext: 'mp4',
    args: [
      ...testsrc('720x576', 50, 6),
      ...sine(6),
      '-vf',
      filter,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '20',
      '-pix_fmt',
      'yuv420p',
      ...interlacedEncode,
      ...aac,
      '-shortest',
    ],
  };
}

function hdr10(hasX265: boolean): Recipe {
  const tags = [
    '-color_primaries',
    'bt2020',
    '-color_trc',
    'smpte2084',
    '-colorspace',
    'bt2020nc',
    '-color_range',
    'tv',
  ];
  const encoder = hasX265
    ? [
        '-c:v',
        'libx265',
        '-preset',
        'ultrafast',
        '-crf',
        '28',
        '-tag:v',
        'hvc1',
        '-x265-params',
        'log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400',
      ]
    : ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '26'];
  return {
    kind: 'ffmpeg',
    ext: 'mp4',
    args: [
      '-f',
      'lavfi',
      '-i',
      'smptehdbars=size=640x360:rate=25:duration=4',
      ...encoder,
      '-pix_fmt',
      'yuv420p10le',
      ...tags,
    ],
  };
}

function recipes(hasX265: boolean): Record<MediaFixtureName, Recipe> {
  return {
    progressive: {
      kind: 'ffmpeg',
      ext: 'mp4',
      args: [...progressiveSource(25, 12), ...sine(12), ...h264, '-g', '50', ...aac, '-shortest'],
    },
    'interlaced-tff': interlaced('tff', true),
    'interlaced-bff': interlaced('bff', true),
    'interlaced-tff-unflagged': interlaced('tff', false),
    'interlaced-bff-unflagged': interlaced('bff', false),
    hdr10: hdr10(hasX265),
    'short-4s': {
      kind: 'ffmpeg',
      ext: 'mp4',
      args: [...progressiveSource(25, 4), ...sine(4), ...h264, ...aac, '-shortest'],
    },
    vfr: {
      kind: 'ffmpeg',
      ext: 'mp4',
      args: [...progressiveSource(30, 6), '-vf', 'select=lt(t\\,2)+not(mod(n\\,3))', '-fps_mode', 'vfr', ...h264],
    },
    rotated: {
      kind: 'rotate',
      ext: 'mp4',
      degrees: 90,
      args: [...progressiveSource(30, 4), ...sine(4), ...h264, ...aac, '-shortest'],
    },
    'audio-only': { kind: 'ffmpeg', ext: 'm4a', args: [...sine(4), ...aac] },
    truncated: { kind: 'truncate', ext: 'mp4', from: 'progressive', fraction: 0.4 },
    'not-video': { kind: 'text', ext: 'mp4', content: 'This is a text file, not a video.\n' },
  };
}

export const mediaFixtureNames = Object.keys(recipes(true)) as MediaFixtureName[];

const runner = new ChildProcessRunner();
const ffmpeg = (): string => process.env.REELIN_FFMPEG_PATH ?? 'ffmpeg';
let hasX265: Promise<boolean> | undefined;

function detectX265(): Promise<boolean> {
  hasX265 ??= runner.run(ffmpeg(), ['-hide_banner', '-encoders']).then(({ stdout }) => /\slibx265\s/.test(stdout));
  return hasX265;
}

function recipeHash(all: Record<MediaFixtureName, Recipe>, name: MediaFixtureName): string {
  const recipe = all[name];
  const parts: unknown[] = [1, name, recipe];
  if (recipe.kind === 'truncate') parts.push(all[recipe.from]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 12);
}

async function addRotation(input: string, output: string, degrees: number): Promise<void> {
  try {
    // ffmpeg >= 6 sets the display matrix with an input option.
    await runner.run(ffmpeg(), [...quiet, '-display_rotation', String(degrees), '-i', input, '-c', 'copy', output]);
  } catch {
    // ffmpeg 5 still turns the `rotate` tag into a display matrix when stream-copying.
    await runner.run(ffmpeg(), [...quiet, '-i', input, '-c', 'copy', '-metadata:s:v:0', `rotate=${degrees}`, output]);
  }
}

async function build(
  name: MediaFixtureName,
  all: Record<MediaFixtureName, Recipe>,
  target: string,
  resolveFixture: (name: MediaFixtureName) => Promise<string>,
): Promise<void> {
  const recipe = all[name];
  const temp = `${target.slice(0, -recipe.ext.length - 1)}.tmp-${randomUUID()}.${recipe.ext}`;
  const stage = `${temp}.stage.${recipe.ext}`;
  try {
    switch (recipe.kind) {
      case 'ffmpeg':
        await runner.run(ffmpeg(), [...quiet, ...recipe.args, temp]);
        break;
      case 'rotate':
        await runner.run(ffmpeg(), [...quiet, ...recipe.args, stage]);
        await addRotation(stage, temp, recipe.degrees);
        break;
      case 'truncate': {
        const source = await resolveFixture(recipe.from);
        const handle = await open(source, 'r');
        try {
          const { size } = await handle.stat();
          const buffer = Buffer.alloc(Math.floor(size * recipe.fraction));
          await handle.read(buffer, 0, buffer.length, 0);
          await writeFile(temp, buffer);
        } finally {
          await handle.close();
        }
        break;
      }
      case 'text':
        await writeFile(temp, recipe.content);
        break;
    }
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
    await rm(stage, { force: true });
  }
}

function fixtureStore(
  dir: string,
  reuse: boolean,
  fileName: (name: MediaFixtureName, hash: string, ext: string) => string,
) {
  const made = new Map<MediaFixtureName, Promise<string>>();
  const resolveFixture = (name: MediaFixtureName): Promise<string> => {
    let promise = made.get(name);
    if (promise === undefined) {
      promise = (async () => {
        const all = recipes(await detectX265());
        const target = path.resolve(dir, fileName(name, recipeHash(all, name), all[name].ext));
        if (!reuse || !existsSync(target)) {
          await mkdir(dir, { recursive: true });
          await build(name, all, target, resolveFixture);
        }
        return target;
      })();
      made.set(name, promise);
      promise.catch(() => made.delete(name));
    }
    return promise;
  };
  return resolveFixture;
}

const cached = fixtureStore(
  path.join(os.tmpdir(), 'reelin-media-fixtures'),
  true,
  (name, hash, ext) => `${name}-${hash}.${ext}`,
);

/** The absolute path of a fixture, generated on first use and cached under the system temp folder. */
export function mediaFixture(name: MediaFixtureName): Promise<string> {
  return cached(name);
}

/** Writes every fixture to `outDir` as `<name>.<ext>` (one at a time, to keep the machine usable). */
export async function writeMediaFixtures(outDir: string): Promise<string[]> {
  const store = fixtureStore(outDir, false, (name, _hash, ext) => `${name}.${ext}`);
  const written: string[] = [];
  for (const name of mediaFixtureNames) written.push(await store(name));
  return written;
}
