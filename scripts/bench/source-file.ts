/**
 * The benchmark's source file and CRC32C checks. The file is random (so nothing on the way can
 * compress or deduplicate it), written once in chunks and reused while it has the right size.
 * Checksums are computed by streaming, so neither step ever holds a whole file in memory.
 */
import { randomFill } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';

/** Fills `buffer[0, length)` with random bytes on libuv's pool (promisify picks randomFill's one-argument overload). */
function fillRandom(buffer: Buffer, length: number): Promise<void> {
  return new Promise((resolve, reject) =>
    randomFill(buffer, 0, length, (error) => (error ? reject(error) : resolve())),
  );
}

const WRITE_CHUNK_BYTES = 8 * 1024 * 1024;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export interface SourceFile {
  path: string;
  sizeBytes: number;
  /** False when an existing file of the right size was reused. */
  generated: boolean;
}

/** Returns `<dir>/source-<size>.bin`, generating it first unless it exists with `sizeBytes` bytes. */
export async function ensureSourceFile(dir: string, sizeBytes: number): Promise<SourceFile> {
  await fs.mkdir(dir, { recursive: true });
  const filePath = path.join(dir, `source-${sizeBytes}.bin`);
  const existing = await fs.stat(filePath).catch(() => null);
  if (existing?.isFile() && existing.size === sizeBytes) return { path: filePath, sizeBytes, generated: false };
  // Written under a temporary name and renamed, so an interrupted run never leaves a short file
  // under the final name for the next run to reuse.
  const partialPath = `${filePath}.partial`;
  await writeRandomFile(partialPath, sizeBytes);
  await fs.rename(partialPath, filePath);
  return { path: filePath, sizeBytes, generated: true };
}

async function writeRandomFile(filePath: string, sizeBytes: number): Promise<void> {
  const handle = await fs.open(filePath, 'w');
  try {
    const buffer = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    for (let written = 0; written < sizeBytes;) {
      const length = Math.min(WRITE_CHUNK_BYTES, sizeBytes - written);
      await fillRandom(buffer, length);
      for (let offset = 0; offset < length;) {
        const { bytesWritten } = await handle.write(buffer, offset, length - offset, written + offset);
        offset += bytesWritten;
      }
      written += length;
    }
    // On disk before the first run starts, so writing back 2 GiB of dirty pages does not compete
    // with (and slow down) the first copies.
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface FileChecksum {
  sizeBytes: number;
  /** Unsigned 32-bit CRC32C (Castagnoli), the same value the service reports. */
  crc32c: number;
}

/** Size and CRC32C of a whole file, streamed. */
export async function checksumFile(filePath: string): Promise<FileChecksum> {
  let crc = 0;
  let sizeBytes = 0;
  for await (const chunk of createReadStream(filePath, { highWaterMark: READ_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    crc = crc32c(chunk, crc);
    sizeBytes += chunk.length;
  }
  return { sizeBytes, crc32c: crc >>> 0 };
}

/**
 * The CRC32C of each of the file's first `prefixBytes[i]` bytes, in one streamed pass (throttled
 * runs copy a prefix of the source file).
 */
export async function checksumPrefixes(filePath: string, prefixBytes: readonly number[]): Promise<Map<number, number>> {
  const wanted = [...new Set(prefixBytes)].sort((a, b) => a - b);
  const results = new Map<number, number>();
  const last = wanted.at(-1);
  if (last === undefined) return results;
  let crc = 0;
  let offset = 0;
  let next = 0;
  if (wanted[0] === 0) results.set(0, 0);
  const stream = createReadStream(filePath, {
    highWaterMark: READ_CHUNK_BYTES,
    start: 0,
    end: last - 1,
  }) as AsyncIterable<Buffer>;
  for await (const chunk of stream) {
    let position = 0;
    // A chunk may end several prefixes; each gets the CRC up to its own last byte.
    while (next < wanted.length && (wanted[next] ?? 0) <= offset + chunk.length) {
      const prefix = wanted[next] ?? 0;
      crc = crc32c(chunk.subarray(position, prefix - offset), crc);
      position = prefix - offset;
      if (prefix > 0) results.set(prefix, crc >>> 0);
      next += 1;
    }
    crc = crc32c(chunk.subarray(position), crc);
    offset += chunk.length;
  }
  if (results.size !== wanted.length) throw new Error(`${filePath} is shorter than ${last} bytes`);
  return results;
}
