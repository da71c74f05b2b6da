/**
 * CRC32C (Castagnoli) combination: the CRC of A followed by B from crc(A), crc(B) and len(B),
 * so the whole-file checksum comes from the part checksums without reading the file again.
 *
 * Hand-written because no maintained npm package exposes crc32c_combine (@node-rs/crc32 computes
 * CRCs but cannot combine them). The method is zlib's: multiply crc(A) by x^(8*len(B)) modulo the
 * CRC polynomial, then add crc(B). Polynomials are bit-reflected 32-bit numbers, as in the CRC.
 */

/** The Castagnoli polynomial, bit-reflected. */
const POLYNOMIAL = 0x82f63b78;

/** a(x) * b(x) modulo the polynomial, both reflected (bit 31 is the x^0 coefficient). */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let multiplier = b >>> 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= multiplier;
    multiplier = multiplier & 1 ? (multiplier >>> 1) ^ POLYNOMIAL : multiplier >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) modulo the polynomial. */
const X_POWERS: readonly number[] = (() => {
  const powers: number[] = [];
  let power = 0x40000000; // x^1
  for (let k = 0; k < 64; k += 1) {
    powers.push(power);
    power = multiplyModP(power, power);
  }
  return powers;
})();

/** x^(8 * byteCount) modulo the polynomial; byteCount may exceed 2^32 (files up to 500 GB). */
function xPowerForBytes(byteCount: number): number {
  let result = 0x80000000; // x^0
  let remaining = byteCount;
  let k = 3; // 8 * byteCount = byteCount * 2^3
  while (remaining > 0) {
    if (remaining % 2 === 1) result = multiplyModP(X_POWERS[k % 64] ?? 0, result);
    remaining = Math.floor(remaining / 2);
    k += 1;
  }
  return result;
}

/** The CRC32C of A followed by B. */
export function combineCrc32c(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0)
    throw new RangeError(`lengthB must be a non-negative integer, got ${lengthB}`);
  return (multiplyModP(xPowerForBytes(lengthB), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}

export interface PartChecksum {
  crc32c: number;
  lengthBytes: number;
}

/** The CRC32C of the parts concatenated in the given order. */
export function combinePartChecksums(parts: readonly PartChecksum[]): number {
  let whole = 0;
  for (const part of parts) whole = combineCrc32c(whole, part.crc32c, part.lengthBytes);
  return whole;
}

/** `1a2b3c4d` style text for logs and headers. */
export function formatCrc32c(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
}
