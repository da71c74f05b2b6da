import { describe, expect, it } from 'vitest';
import { formatRangeHeader, parseContentRange, parseUnsatisfiedContentRange } from '../../src/domain/content-range.js';

const FIVE_HUNDRED_GB = 500_000_000_000;

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-0/1', { start: 0, end: 0, totalBytes: 1 }],
    ['bytes 0-1023/1024', { start: 0, end: 1023, totalBytes: 1024 }],
    ['bytes 100-199/1000', { start: 100, end: 199, totalBytes: 1000 }],
    ['BYTES 0-0/1', { start: 0, end: 0, totalBytes: 1 }],
    ['Bytes 5-9/10', { start: 5, end: 9, totalBytes: 10 }],
    ['bytes  0-0/1', { start: 0, end: 0, totalBytes: 1 }],
    ['  bytes 0-0/1  ', { start: 0, end: 0, totalBytes: 1 }],
    ['bytes 007-009/010', { start: 7, end: 9, totalBytes: 10 }],
    ['bytes 0-0/*', { start: 0, end: 0, totalBytes: null }],
    ['bytes 42-99/*', { start: 42, end: 99, totalBytes: null }],
  ])('parses %j', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });

  it('parses the last byte of a 500 GB file', () => {
    expect(parseContentRange('bytes 499999999999-499999999999/500000000000')).toEqual({
      start: FIVE_HUNDRED_GB - 1,
      end: FIVE_HUNDRED_GB - 1,
      totalBytes: FIVE_HUNDRED_GB,
    });
  });

  it('parses positions just past 2^32 exactly', () => {
    expect(parseContentRange('bytes 4294967296-4294967297/4294967298')).toEqual({
      start: 4_294_967_296,
      end: 4_294_967_297,
      totalBytes: 4_294_967_298,
    });
  });

  it('parses a total beyond 500 GB (the size limit is checked elsewhere)', () => {
    expect(parseContentRange('bytes 0-0/1000000000000')).toEqual({ start: 0, end: 0, totalBytes: 1_000_000_000_000 });
  });

  it('parses Number.MAX_SAFE_INTEGER as the total', () => {
    expect(parseContentRange(`bytes 0-0/${Number.MAX_SAFE_INTEGER}`)).toEqual({
      start: 0,
      end: 0,
      totalBytes: Number.MAX_SAFE_INTEGER,
    });
  });

  it.each([
    ['a missing unit', '0-0/1'],
    ['another unit', 'items 0-0/1'],
    ['the request form with =', 'bytes=0-1/2'],
    ['no space after the unit', 'bytes0-0/1'],
    ['a negative start', 'bytes -1-0/1'],
    ['a negative end', 'bytes 0--1/1'],
    ['a negative total', 'bytes 0-0/-1'],
    ['an end before the start', 'bytes 5-4/10'],
    ['an end equal to the total', 'bytes 0-10/10'],
    ['an end past the total', 'bytes 0-11/10'],
    ['a total of zero', 'bytes 0-0/0'],
    ['a hexadecimal position', 'bytes 0x0-0x1/2'],
    ['letters in a position', 'bytes 0-a/2'],
    ['a decimal point', 'bytes 0-1.0/2'],
    ['an exponent', 'bytes 0-1e2/1000'],
    ['a plus sign', 'bytes +0-1/2'],
    ['leading junk', 'xbytes 0-0/1'],
    ['trailing junk', 'bytes 0-0/1x'],
    ['a trailing comma list', 'bytes 0-0/1, bytes 1-1/2'],
    ['a missing end', 'bytes 0-/1'],
    ['a missing start', 'bytes -0/1'],
    ['a missing total', 'bytes 0-0/'],
    ['a missing slash', 'bytes 0-0 1'],
    ['the 416 form', 'bytes */10'],
    ['a star range', 'bytes */*'],
    ['spaces around the dash', 'bytes 0 - 0/1'],
    ['a tab instead of a space', 'bytes\t0-0/1'],
    ['the empty string', ''],
    ['blanks only', '   '],
  ])('rejects %s (%j)', (_label, header) => {
    expect(parseContentRange(header)).toBeNull();
  });

  it.each([
    ['a total one past Number.MAX_SAFE_INTEGER', 'bytes 0-0/9007199254740992'],
    ['a total of 16 nines', 'bytes 0-0/9999999999999999'],
    ['a total of 17 digits', 'bytes 0-0/10000000000000000'],
    ['a start of 20 digits', 'bytes 10000000000000000000-10000000000000000001/*'],
    ['an end past Number.MAX_SAFE_INTEGER', 'bytes 0-9007199254740993/*'],
  ])('rejects %s', (_label, header) => {
    expect(parseContentRange(header)).toBeNull();
  });

  it('rejects null and undefined', () => {
    expect(parseContentRange(null)).toBeNull();
    expect(parseContentRange(undefined)).toBeNull();
  });
});

describe('parseUnsatisfiedContentRange', () => {
  it.each([
    ['bytes */0', 0],
    ['bytes */1', 1],
    ['BYTES */1024', 1024],
    [' bytes */500000000000 ', FIVE_HUNDRED_GB],
    [`bytes */${Number.MAX_SAFE_INTEGER}`, Number.MAX_SAFE_INTEGER],
  ])('reads the total of %j', (header, totalBytes) => {
    expect(parseUnsatisfiedContentRange(header)).toEqual({ totalBytes });
  });

  it.each([
    ['a satisfied range', 'bytes 0-0/1'],
    ['an unknown total', 'bytes */*'],
    ['the request form with =', 'bytes=*/10'],
    ['a missing unit', '*/10'],
    ['a negative total', 'bytes */-1'],
    ['trailing junk', 'bytes */10x'],
    ['a total past Number.MAX_SAFE_INTEGER', 'bytes */9007199254740992'],
    ['the empty string', ''],
  ])('rejects %s (%j)', (_label, header) => {
    expect(parseUnsatisfiedContentRange(header)).toBeNull();
  });

  it('rejects null and undefined', () => {
    expect(parseUnsatisfiedContentRange(null)).toBeNull();
    expect(parseUnsatisfiedContentRange(undefined)).toBeNull();
  });
});

describe('formatRangeHeader', () => {
  it.each([
    [0, 0, 'bytes=0-0'],
    [0, 8_388_607, 'bytes=0-8388607'],
    [4_294_967_296, 4_294_967_299, 'bytes=4294967296-4294967299'],
    [FIVE_HUNDRED_GB - 50_331_648, FIVE_HUNDRED_GB - 1, 'bytes=499949668352-499999999999'],
  ])('formats bytes %d to %d as %j', (start, end, header) => {
    expect(formatRangeHeader(start, end)).toBe(header);
  });

  it('formats large positions without exponent notation', () => {
    expect(formatRangeHeader(1e15, 1e15 + 1)).toBe('bytes=1000000000000000-1000000000000001');
  });
});
