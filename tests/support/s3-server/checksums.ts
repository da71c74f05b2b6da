/**
 * Checksums the way S3 speaks them: CRC32 and CRC32C as base64 of the big-endian 32-bit value,
 * SHA-1 and SHA-256 as base64 digests; the whole-object CRC of a multipart upload combined from
 * its parts' CRCs (FULL_OBJECT), or the CRC of the parts' checksums with a `-N` suffix (COMPOSITE).
 *
 * The CRC combination is written here rather than imported from src/domain on purpose: the test
 * server must not share code with the service it checks, or a bug there would agree with itself.
 * The method is zlib's crc32_combine: multiply crc(A) by x^(8*len(B)) modulo the polynomial, add
 * crc(B); polynomials are bit-reflected, as in the CRC itself.
 */
import { crc32, crc32c } from '@node-rs/crc32';
import { createHash, type Hash } from 'node:crypto';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256';
export const checksumAlgorithms: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'];
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** The request/response header carrying a checksum, e.g. `x-amz-checksum-crc32c`. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The XML element carrying a checksum, e.g. `ChecksumCRC32C`. */
export function checksumElement(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm | null {
  const upper = value.toUpperCase();
  return (checksumAlgorithms as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : null;
}

export function crcToBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}

/** Incremental hashing of one body for every algorithm S3 may ask about, plus the MD5 of the ETag. */
export class BodyDigests {
  private readonly md5 = createHash('md5');
  private readonly digests = new Map<'SHA1' | 'SHA256', Hash>();
  private crc32Value = 0;
  private crc32cValue = 0;
  lengthBytes = 0;

  /** SHA digests cost real CPU, so they run only when the request carries one to check. */
  constructor(shaAlgorithms: Iterable<'SHA1' | 'SHA256'> = []) {
    for (const algorithm of shaAlgorithms)
      this.digests.set(algorithm, createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256'));
  }

  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.crc32Value = crc32(chunk, this.crc32Value);
    this.crc32cValue = crc32c(chunk, this.crc32cValue);
    for (const hash of this.digests.values()) hash.update(chunk);
    this.lengthBytes += chunk.length;
  }

  /** Call once, after the last update. */
  finish(): FinishedDigests {
    const sha = Object.fromEntries([...this.digests].map(([algorithm, hash]) => [algorithm, hash.digest('base64')]));
    return {
      md5: this.md5.digest(),
      crc32: this.crc32Value >>> 0,
      crc32c: this.crc32cValue >>> 0,
      lengthBytes: this.lengthBytes,
      base64: { CRC32: crcToBase64(this.crc32Value), CRC32C: crcToBase64(this.crc32cValue), ...sha },
    };
  }
}

export interface FinishedDigests {
  md5: Buffer;
  crc32: number;
  crc32c: number;
  lengthBytes: number;
  /** Base64 value per algorithm computed (CRC32 and CRC32C always, SHA ones when asked). */
  base64: Partial<Record<ChecksumAlgorithm, string>>;
}

const reflectedPolynomials = { CRC32: 0xedb88320, CRC32C: 0x82f63b78 } as const;

function multiplyModP(a: number, b: number, polynomial: number): number {
  let product = 0;
  let multiplier = b >>> 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= multiplier;
    multiplier = multiplier & 1 ? (multiplier >>> 1) ^ polynomial : multiplier >>> 1;
  }
  return product >>> 0;
}

/** x^(8 * byteCount) modulo the polynomial, by squaring (x^1 is 0x40000000 reflected). */
function xPowerForBytes(byteCount: number, polynomial: number): number {
  let result = 0x80000000;
  let power = 0x40000000;
  for (let i = 0; i < 3; i += 1) power = multiplyModP(power, power, polynomial); // x^8: one byte
  for (let remaining = byteCount; remaining > 0; remaining = Math.floor(remaining / 2)) {
    if (remaining % 2 === 1) result = multiplyModP(power, result, polynomial);
    power = multiplyModP(power, power, polynomial);
  }
  return result;
}

/** The CRC of A followed by B, from crc(A), crc(B) and the length of B. */
export function combineCrc(algorithm: 'CRC32' | 'CRC32C', crcA: number, crcB: number, lengthB: number): number {
  const polynomial = reflectedPolynomials[algorithm];
  return (multiplyModP(xPowerForBytes(lengthB, polynomial), crcA >>> 0, polynomial) ^ (crcB >>> 0)) >>> 0;
}

/** S3's COMPOSITE checksum: the algorithm over the concatenated raw part checksums, then `-N`. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksumsBase64: readonly string[]): string {
  const raw = Buffer.concat(partChecksumsBase64.map((value) => Buffer.from(value, 'base64')));
  let digest: string;
  if (algorithm === 'CRC32') digest = crcToBase64(crc32(raw));
  else if (algorithm === 'CRC32C') digest = crcToBase64(crc32c(raw));
  else
    digest = createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256')
      .update(raw)
      .digest('base64');
  return `${digest}-${partChecksumsBase64.length}`;
}
