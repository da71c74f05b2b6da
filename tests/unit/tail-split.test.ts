import { describe, expect, it } from 'vitest';
import { chooseTakeover, type PieceInFlight, type TakeoverPolicy } from '../../src/domain/tail-split.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const policy: TakeoverPolicy = { minPieceBytes: 256 * KIB, alignBytes: 64 * KIB, bufferAvailableBytes: 32 * MIB };

function piece(overrides: Partial<PieceInFlight> & { id: number }): PieceInFlight {
  return { offsetBytes: 0, lengthBytes: 8 * MIB, receivedBytes: 0, isBuffered: false, ...overrides };
}

describe('chooseTakeover', () => {
  it('takes the second half of the rest of the piece with the most bytes to come', () => {
    const pieces = [
      piece({ id: 1, offsetBytes: 0, receivedBytes: 6 * MIB }),
      piece({ id: 2, offsetBytes: 8 * MIB, receivedBytes: 2 * MIB }),
      piece({ id: 3, offsetBytes: 16 * MIB, receivedBytes: 4 * MIB }),
    ];
    // Piece 2 has 6 MiB to come from 10 MiB: split at 13 MiB, 3 MiB taken over.
    expect(chooseTakeover(pieces, policy)).toEqual({ pieceId: 2, splitAtBytes: 13 * MIB, lengthBytes: 3 * MIB });
  });

  it('splits on an aligned offset, giving the odd bytes to the piece that keeps fetching', () => {
    const received = 1_000_000;
    const result = chooseTakeover([piece({ id: 7, offsetBytes: 8 * MIB, receivedBytes: received })], policy);
    const position = 8 * MIB + received;
    const end = 16 * MIB;
    const aligned = Math.ceil((position + Math.ceil((end - position) / 2)) / (64 * KIB)) * 64 * KIB;
    expect(result).toEqual({ pieceId: 7, splitAtBytes: aligned, lengthBytes: end - aligned });
    expect(aligned % (64 * KIB)).toBe(0);
    expect(aligned).toBeGreaterThan(position + (end - position) / 2 - 1);
  });

  it('caps what a piece written straight into storage gives away by the buffer left', () => {
    const result = chooseTakeover([piece({ id: 1, receivedBytes: 0 })], { ...policy, bufferAvailableBytes: 1 * MIB });
    expect(result).toEqual({ pieceId: 1, splitAtBytes: 7 * MIB, lengthBytes: 1 * MIB });
  });

  it('splits a piece that already waits in memory whatever the buffer left, since its share passes on', () => {
    const result = chooseTakeover([piece({ id: 1, isBuffered: true })], { ...policy, bufferAvailableBytes: 0 });
    expect(result).toEqual({ pieceId: 1, splitAtBytes: 4 * MIB, lengthBytes: 4 * MIB });
  });

  it('moves on to the next piece when the one with most to come cannot give away enough buffer', () => {
    const pieces = [
      piece({ id: 1, receivedBytes: 0 }),
      piece({ id: 2, offsetBytes: 8 * MIB, receivedBytes: 2 * MIB, isBuffered: true }),
    ];
    expect(chooseTakeover(pieces, { ...policy, bufferAvailableBytes: 0 })).toEqual({
      pieceId: 2,
      splitAtBytes: 13 * MIB,
      lengthBytes: 3 * MIB,
    });
  });

  it('splits nothing when either side would be under the minimum', () => {
    const almostDone = piece({ id: 1, lengthBytes: 8 * MIB, receivedBytes: 8 * MIB - 511 * KIB });
    expect(chooseTakeover([almostDone], policy)).toBeNull();
    const justEnough = piece({ id: 1, lengthBytes: 8 * MIB, receivedBytes: 7 * MIB + 512 * KIB });
    expect(chooseTakeover([justEnough], policy)).toEqual({
      pieceId: 1,
      splitAtBytes: 8 * MIB - 256 * KIB,
      lengthBytes: 256 * KIB,
    });
  });

  it('splits nothing when the buffer is spent and every piece writes straight into storage', () => {
    expect(
      chooseTakeover([piece({ id: 1 }), piece({ id: 2 })], { ...policy, bufferAvailableBytes: 128 * KIB }),
    ).toBeNull();
  });

  it('answers null when nothing is in flight', () => {
    expect(chooseTakeover([], policy)).toBeNull();
  });

  it('breaks ties by the lower id, so the choice does not depend on the order pieces are listed in', () => {
    const a = piece({ id: 4, offsetBytes: 0 });
    const b = piece({ id: 2, offsetBytes: 8 * MIB });
    expect(chooseTakeover([a, b], policy)?.pieceId).toBe(2);
    expect(chooseTakeover([b, a], policy)?.pieceId).toBe(2);
  });
});
