/**
 * One reelin run: a fresh service process copies the origin's file through the public API while
 * its CPU time and memory are read from /proc; then the stored file is checked byte for byte
 * (size and CRC32C) against the source, and so is the checksum the service itself reports.
 *
 * Before the timed copy the service imports a few MiB of the same file once, untimed, and the
 * run waits until that import's ingestion has ended: the timed copy then meets a service in use
 * (its code paths compiled by the JIT, its database's first statements planned), not one whose
 * first request it is, and no other work of the service overlaps it.
 */
import path from 'node:path';
import type { CleanupStack } from './cleanup.js';
import { RssSampler, kibToMb, readCpuSeconds, readMemoryKib, settleDisk } from './proc-stats.js';
import { ReelinApi } from './reelin-api.js';
import { checkCopy, formatCrc, toRunResult, type CopyTarget, type RunResult } from './results.js';
import { startService, type ServiceProcess } from './service-process.js';
import { checksumFile } from './source-file.js';

export interface ReelinRunContext {
  repoRoot: string;
  caCertPath: string;
  ticksPerSecond: number;
  cpuProfDir: string | null;
  serviceEnv: Readonly<Record<string, string>>;
  databaseUrl: string | null;
  cleanup: CleanupStack;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function runReelin(
  context: ReelinRunContext,
  target: CopyTarget,
  connections: number,
  attempt: number,
): Promise<RunResult> {
  const service = await startService({
    repoRoot: context.repoRoot,
    originPort: target.originPort,
    caCertPath: context.caCertPath,
    cpuProfDir: context.cpuProfDir,
    extraEnv: context.serviceEnv,
    databaseUrl: context.databaseUrl,
    cleanup: context.cleanup,
  });
  try {
    const api = new ReelinApi(service.url, service.apiKey);
    await warmUp(api, target, connections);
    const measured = await measureCopy(context, service, api, target, connections);
    await verifyCopy(service, api, measured.videoId, target);
    await printCopySteps(service, measured.videoId);
    return toRunResult({
      tool: 'reelin',
      connections,
      effectiveConnections: connections,
      target,
      attempt,
      ...measured.figures,
    });
  } catch (error) {
    const tail = await service.logTail();
    throw new Error(
      `reelin with ${connections} connection(s): ${error instanceof Error ? error.message : String(error)}${tail ? `\n--- service log ---\n${tail}` : ''}`,
      { cause: error },
    );
  } finally {
    await service.stop();
  }
}

interface MeasuredCopy {
  videoId: string;
  figures: {
    seconds: number;
    cpuSeconds: number;
    peakRssMb: number;
    hwmRssMb: number;
    idleRssMb: number;
    postToFirstRangeMs: number | null;
    lastByteToDoneMs: number | null;
  };
}

/** One untimed import of the warm-up file, to DONE and through its ingestion. */
async function warmUp(api: ReelinApi, target: CopyTarget, connections: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  const videoId = await api.startHttpsImport(target.warmupUrl, connections);
  await api.waitUntilDone(videoId, deadline);
  await api.waitUntilIngestionEnded(videoId, deadline);
}

/** Samples the service's CPU and memory around the copy. */
async function measureCopy(
  context: ReelinRunContext,
  service: ServiceProcess,
  api: ReelinApi,
  target: CopyTarget,
  connections: number,
): Promise<MeasuredCopy> {
  await settleDisk();
  const sampler = new RssSampler(service.pid);
  const idleKib = await readMemoryKib(service.pid, 'VmRSS');
  const cpuBefore = await readCpuSeconds(service.pid, context.ticksPerSecond);
  sampler.start();
  const timed = await timeCopy(api, target, connections).catch(async (error: unknown) => {
    await sampler.stop();
    throw error;
  });
  const cpuSeconds = (await readCpuSeconds(service.pid, context.ticksPerSecond)) - cpuBefore;
  const { peakKib } = await sampler.stop();
  const hwmKib = await readMemoryKib(service.pid, 'VmHWM');
  return {
    videoId: timed.videoId,
    figures: {
      seconds: timed.seconds,
      cpuSeconds,
      peakRssMb: kibToMb(peakKib),
      hwmRssMb: kibToMb(hwmKib),
      idleRssMb: kibToMb(idleKib),
      postToFirstRangeMs: timed.postToFirstRangeMs,
      lastByteToDoneMs: timed.lastByteToDoneMs,
    },
  };
}

/**
 * Wall time from sending the POST to the moment the service marked the import DONE, and the fixed
 * costs at both ends: POST to the origin's first range request, the origin's last byte to DONE.
 */
async function timeCopy(
  api: ReelinApi,
  target: CopyTarget,
  connections: number,
): Promise<{ videoId: string; seconds: number; postToFirstRangeMs: number | null; lastByteToDoneMs: number | null }> {
  // Forgets the warm-up's requests.
  await target.originTiming();
  const startedAt = Date.now();
  const videoId = await api.startHttpsImport(target.url, connections);
  const doneAt = await api.waitUntilDone(videoId, copyDeadline(target.sizeBytes));
  const { firstRangeAt, lastByteAt } = await target.originTiming();
  return {
    videoId,
    seconds: (doneAt - startedAt) / 1000,
    postToFirstRangeMs: firstRangeAt === null ? null : firstRangeAt - startedAt,
    lastByteToDoneMs: lastByteAt === null ? null : doneAt - lastByteAt,
  };
}

/** Generous: a minute plus 1 MB/s. A run slower than that is broken, not slow. */
export function copyDeadline(sizeBytes: number): number {
  return Date.now() + 60_000 + sizeBytes / 1_000;
}

async function verifyCopy(service: ServiceProcess, api: ReelinApi, videoId: string, target: CopyTarget): Promise<void> {
  const teamId = await api.teamIdOf(videoId);
  if (!uuidPattern.test(teamId) || !uuidPattern.test(videoId))
    throw new Error(`unexpected ids: team ${teamId}, video ${videoId}`);
  const storedPath = path.join(service.dataDir, 'storage', 'teams', teamId, 'videos', videoId, 'source');
  checkCopy(`the stored file ${storedPath}`, await checksumFile(storedPath), target);
  const reported = await api.downloadInfo(videoId);
  if (reported.fileSize !== target.sizeBytes || reported.crc32cChecksum >>> 0 !== target.crc32c) {
    throw new Error(
      `the service reports ${reported.fileSize} bytes with CRC32C ${formatCrc(reported.crc32cChecksum)}, but the source has ${target.sizeBytes} bytes with ${formatCrc(target.crc32c)}`,
    );
  }
}

/**
 * The service's own account of where the copy's time went ('copy done' logs the steps), printed
 * when its log has it: with `--service-env REELIN_LOG_LEVEL=info` (the default level, warn, omits it).
 */
async function printCopySteps(service: ServiceProcess, videoId: string): Promise<void> {
  const line = (await service.logText())
    .split('\n')
    .find((entry) => entry.includes('"copy done"') && entry.includes(videoId));
  if (line === undefined) return;
  try {
    const steps = (JSON.parse(line) as { stepsMs?: unknown }).stepsMs;
    console.log(`         copy steps (ms, from the job's start): ${JSON.stringify(steps)}`);
  } catch {
    // A line cut by the tail's window: nothing to print.
  }
}
