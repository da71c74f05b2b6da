import { describe, expect, it } from 'vitest';
import { copyFigures } from '../../src/domain/copy-figures.js';

describe('copyFigures', () => {
  it('gives the time left at the measured speed, rounded up to a whole second', () => {
    expect(
      copyFigures({ status: 'IN_PROGRESS', bytesCopied: 1_000, totalBytes: 10_001, bytesPerSecond: 3_000 }),
    ).toEqual({ bytesCopied: 1_000, totalBytes: 10_001, bytesPerSecond: 3_000, etaSeconds: 4 });
    expect(
      copyFigures({ status: 'IN_PROGRESS', bytesCopied: 1_000, totalBytes: 10_000, bytesPerSecond: 3_000 }),
    ).toEqual({ bytesCopied: 1_000, totalBytes: 10_000, bytesPerSecond: 3_000, etaSeconds: 3 });
  });

  it('knows no time left while the speed is unmeasured or the copy stalls', () => {
    expect(copyFigures({ status: 'IN_PROGRESS', bytesCopied: 0, totalBytes: 500, bytesPerSecond: null })).toEqual({
      bytesCopied: 0,
      totalBytes: 500,
      bytesPerSecond: null,
      etaSeconds: null,
    });
    expect(copyFigures({ status: 'IN_PROGRESS', bytesCopied: 100, totalBytes: 500, bytesPerSecond: 0 })).toEqual({
      bytesCopied: 100,
      totalBytes: 500,
      bytesPerSecond: 0,
      etaSeconds: null,
    });
  });

  it('shows a finished copy whole with nothing left, and no speed or time for one not running', () => {
    expect(copyFigures({ status: 'DONE', bytesCopied: 500, totalBytes: 500, bytesPerSecond: null })).toEqual({
      bytesCopied: 500,
      totalBytes: 500,
      bytesPerSecond: null,
      etaSeconds: 0,
    });
    expect(copyFigures({ status: 'FAILED', bytesCopied: 300, totalBytes: 500, bytesPerSecond: 40 })).toEqual({
      bytesCopied: 300,
      totalBytes: 500,
      bytesPerSecond: null,
      etaSeconds: null,
    });
    expect(copyFigures({ status: 'INITIAL', bytesCopied: 0, totalBytes: 500, bytesPerSecond: null })).toEqual({
      bytesCopied: 0,
      totalBytes: 500,
      bytesPerSecond: null,
      etaSeconds: null,
    });
  });
});
