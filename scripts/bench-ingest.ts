/**
 * The ingestion benchmark (`npm run bench:ingest -- --help`).
 *
 * 1. Full ingestion: a generated 60-second 1080p H.264/AAC file is imported through the API of the
 *    real service (in this process, embedded database) with fullIngestion=true and the team's free
 *    clip turned off, and timed from the ingestion's start to its end as the database records them.
 *    Every ffmpeg/ffprobe command the service ran is recorded, then run again bare, one after the
 *    other, as the reference: the ratio is what the service adds (storing artifacts, database
 *    writes, scheduling). Target: within 1.3x.
 * 2. Metadata-only ingestion of a large file (the same video looped, stream-copied, default 4 GiB),
 *    timed the same way. Target: under 2 s whatever the size.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { videoIngestions } from '../src/db/schema.js';
import { findConfinement } from '../src/media/ffmpeg-tools.js';
import {
  ChildProcessRunner,
  type ProcessRunner,
  type RunOptions,
  type RunResult,
} from '../src/media/process-runner.js';
import { startE2eFixture, type E2eFixture } from '../tests/support/e2e-fixture.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const benchDir = path.join(repoRoot, '.bench');
const GIB = 1024 ** 3;

const usage = `npm run bench:ingest -- [--large-gib N] [--skip-large]

  --large-gib N   size of the file for the metadata-only run (default 4)
  --skip-large    only the full-ingestion run`;

interface RecordedCommand {
  binary: string;
  args: readonly string[];
  withProgress: boolean;
  seconds: number;
}

/** Wraps the real runner, recording every command the service runs and how long it took. */
class RecordingRunner implements ProcessRunner {
  readonly commands: RecordedCommand[] = [];

  constructor(private readonly inner: ChildProcessRunner) {}

  async run(binary: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    const started = performance.now();
    const result = await this.inner.run(binary, args, options);
    this.commands.push({
      binary,
      args,
      withProgress: options?.onProgress !== undefined,
      seconds: (performance.now() - started) / 1000,
    });
    return result;
  }
}

async function ensureMaster(): Promise<string> {
  const file = path.join(benchDir, 'ingest-60s-1080p25.mp4');
  if (
    await fs.stat(file).then(
      () => true,
      () => false,
    )
  )
    return file;
  await fs.mkdir(benchDir, { recursive: true });
  console.log('generating a 60 s 1080p25 H.264/AAC master (once; cached in .bench/)');
  const temp = `${file}.tmp.mp4`;
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=25:duration=60',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:duration=60',
    '-c:v',
    'libx264',
    '-preset',
    'fast',
    '-crf',
    '20',
    '-pix_fmt',
    'yuv420p',
    '-g',
    '50',
    '-c:a',
    'aac',
    '-b:a',
    '128k',
    '-shortest',
    temp,
  ]);
  await fs.rename(temp, file);
  return file;
}

async function ensureLarge(master: string, targetBytes: number): Promise<string> {
  const file = path.join(benchDir, `ingest-large-${Math.round(targetBytes / GIB)}gib.mp4`);
  if (
    await fs.stat(file).then(
      () => true,
      () => false,
    )
  )
    return file;
  const loops = Math.max(0, Math.ceil(targetBytes / (await fs.stat(master)).size) - 1);
  console.log(
    `generating a ${(targetBytes / GIB).toFixed(1)} GiB file: the master looped ${loops + 1} times, stream-copied (once; cached)`,
  );
  const temp = `${file}.tmp.mp4`;
  await run(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(loops), '-i', master, '-c', 'copy', temp],
    { maxBuffer: 1 << 20 },
  );
  await fs.rename(temp, file);
  return file;
}

/** Imports a file from the origin and waits for its ingestion; returns the ingestion's own run time. */
async function ingest(
  fx: E2eFixture,
  file: string,
  fullIngestion: boolean,
): Promise<{ videoId: string; seconds: number }> {
  const { size } = await fs.stat(file);
  const urlPath = `/bench/${path.basename(file)}`;
  fx.origin.setFile(urlPath, { path: file, size, contentType: 'video/mp4' });
  const created = await fx.service.api(
    'POST',
    `/api/v1/videos/in/https?fullIngestion=${fullIngestion}&maxConcurrentConnections=10`,
    { body: { name: path.basename(file), url: fx.url(urlPath) } },
  );
  if (created.status !== 201) throw new Error(`import refused: ${created.text}`);
  const videoId = created.body.videoId as string;
  const video = await fx.service.waitForVideo(
    videoId,
    (v) => ['DONE', 'FAILED'].includes(v.ingestion.ingestionState.ingestionStatus),
    30 * 60_000,
  );
  if (video.ingestion.ingestionState.ingestionStatus !== 'DONE')
    throw new Error(`ingestion failed: ${JSON.stringify(video.ingestion.ingestionState)}`);
  const [row] = await fx.service.app.connection.db
    .select()
    .from(videoIngestions)
    .where(eq(videoIngestions.videoId, videoId));
  if (!row?.startedAt || !row.finishedAt) throw new Error('the ingestion has no start or end time');
  return { videoId, seconds: (row.finishedAt.getTime() - row.startedAt.getTime()) / 1000 };
}

/** Runs recorded commands again, bare, in order; output folders are made as the service made them. */
async function replay(commands: readonly RecordedCommand[], workDir: string): Promise<number> {
  const runner = new ChildProcessRunner();
  for (const command of commands) {
    for (const arg of command.args) {
      if (path.isAbsolute(arg) && arg.startsWith(workDir + path.sep))
        await fs.mkdir(path.dirname(arg), { recursive: true });
    }
  }
  const started = performance.now();
  for (const command of commands) {
    await runner.run(command.binary, command.args, command.withProgress ? { onProgress: () => undefined } : {});
  }
  const seconds = (performance.now() - started) / 1000;
  await fs.rm(workDir, { recursive: true, force: true });
  return seconds;
}

function describeCommand(command: RecordedCommand): string {
  const name = path.basename(command.binary);
  if (name === 'ffprobe') return 'ffprobe (metadata)';
  const graph =
    command.args[command.args.indexOf('-filter_complex') + 1] ?? command.args[command.args.indexOf('-vf') + 1] ?? '';
  if (graph.includes('idet')) return 'ffmpeg idet (scan type)';
  if (graph.includes('blurdetect')) return 'ffmpeg quality assessment';
  if (command.args.includes('libx264')) return 'ffmpeg web video';
  if (graph.includes('entropy') || graph.includes('signalstats')) return 'ffmpeg still analysis';
  return 'ffmpeg stills';
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(usage);
    return 0;
  }
  const largeIndex = argv.indexOf('--large-gib');
  const largeGib = largeIndex >= 0 ? Number(argv[largeIndex + 1]) : 4;
  if (!(largeGib > 0)) {
    console.error(`--large-gib must be a positive number\n\n${usage}`);
    return 2;
  }
  const master = await ensureMaster();
  const large = argv.includes('--skip-large') ? null : await ensureLarge(master, largeGib * GIB);

  // Confined like the service's own runner: the limits are part of what an ingestion costs.
  const recorder = new RecordingRunner(new ChildProcessRunner(await findConfinement(process.env.PATH ?? '')));
  const fx = await startE2eFixture(
    'pglite',
    { REELIN_COPY_MIN_PART_SIZE_BYTES: String(8 * 1024 * 1024), REELIN_MEDIA_PROGRESS_INTERVAL_MS: '1000' },
    { mediaRunner: recorder },
  );
  try {
    // Start-up's capability probes (-version, -filters, -encoders) are not part of an ingestion.
    recorder.commands.length = 0;
    const team = (await fx.service.api('GET', '/api/v1/account')).body.defaultTeam;
    await fx.service.api('PATCH', `/api/v1/teams/${team.id}`, { body: { freeClipEnabled: false } });

    const full = await ingest(fx, master, true);
    const commands = [...recorder.commands];
    const bare = await replay(commands, fx.service.app.config.media.workDir);
    console.log(
      `\nfull ingestion of a 60 s 1080p25 H.264 file (${((await fs.stat(master)).size / 1e6).toFixed(1)} MB)`,
    );
    for (const command of commands)
      console.log(
        `  ${describeCommand(command).padEnd(28)} ${command.seconds.toFixed(2).padStart(7)} s in the service`,
      );
    const ratio = full.seconds / bare;
    console.log(
      `  service: ${full.seconds.toFixed(2)} s   bare commands: ${bare.toFixed(2)} s   ratio: ${ratio.toFixed(3)}x   target <= 1.3x: ${ratio <= 1.3 ? 'MET' : 'MISSED'}`,
    );

    if (large !== null) {
      const { size } = await fs.stat(large);
      recorder.commands.length = 0;
      const metadataOnly = await ingest(fx, large, false);
      const probeSeconds = recorder.commands.reduce((sum, command) => sum + command.seconds, 0);
      console.log(`\nmetadata-only ingestion of a ${(size / GIB).toFixed(2)} GiB file`);
      console.log(
        `  service: ${metadataOnly.seconds.toFixed(2)} s (ffprobe ${probeSeconds.toFixed(2)} s)   target < 2 s: ${metadataOnly.seconds < 2 ? 'MET' : 'MISSED'}`,
      );
    }
    return 0;
  } finally {
    await fx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
