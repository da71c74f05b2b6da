/**
 * Finds ffmpeg and ffprobe and works out what they can do.
 *
 * Each binary is looked for in order: an explicitly configured path, then the directories of PATH,
 * then the binaries shipped in the optional npm packages @ffmpeg-installer/ffmpeg and
 * @ffprobe-installer/ffprobe (so a plain `npm install` works on a machine without ffmpeg). System
 * binaries must be version 5 or newer; a bundled binary is used whatever its version, because it is
 * the last resort, and any feature its build lacks is reported rather than faked: the filter and
 * encoder lists are read once and every `MediaFeature` whose requirements are not met gets a reason.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Confinement, ProcessRunner } from './process-runner.js';

export type MediaFeature =
  'metadata' | 'thumbnails' | 'fullFrames' | 'webVideo' | 'qualityAssessment' | 'scanTypeAnalysis' | 'clip';

/** Each inner list is a set of alternatives: at least one of them must be present. */
export interface FeatureRequirement {
  filters: readonly (readonly string[])[];
  encoders: readonly (readonly string[])[];
}

export const featureRequirements: Readonly<Record<MediaFeature, FeatureRequirement>> = {
  metadata: { filters: [], encoders: [] },
  thumbnails: {
    filters: [['scale'], ['signalstats'], ['entropy'], ['setsar'], ['split'], ['trim'], ['concat'], ['metadata']],
    encoders: [['mjpeg', 'libwebp']],
  },
  fullFrames: { filters: [['scale'], ['setsar']], encoders: [['png']] },
  webVideo: { filters: [['scale'], ['setsar'], ['bwdif', 'yadif']], encoders: [['libx264'], ['aac']] },
  qualityAssessment: {
    filters: [
      ['signalstats'],
      ['blurdetect'],
      ['blockdetect'],
      ['removegrain'],
      ['psnr'],
      ['split'],
      ['trim'],
      ['concat'],
      ['metadata'],
    ],
    encoders: [],
  },
  scanTypeAnalysis: { filters: [['idet'], ['trim'], ['concat'], ['metadata']], encoders: [] },
  clip: {
    filters: [],
    encoders: [
      ['prores_ks', 'ffv1'],
      ['pcm_s16le', 'pcm_s24le'],
    ],
  },
};

const featureLabels: Record<MediaFeature, string> = {
  metadata: 'video metadata',
  thumbnails: 'thumbnails',
  fullFrames: 'full frames',
  webVideo: 'the web video',
  qualityAssessment: 'the quality assessment',
  scanTypeAnalysis: 'scan-type analysis',
  clip: 'the clip',
};

/** What was found; built once at start-up and passed to whatever runs ffmpeg. */
export interface MediaTools {
  ffmpegPath: string;
  ffprobePath: string;
  /** The version as ffmpeg prints it, e.g. `5.1.8-0+deb12u1`. */
  ffmpegVersion: string;
  ffprobeVersion: string;
  /** Where ffmpeg came from (ffprobe's origin is `ffprobeSource`). */
  source: ToolSource;
  ffprobeSource: ToolSource;
  filters: ReadonlySet<string>;
  encoders: ReadonlySet<string>;
  /** Features this ffmpeg cannot provide, each with a sentence saying why. */
  unavailable: ReadonlyMap<MediaFeature, string>;
}

export type ToolSource = 'configured' | 'path' | 'bundled';

export interface DiscoverMediaToolsOptions {
  /** Explicit binary paths (REELIN_FFMPEG_PATH / REELIN_FFPROBE_PATH); used as given, never replaced. */
  ffmpegPath?: string;
  ffprobePath?: string;
  /** The PATH to search, as the environment holds it. */
  pathEnv: string;
  runner: ProcessRunner;
  /** Loads a bundled-binary package; replaceable in tests. Resolves to null when it is not installed. */
  loadBundled?: (packageName: string) => Promise<{ path: string } | null>;
  /** Checks that a file exists and is executable; replaceable in tests. */
  isExecutable?: (file: string) => Promise<boolean>;
}

/**
 * A local file path as an ffmpeg output argument. Relative paths get the `file:` protocol so that
 * a name like `a:b.mp4` is not taken for a protocol, nor `-x.mp4` for an option. (Inputs, stored
 * files, go through media-input.ts with their whitelists.)
 */
export function fileArgument(filePath: string): string {
  return path.isAbsolute(filePath) ? filePath : `file:${filePath}`;
}

/** Parses `ffmpeg -hide_banner -filters` into filter names. */
export function parseFilterList(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    // " TSC bwdif             V->V       Deinterlace the input image."
    const match = /^\s*[T.|][S.|][C.|]?\s+(\S+)\s+\S*->\S*\s/.exec(line);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return names;
}

/** Parses `ffmpeg -hide_banner -encoders` into encoder names. */
export function parseEncoderList(text: string): Set<string> {
  const names = new Set<string>();
  const separator = text.indexOf('------');
  const body = separator === -1 ? text : text.slice(separator + 6);
  for (const line of body.split('\n')) {
    // " V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC"
    const match = /^\s*[VAS][F.][S.][X.][B.][D.]\s+(\S+)\s/.exec(line);
    if (match?.[1] !== undefined && match[1] !== '=') names.add(match[1]);
  }
  return names;
}

/**
 * Reads the version from `-version` output. Builds from git (`N-112345-g...`) carry no release
 * number, so their major release is derived from libavcodec's major version, which has moved in
 * step with releases since FFmpeg 4 (libavcodec 58 = 4.x, 59 = 5.x, 60 = 6.x, 61 = 7.x).
 */
export function parseToolVersion(text: string): { version: string; major: number | null } | null {
  const match = /^\S+ version (\S+)/m.exec(text);
  if (match?.[1] === undefined) return null;
  const version = match[1];
  const release = /^n?(\d+)\./.exec(version)?.[1];
  if (release !== undefined) return { version, major: Number(release) };
  const libavcodec = /^libavcodec\s+(\d+)\./m.exec(text)?.[1];
  return { version, major: libavcodec === undefined ? null : Number(libavcodec) - 54 };
}

/** Which features the given filters and encoders cannot support, and why. */
export function findUnavailableFeatures(
  filters: ReadonlySet<string>,
  encoders: ReadonlySet<string>,
  describeTool: string,
): Map<MediaFeature, string> {
  const unavailable = new Map<MediaFeature, string>();
  for (const [feature, requirement] of Object.entries(featureRequirements) as [MediaFeature, FeatureRequirement][]) {
    const missing = [
      ...requirement.filters
        .filter((group) => !group.some((name) => filters.has(name)))
        .map((group) => `the ${group.join(' or ')} filter`),
      ...requirement.encoders
        .filter((group) => !group.some((name) => encoders.has(name)))
        .map((group) => `the ${group.join(' or ')} encoder`),
    ];
    if (missing.length > 0) {
      unavailable.set(
        feature,
        `${featureLabels[feature]} needs ${missing.join(', ')}, which ${describeTool} lacks; install an ffmpeg build that has ${missing.length > 1 ? 'them' : 'it'}`,
      );
    }
  }
  return unavailable;
}

async function defaultIsExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function defaultLoadBundled(packageName: string): Promise<{ path: string } | null> {
  try {
    // A variable specifier, because the package is optional and may be absent at compile time.
    const loaded = (await import(packageName)) as { default?: { path?: unknown }; path?: unknown };
    const found = loaded.default?.path ?? loaded.path;
    return typeof found === 'string' ? { path: found } : null;
  } catch {
    return null;
  }
}

/** The first executable `name` in the PATH directories (absolute directories only). */
export async function findOnPath(
  name: string,
  pathEnv: string,
  isExecutable: (file: string) => Promise<boolean>,
): Promise<string | null> {
  for (const dir of pathEnv.split(path.delimiter)) {
    // A relative PATH entry would make the result depend on the working directory.
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

interface FoundTool {
  path: string;
  version: string;
  source: ToolSource;
}

async function readVersion(
  runner: ProcessRunner,
  binary: string,
): Promise<{ version: string; major: number | null } | null> {
  try {
    const { stdout } = await runner.run(binary, ['-hide_banner', '-version'], {
      timeoutMs: 15_000,
      maxStdoutBytes: 1024 * 1024,
    });
    return parseToolVersion(stdout);
  } catch {
    return null;
  }
}

async function locate(
  name: 'ffmpeg' | 'ffprobe',
  configured: string | undefined,
  options: DiscoverMediaToolsOptions,
): Promise<FoundTool> {
  const variable = name === 'ffmpeg' ? 'REELIN_FFMPEG_PATH' : 'REELIN_FFPROBE_PATH';
  if (configured !== undefined && configured !== '') {
    const version = await readVersion(options.runner, configured);
    if (version === null)
      throw new Error(
        `${variable} is ${configured}, which is not a working ${name}: point it at an ${name} binary or unset it`,
      );
    return { path: configured, version: version.version, source: 'configured' };
  }
  const isExecutable = options.isExecutable ?? defaultIsExecutable;
  const onPath = await findOnPath(name, options.pathEnv, isExecutable);
  let rejected = '';
  if (onPath !== null) {
    const version = await readVersion(options.runner, onPath);
    if (version?.major != null && version.major >= 5) return { path: onPath, version: version.version, source: 'path' };
    rejected =
      version === null ? ` (${onPath} does not run)` : ` (${onPath} is version ${version.version}, not 5 or newer)`;
  }
  const packageName = name === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
  const bundled = await (options.loadBundled ?? defaultLoadBundled)(packageName);
  if (bundled !== null) {
    const version = await readVersion(options.runner, bundled.path);
    if (version !== null) return { path: bundled.path, version: version.version, source: 'bundled' };
  }
  throw new Error(
    `no usable ${name} was found${rejected}: install ffmpeg 5 or newer (for example \`apt-get install ffmpeg\`), set ${variable}, or install the optional package ${packageName}`,
  );
}

/** Finds ffmpeg and ffprobe and reads their capabilities; throws one clear sentence when either is missing. */
export async function discoverMediaTools(options: DiscoverMediaToolsOptions): Promise<MediaTools> {
  const ffmpeg = await locate('ffmpeg', options.ffmpegPath, options);
  const ffprobe = await locate('ffprobe', options.ffprobePath, options);
  const listOptions = { timeoutMs: 15_000, maxStdoutBytes: 4 * 1024 * 1024 };
  const [filterText, encoderText] = await Promise.all([
    options.runner.run(ffmpeg.path, ['-hide_banner', '-filters'], listOptions),
    options.runner.run(ffmpeg.path, ['-hide_banner', '-encoders'], listOptions),
  ]);
  const filters = parseFilterList(filterText.stdout);
  const encoders = parseEncoderList(encoderText.stdout);
  return {
    ffmpegPath: ffmpeg.path,
    ffprobePath: ffprobe.path,
    ffmpegVersion: ffmpeg.version,
    ffprobeVersion: ffprobe.version,
    source: ffmpeg.source,
    ffprobeSource: ffprobe.source,
    filters,
    encoders,
    unavailable: findUnavailableFeatures(filters, encoders, `ffmpeg ${ffmpeg.version} (${ffmpeg.path})`),
  };
}

/**
 * Finds util-linux's prlimit (required: it sets every run's CPU-time and memory limits) and setpriv
 * (optional: it makes a run die with its worker) on PATH; throws one sentence when prlimit is missing.
 */
export async function findConfinement(
  pathEnv: string,
  isExecutable: (file: string) => Promise<boolean> = defaultIsExecutable,
): Promise<Confinement> {
  const prlimitPath = await findOnPath('prlimit', pathEnv, isExecutable);
  if (prlimitPath === null) {
    throw new Error(
      'prlimit was not found on PATH: install util-linux (Debian and Ubuntu ship it), which sets the CPU-time and memory limits of every ffmpeg run',
    );
  }
  return { prlimitPath, setprivPath: await findOnPath('setpriv', pathEnv, isExecutable) };
}
