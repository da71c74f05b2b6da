/**
 * Splitting a file into the byte ranges that are copied in parallel. The plan is a pure function
 * of the file size and the part size, so a resumed copy recomputes exactly the same parts and only
 * needs to know which part indexes are already recorded.
 */

export const MEBIBYTE = 1024 * 1024;

/** S3 allows at most 10,000 parts per multipart upload; the filesystem store keeps the same limit. */
export const MAX_PARTS = 10_000;

/** At most 500 GB (decimal) can be imported. */
export const MAX_SOURCE_BYTES = 500_000_000_000;

/** Parts of 8 MiB keep 20 connections busy on small files and satisfy S3's 5 MiB minimum. */
export const DEFAULT_MIN_PART_SIZE_BYTES = 8 * MEBIBYTE;

export interface PartSpec {
  index: number;
  /** Offset of the first byte in the file. */
  offsetBytes: number;
  lengthBytes: number;
}

/** A copied part as the import records it: durable in storage before the record exists. */
export interface RecordedPart {
  partIndex: number;
  offsetBytes: number;
  lengthBytes: number;
  crc32c: number;
  receipt: Record<string, unknown> | null;
}

/**
 * The part size for a file: the minimum, grown (in whole MiB) so that no copy needs more than
 * MAX_PARTS parts; a 500 GB file gets 48 MiB parts.
 */
export function choosePartSizeBytes(totalBytes: number, minPartSizeBytes = DEFAULT_MIN_PART_SIZE_BYTES): number {
  if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0)
    throw new RangeError(`totalBytes must be a positive integer, got ${totalBytes}`);
  if (!Number.isSafeInteger(minPartSizeBytes) || minPartSizeBytes <= 0)
    throw new RangeError(`minPartSizeBytes must be a positive integer, got ${minPartSizeBytes}`);
  const neededBytes = Math.ceil(totalBytes / MAX_PARTS);
  if (neededBytes <= minPartSizeBytes) return minPartSizeBytes;
  return Math.ceil(neededBytes / MEBIBYTE) * MEBIBYTE;
}

function checkSizes(totalBytes: number, partSizeBytes: number): void {
  if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0)
    throw new RangeError(`totalBytes must be a positive integer, got ${totalBytes}`);
  if (!Number.isSafeInteger(partSizeBytes) || partSizeBytes <= 0)
    throw new RangeError(`partSizeBytes must be a positive integer, got ${partSizeBytes}`);
}

export function countParts(totalBytes: number, partSizeBytes: number): number {
  checkSizes(totalBytes, partSizeBytes);
  return Math.ceil(totalBytes / partSizeBytes);
}

export function partAt(index: number, totalBytes: number, partSizeBytes: number): PartSpec {
  checkSizes(totalBytes, partSizeBytes);
  const offsetBytes = index * partSizeBytes;
  if (!Number.isSafeInteger(index) || index < 0 || offsetBytes >= totalBytes)
    throw new RangeError(`part ${index} lies outside a file of ${totalBytes} bytes`);
  return { index, offsetBytes, lengthBytes: Math.min(partSizeBytes, totalBytes - offsetBytes) };
}

/** Every part of the file, in order. */
export function planParts(totalBytes: number, partSizeBytes: number): PartSpec[] {
  const count = countParts(totalBytes, partSizeBytes);
  if (count > MAX_PARTS) throw new RangeError(`${count} parts exceed the limit of ${MAX_PARTS}`);
  return Array.from({ length: count }, (_, index) => partAt(index, totalBytes, partSizeBytes));
}

/** The parts still to copy, given the indexes already recorded as copied. */
export function remainingParts(totalBytes: number, partSizeBytes: number, doneIndexes: Iterable<number>): PartSpec[] {
  const done = new Set(doneIndexes);
  return planParts(totalBytes, partSizeBytes).filter((part) => !done.has(part.index));
}
