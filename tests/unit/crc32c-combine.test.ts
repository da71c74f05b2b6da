import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { combineCrc32c, combinePartChecksums, formatCrc32c } from '../../src/domain/crc32c-combine.js';
import { planParts } from '../../src/domain/part-plan.js';

/** mulberry32: a small seeded PRNG, so a failing split can be reproduced from the seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function randomInt(random: () => number, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

describe('crc32c from @node-rs/crc32 (the reference the combination is checked against)', () => {
  it('gives the CRC-32C check value 0xE3069283 for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
  });

  it('gives 0 for no bytes', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });
});

describe('combineCrc32c', () => {
  it('combines "1234" and "56789" into the check value', () => {
    const a = Buffer.from('1234');
    const b = Buffer.from('56789');
    expect(combineCrc32c(crc32c(a), crc32c(b), b.length)).toBe(0xe3069283);
  });

  it('returns crc(B) when A is empty', () => {
    const b = Buffer.from('123456789');
    expect(combineCrc32c(crc32c(Buffer.alloc(0)), crc32c(b), b.length)).toBe(0xe3069283);
  });

  it('returns crc(A) when B is empty', () => {
    expect(combineCrc32c(0xe3069283, crc32c(Buffer.alloc(0)), 0)).toBe(0xe3069283);
  });

  it('returns 0 for two empty inputs', () => {
    expect(combineCrc32c(0, 0, 0)).toBe(0);
  });

  it('equals crc(A+B) for 300 seeded random splits of random data, empty halves included', () => {
    const random = seededRandom(0x5eed_c0de);
    const mismatches: string[] = [];
    for (let round = 0; round < 300; round += 1) {
      const whole = randomBytes(random, 1 + randomInt(random, 5_000));
      const split = round % 10 === 0 ? 0 : round % 10 === 1 ? whole.length : randomInt(random, whole.length + 1);
      const a = whole.subarray(0, split);
      const b = whole.subarray(split);
      const combined = combineCrc32c(crc32c(a), crc32c(b), b.length);
      const expected = crc32c(whole);
      if (combined !== expected)
        mismatches.push(`round ${round}: length ${whole.length}, split ${split}: ${combined} !== ${expected}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('accepts signed 32-bit CRCs as their unsigned values', () => {
    const a = Buffer.from('hello ');
    const b = Buffer.from('world');
    expect(combineCrc32c(crc32c(a) | 0, crc32c(b) | 0, b.length)).toBe(crc32c(Buffer.from('hello world')));
  });

  it.each([1, 7, 8, 1_000, 65_536, 1_000_003])('matches a real CRC of A followed by %d zero bytes', (n) => {
    const a = randomBytes(seededRandom(n), 37);
    const zeros = Buffer.alloc(n);
    const expected = crc32c(Buffer.concat([a, zeros]));
    expect(combineCrc32c(crc32c(a), crc32c(zeros), n)).toBe(expected);
    expect(crc32c(zeros, crc32c(a))).toBe(expected);
  });

  it('appends zero bytes consistently for every power-of-two length up to 2^52 (so large lengths follow from the checked small ones)', () => {
    // combine(v, 0, n) multiplies v by x^(8n). Appending n zeros twice must equal appending 2n once;
    // since length 1 is checked against a real CRC above, this proves every 2^k by induction.
    const start = 0x1234_5678;
    const inconsistent: number[] = [];
    for (let k = 0; k < 52; k += 1) {
      const n = 2 ** k;
      if (combineCrc32c(start, 0, 2 * n) !== combineCrc32c(combineCrc32c(start, 0, n), 0, n)) inconsistent.push(k);
    }
    expect(inconsistent).toEqual([]);
  });

  it.each([2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 500_000_000_000, 3 * 2 ** 40 + 12_345, Number.MAX_SAFE_INTEGER])(
    'combines a length of %d bytes as the sum of its binary parts',
    (length) => {
      const crcA = 0xdead_beef;
      const crcB = 0x0bad_f00d;
      let viaPowers = crcA;
      for (let remaining = length, bit = 1; remaining > 0; remaining = Math.floor(remaining / 2), bit *= 2) {
        if (remaining % 2 === 1) viaPowers = combineCrc32c(viaPowers, 0, bit);
      }
      const combined = combineCrc32c(crcA, crcB, length);
      expect(combined).toBe((viaPowers ^ crcB) >>> 0);
      expect(Number.isInteger(combined) && combined >= 0 && combined <= 0xffff_ffff).toBe(true);
    },
  );

  it('is associative across lengths past 2^32', () => {
    const [a, b, c] = [0x0102_0304, 0xa5a5_5a5a, 0xffff_fffe];
    const lengthB = 2 ** 32 + 3;
    const lengthC = 400_000_000_007;
    expect(combineCrc32c(combineCrc32c(a, b, lengthB), c, lengthC)).toBe(
      combineCrc32c(a, combineCrc32c(b, c, lengthC), lengthB + lengthC),
    );
  });

  it.each([
    ['a negative length', -1],
    ['a fractional length', 1.5],
    ['NaN', Number.NaN],
    ['a length past Number.MAX_SAFE_INTEGER', 2 ** 53],
  ])('rejects %s', (_label, length) => {
    expect(() => combineCrc32c(1, 2, length)).toThrow(
      new RangeError(`lengthB must be a non-negative integer, got ${length}`),
    );
  });
});

describe('combinePartChecksums', () => {
  it('equals the CRC of the whole file for a multi-part plan with a short last part', () => {
    const file = randomBytes(seededRandom(42), 100_003);
    const parts = planParts(file.length, 8_192);
    expect(parts).toHaveLength(13);
    const checksums = parts.map((part) => ({
      crc32c: crc32c(file.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes)),
      lengthBytes: part.lengthBytes,
    }));
    expect(combinePartChecksums(checksums)).toBe(crc32c(file));
  });

  it('equals the CRC of the whole file for a single part', () => {
    const file = Buffer.from('123456789');
    expect(combinePartChecksums([{ crc32c: crc32c(file), lengthBytes: file.length }])).toBe(0xe3069283);
  });

  it('returns the CRC of no bytes for no parts', () => {
    expect(combinePartChecksums([])).toBe(0);
  });

  it('depends on the order of the parts', () => {
    const first = { crc32c: crc32c(Buffer.from('1234')), lengthBytes: 4 };
    const second = { crc32c: crc32c(Buffer.from('56789')), lengthBytes: 5 };
    expect(combinePartChecksums([first, second])).toBe(0xe3069283);
    expect(combinePartChecksums([second, first])).toBe(crc32c(Buffer.from('567891234')));
  });

  it('handles the 9,935 parts of a 500 GB plan without throwing', () => {
    const parts = planParts(500_000_000_000, 48 * 1024 * 1024).map((part) => ({
      crc32c: (part.index * 2_654_435_761) >>> 0,
      lengthBytes: part.lengthBytes,
    }));
    const whole = combinePartChecksums(parts);
    expect(Number.isInteger(whole) && whole >= 0 && whole <= 0xffff_ffff).toBe(true);
  });
});

describe('formatCrc32c', () => {
  it.each([
    [0, '00000000'],
    [1, '00000001'],
    [0xabc, '00000abc'],
    [0xe3069283, 'e3069283'],
    [0xffff_ffff, 'ffffffff'],
    [-1, 'ffffffff'],
    [0xe3069283 | 0, 'e3069283'],
  ])('formats %d as %j', (crc, text) => {
    expect(formatCrc32c(crc)).toBe(text);
  });
});
