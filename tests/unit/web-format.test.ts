import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCrc32c,
  formatDuration,
  formatRate,
  formatSeconds,
  parseCrc32c,
} from '../../web/src/format/format.js';

describe("the web application's figures", () => {
  it('writes sizes and rates in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500)).toBe('1.5 kB');
    expect(formatBytes(734_003_200)).toBe('734 MB');
    expect(formatBytes(500_000_000_000)).toBe('500 GB');
    expect(formatBytes(null)).toBe('—');
    expect(formatRate(12_500_000)).toBe('12.5 MB/s');
    expect(formatRate(null)).toBe('—');
  });

  it('writes times left and media durations', () => {
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(185)).toBe('3 min 05 s');
    expect(formatSeconds(3_720)).toBe('1 h 02 min');
    expect(formatSeconds(null)).toBe('—');
    expect(formatDuration(12_040)).toBe('0:12.0');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDuration(null)).toBe('—');
  });

  it('reads a CRC32C in decimal or 0x hex, and leaves anything else to the API', () => {
    expect(parseCrc32c('4294967295')).toBe(4_294_967_295);
    expect(parseCrc32c(' 12345678 ')).toBe(12_345_678);
    expect(parseCrc32c('0xE3069283')).toBe(0xe3069283);
    expect(parseCrc32c('e3069283')).toBeNull();
    expect(parseCrc32c('-1')).toBeNull();
    expect(parseCrc32c('0x123456789')).toBeNull();
    expect(formatCrc32c(0xe3069283)).toBe('e3069283');
    expect(formatCrc32c(255)).toBe('000000ff');
  });
});
