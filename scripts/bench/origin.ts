/**
 * The benchmark's HTTPS origin, run as its own process (`node --import tsx scripts/bench/origin.ts
 * <pkiDir> <filePath> <sizeBytes> <throttleBytesPerSecondPerConnection>`), so the CPU it spends on
 * TLS and file reads is neither counted against the service nor competes with it inside one event
 * loop. It serves the first `sizeBytes` bytes of the file as /bench.bin, with ranges; a throttle
 * of 0 means none; /warmup.bin, never throttled, is the first few MiB, for the service's warm-up.
 * It prints `{"port":N}` on stdout once listening, stops on SIGTERM/SIGINT, and exits when its
 * stdin closes, so it never outlives a benchmark that was killed outright.
 *
 * A line `timing` on stdin answers, as one JSON line on stdout, when the copy's first range request
 * of /bench.bin arrived and when the last one ended (epoch ms, the machine's one clock), and forgets
 * the requests seen so far; the import's probe (bytes 0-0) does not count as the copy's.
 */
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startOriginServer, type OriginRequestRecord } from '../../tests/support/origin-server.js';
import type { TestPki } from '../../tests/support/test-pki.js';
import { BENCH_FILE_PATH, WARMUP_BYTES, WARMUP_FILE_PATH } from './origin-process.js';

interface OriginArgs {
  pkiDir: string;
  filePath: string;
  sizeBytes: number;
  throttleBytesPerSecond: number;
}

function parseOriginArgs(argv: readonly string[]): OriginArgs {
  const [pkiDir, filePath, sizeText, throttleText] = argv;
  const sizeBytes = Number(sizeText);
  const throttleBytesPerSecond = Number(throttleText);
  if (
    !pkiDir ||
    !filePath ||
    !Number.isSafeInteger(sizeBytes) ||
    sizeBytes <= 0 ||
    !Number.isSafeInteger(throttleBytesPerSecond) ||
    throttleBytesPerSecond < 0
  ) {
    throw new Error(
      'usage: origin.ts <pkiDir> <filePath> <sizeBytes> <throttleBytesPerSecondPerConnection, 0 for none>',
    );
  }
  return { pkiDir, filePath, sizeBytes, throttleBytesPerSecond };
}

/** The PKI the parent created with createTestPki; the parent owns (and removes) its folder. */
async function loadPki(dir: string): Promise<TestPki> {
  const [caCertPem, serverCertPem, serverKeyPem] = await Promise.all(
    ['ca.crt', 'server.crt', 'server.key'].map((name) => readFile(path.join(dir, name), 'utf8')),
  );
  return {
    dir,
    caCertPem: caCertPem!,
    caCertPath: path.join(dir, 'ca.crt'),
    serverCertPem: serverCertPem!,
    serverKeyPem: serverKeyPem!,
    cleanup: async () => undefined,
  };
}

/** The copy's range requests of the benchmark file: from the first one's arrival to the last one's end. */
function copyTiming(requests: readonly OriginRequestRecord[]): {
  firstRangeAt: number | null;
  lastByteAt: number | null;
} {
  const copy = requests.filter(
    (entry) => entry.path.split('?')[0] === BENCH_FILE_PATH && entry.range !== null && entry.range !== 'bytes=0-0',
  );
  if (copy.length === 0) return { firstRangeAt: null, lastByteAt: null };
  return {
    firstRangeAt: Math.min(...copy.map((entry) => entry.startedAt)),
    lastByteAt: Math.max(...copy.map((entry) => entry.endedAt ?? entry.startedAt)),
  };
}

async function main(): Promise<void> {
  const args = parseOriginArgs(process.argv.slice(2));
  const origin = await startOriginServer({ pki: await loadPki(args.pkiDir), host: '127.0.0.1' });
  origin.setFile(BENCH_FILE_PATH, {
    path: args.filePath,
    size: args.sizeBytes,
    contentType: 'application/octet-stream',
  });
  // Unthrottled: the service's warm-up import before a timed one should not take long.
  origin.setFile(WARMUP_FILE_PATH, {
    path: args.filePath,
    size: Math.min(args.sizeBytes, WARMUP_BYTES),
    contentType: 'application/octet-stream',
  });
  if (args.throttleBytesPerSecond > 0)
    origin.setBehaviour(BENCH_FILE_PATH, { throttleBytesPerSecondPerConnection: args.throttleBytesPerSecond });
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    void origin.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  process.stdin.once('close', close);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'timing') return;
    process.stdout.write(`${JSON.stringify(copyTiming(origin.stats.requests))}\n`);
    origin.resetStats();
  });
  process.stdout.write(`${JSON.stringify({ port: origin.port })}\n`);
}

main().catch((error: unknown) => {
  console.error(`bench origin: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
