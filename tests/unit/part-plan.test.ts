import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MIN_PART_SIZE_BYTES,
  MAX_PARTS,
  MAX_SOURCE_BYTES,
  MEBIBYTE,
  choosePartSizeBytes,
  countParts,
  partAt,
  planParts,
  remainingParts,
  type PartSpec,
} from '../../src/domain/part-plan.js';

const MIN = DEFAULT_MIN_PART_SIZE_BYTES;

/** Checks that the parts tile [0, totalBytes) in order, without gap or overlap, only the last one short. */
function expectContiguousCover(parts: readonly PartSpec[], totalBytes: number, partSizeBytes: number): void {
  const problems: string[] = [];
  let offsetBytes = 0;
  parts.forEach((part, index) => {
    if (part.index !== index) problems.push(`part ${index} has index ${part.index}`);
    if (part.offsetBytes !== offsetBytes)
      problems.push(`part ${index} starts at ${part.offsetBytes}, not ${offsetBytes}`);
    const isLast = index === parts.length - 1;
    if (part.lengthBytes <= 0 || part.lengthBytes > partSizeBytes || (!isLast && part.lengthBytes !== partSizeBytes)) {
      problems.push(`part ${index} has length ${part.lengthBytes}`);
    }
    offsetBytes += part.lengthBytes;
  });
  expect(problems).toEqual([]);
  expect(offsetBytes).toBe(totalBytes);
}

describe('constants', () => {
  it('states the limits of the contract and of S3', () => {
    expect(MEBIBYTE).toBe(1_048_576);
    expect(MAX_PARTS).toBe(10_000);
    expect(MAX_SOURCE_BYTES).toBe(500_000_000_000);
    expect(DEFAULT_MIN_PART_SIZE_BYTES).toBe(8_388_608);
  });
});

describe('choosePartSizeBytes', () => {
  it.each([
    ['a 1-byte file', 1],
    ['an 8 MiB file', 8 * MEBIBYTE],
    ['a file just over 2^32 bytes', 2 ** 32 + 1],
    ['a file of exactly 10,000 minimum parts', MAX_PARTS * MIN],
  ])('uses the minimum part size for %s', (_label, totalBytes) => {
    expect(choosePartSizeBytes(totalBytes)).toBe(MIN);
  });

  it.each([
    ['10,000 × min', MAX_PARTS * MIN, 8 * MEBIBYTE, 10_000],
    ['10,000 × min + 1', MAX_PARTS * MIN + 1, 9 * MEBIBYTE, 8_889],
    ['500 GB', 500_000_000_000, 48 * MEBIBYTE, 9_935],
    ['10,000 × 48 MiB', MAX_PARTS * 48 * MEBIBYTE, 48 * MEBIBYTE, 10_000],
    ['10,000 × 48 MiB + 1', MAX_PARTS * 48 * MEBIBYTE + 1, 49 * MEBIBYTE, 9_796],
    ['1 TB', 1_000_000_000_000, 96 * MEBIBYTE, 9_935],
  ])(
    'chooses the part size for %s so that at most 10,000 parts are needed',
    (_label, totalBytes, partSizeBytes, parts) => {
      const chosen = choosePartSizeBytes(totalBytes);
      expect(chosen).toBe(partSizeBytes);
      expect(countParts(totalBytes, chosen)).toBe(parts);
    },
  );

  it('grows in whole MiB from a minimum that is not a whole MiB', () => {
    const min = 5 * MEBIBYTE + 1;
    expect(choosePartSizeBytes(1_000, min)).toBe(min);
    expect(choosePartSizeBytes(MAX_PARTS * min, min)).toBe(min);
    expect(choosePartSizeBytes(MAX_PARTS * min + 1, min)).toBe(6 * MEBIBYTE);
  });

  it('grows a tiny minimum to whole MiB once 10,000 parts would not suffice', () => {
    expect(choosePartSizeBytes(MAX_PARTS * 1024, 1024)).toBe(1024);
    expect(choosePartSizeBytes(MAX_PARTS * 1024 + 1, 1024)).toBe(MEBIBYTE);
  });

  it.each([1, 1_000_003, MAX_PARTS * MIN - 1, 123_456_789_012, 499_999_999_999, MAX_SOURCE_BYTES, 2 ** 45 + 7])(
    'never needs more than 10,000 parts for %d bytes and returns a whole number of MiB above the minimum',
    (totalBytes) => {
      const chosen = choosePartSizeBytes(totalBytes);
      expect(countParts(totalBytes, chosen)).toBeLessThanOrEqual(MAX_PARTS);
      expect(chosen === MIN || chosen % MEBIBYTE === 0).toBe(true);
      if (chosen > MIN) expect(countParts(totalBytes, chosen - MEBIBYTE)).toBeGreaterThan(MAX_PARTS);
    },
  );

  it.each([
    ['zero', 0],
    ['a negative size', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a size past Number.MAX_SAFE_INTEGER', 2 ** 53],
  ])('rejects %s as total size', (_label, totalBytes) => {
    expect(() => choosePartSizeBytes(totalBytes)).toThrow(
      new RangeError(`totalBytes must be a positive integer, got ${totalBytes}`),
    );
  });

  it.each([
    ['zero', 0],
    ['a negative size', -8],
    ['a fraction', 1024.5],
    ['NaN', Number.NaN],
  ])('rejects %s as minimum part size', (_label, minPartSizeBytes) => {
    expect(() => choosePartSizeBytes(1000, minPartSizeBytes)).toThrow(
      new RangeError(`minPartSizeBytes must be a positive integer, got ${minPartSizeBytes}`),
    );
  });
});

describe('countParts', () => {
  it.each([
    [1, 10, 1],
    [10, 10, 1],
    [11, 10, 2],
    [20, 10, 2],
    [21, 10, 3],
    [500_000_000_000, 48 * MEBIBYTE, 9_935],
  ])('counts %d bytes in parts of %d as %d parts', (totalBytes, partSizeBytes, count) => {
    expect(countParts(totalBytes, partSizeBytes)).toBe(count);
  });
});

describe('partAt', () => {
  it('returns a full part in the middle and a short last part', () => {
    expect(partAt(0, 25, 10)).toEqual({ index: 0, offsetBytes: 0, lengthBytes: 10 });
    expect(partAt(1, 25, 10)).toEqual({ index: 1, offsetBytes: 10, lengthBytes: 10 });
    expect(partAt(2, 25, 10)).toEqual({ index: 2, offsetBytes: 20, lengthBytes: 5 });
  });

  it('places the last part of a 500 GB file past 2^32 exactly', () => {
    const partSizeBytes = 48 * MEBIBYTE;
    expect(partAt(9_934, MAX_SOURCE_BYTES, partSizeBytes)).toEqual({
      index: 9_934,
      offsetBytes: 499_994_591_232,
      lengthBytes: 5_408_768,
    });
  });

  it.each([
    ['a negative index', -1],
    ['the index just past the end', 3],
    ['an index far past the end', 1_000],
  ])('rejects %s', (_label, index) => {
    expect(() => partAt(index, 25, 10)).toThrow(new RangeError(`part ${index} lies outside a file of 25 bytes`));
  });

  it('rejects the index whose offset equals the size of an exactly divisible file', () => {
    expect(() => partAt(2, 20, 10)).toThrow(RangeError);
  });
});

describe('planParts', () => {
  it('plans a single short part for a 1-byte file', () => {
    expect(planParts(1, MIN)).toEqual([{ index: 0, offsetBytes: 0, lengthBytes: 1 }]);
  });

  it('plans equal parts when the size divides evenly', () => {
    expect(planParts(30, 10)).toEqual([
      { index: 0, offsetBytes: 0, lengthBytes: 10 },
      { index: 1, offsetBytes: 10, lengthBytes: 10 },
      { index: 2, offsetBytes: 20, lengthBytes: 10 },
    ]);
  });

  it('plans a short last part when the size does not divide evenly', () => {
    const parts = planParts(25, 10);
    expect(parts).toHaveLength(3);
    expect(parts.at(-1)).toEqual({ index: 2, offsetBytes: 20, lengthBytes: 5 });
    expectContiguousCover(parts, 25, 10);
  });

  it.each([
    ['10,000 × min', MAX_PARTS * MIN],
    ['10,000 × min + 1', MAX_PARTS * MIN + 1],
    ['500 GB', MAX_SOURCE_BYTES],
    ['a prime number of bytes', 1_000_000_007],
  ])('covers %s contiguously with the chosen part size', (_label, totalBytes) => {
    const partSizeBytes = choosePartSizeBytes(totalBytes);
    const parts = planParts(totalBytes, partSizeBytes);
    expect(parts).toHaveLength(countParts(totalBytes, partSizeBytes));
    expectContiguousCover(parts, totalBytes, partSizeBytes);
  });

  it('ends the 10,000 × min + 1 plan with a short part of 8 MiB + 1 byte', () => {
    const totalBytes = MAX_PARTS * MIN + 1;
    const parts = planParts(totalBytes, 9 * MEBIBYTE);
    expect(parts).toHaveLength(8_889);
    expect(parts.at(-1)).toEqual({
      index: 8_888,
      offsetBytes: 8_888 * 9 * MEBIBYTE,
      lengthBytes: totalBytes - 8_888 * 9 * MEBIBYTE,
    });
    expect(parts.at(-1)?.lengthBytes).toBe(8 * MEBIBYTE + 1);
  });

  it('accepts exactly 10,000 parts', () => {
    expect(planParts(MAX_PARTS, 1)).toHaveLength(MAX_PARTS);
  });

  it('refuses a plan of more than 10,000 parts', () => {
    expect(() => planParts(MAX_PARTS + 1, 1)).toThrow(new RangeError('10001 parts exceed the limit of 10000'));
  });

  it('refuses a part size of zero', () => {
    expect(() => planParts(100, 0)).toThrow(RangeError);
  });
});

describe('remainingParts', () => {
  it('returns every part when none is done', () => {
    expect(remainingParts(25, 10, [])).toEqual(planParts(25, 10));
  });

  it('leaves out the done indexes and keeps the order of the rest', () => {
    expect(remainingParts(55, 10, [0, 2, 5])).toEqual([
      { index: 1, offsetBytes: 10, lengthBytes: 10 },
      { index: 3, offsetBytes: 30, lengthBytes: 10 },
      { index: 4, offsetBytes: 40, lengthBytes: 10 },
    ]);
  });

  it('returns nothing when every part is done, whatever the order of the indexes', () => {
    expect(remainingParts(25, 10, new Set([2, 0, 1]))).toEqual([]);
  });

  it('ignores duplicate and unknown indexes', () => {
    expect(remainingParts(25, 10, [1, 1, 7, -1])).toEqual([
      { index: 0, offsetBytes: 0, lengthBytes: 10 },
      { index: 2, offsetBytes: 20, lengthBytes: 5 },
    ]);
  });

  it('recomputes the same parts a first run planned, so a resumed copy continues exactly', () => {
    const totalBytes = 123_456_789_012;
    const partSizeBytes = choosePartSizeBytes(totalBytes);
    const all = planParts(totalBytes, partSizeBytes);
    const done = all.filter((part) => part.index % 3 === 0).map((part) => part.index);
    const rest = remainingParts(totalBytes, partSizeBytes, done);
    expect(rest).toHaveLength(all.length - done.length);
    expect(rest).toEqual(all.filter((part) => part.index % 3 !== 0));
  });
});
