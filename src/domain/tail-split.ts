/**
 * The tail takeover's decision: when a connection has no part left to start, which range in flight
 * it takes over, and where that range is split. Pure, so the choice is table-tested.
 *
 * A range in flight is a piece of one part being fetched by one request. The idle connection takes
 * the second half of the piece with the most bytes still to come (at equal speeds, the one that
 * would finish last), split on an aligned offset; the piece's own request stops at the split. A
 * piece that does not write straight into storage holds its bytes in memory until the pieces before
 * it are written, so a split whose taken-over range would be held that way is capped by what is
 * left of the copy's buffer budget.
 */

export interface PieceInFlight {
  /** Identifies the piece to the caller; returned with the decision. */
  id: number;
  /** File offset of the piece's first byte. */
  offsetBytes: number;
  /** The piece's current length (it shrinks when its tail is taken over). */
  lengthBytes: number;
  /** Bytes of the piece received so far. */
  receivedBytes: number;
  /**
   * Whether the piece waits in memory for the pieces before it. Its memory share then passes to the
   * taken-over range; a piece written straight into storage has none, so its split takes budget.
   */
  isBuffered: boolean;
}

export interface TakeoverPolicy {
  /** Neither side of a split is smaller than this: a takeover costs a request and a new connection. */
  minPieceBytes: number;
  /** Split offsets are multiples of this (direct I/O writes aligned offsets). */
  alignBytes: number;
  /** Bytes the copy may still hold in memory for taken-over ranges that wait for their turn. */
  bufferAvailableBytes: number;
}

export interface Takeover {
  pieceId: number;
  /** File offset where the piece now ends and the taken-over range starts. */
  splitAtBytes: number;
  /** Length of the taken-over range (to the piece's old end). */
  lengthBytes: number;
}

/** The takeover an idle connection should make, or null when no piece is worth splitting. */
export function chooseTakeover(pieces: readonly PieceInFlight[], policy: TakeoverPolicy): Takeover | null {
  const byRemaining = [...pieces].sort((a, b) => remainingBytes(b) - remainingBytes(a) || a.id - b.id);
  for (const piece of byRemaining) {
    const takeover = splitPiece(piece, policy);
    if (takeover !== null) return takeover;
  }
  return null;
}

function remainingBytes(piece: PieceInFlight): number {
  return piece.lengthBytes - piece.receivedBytes;
}

/** Splits the piece's unfetched rest in two (the second half as large as the buffer allows), or null. */
function splitPiece(piece: PieceInFlight, policy: TakeoverPolicy): Takeover | null {
  const positionBytes = piece.offsetBytes + piece.receivedBytes;
  const endBytes = piece.offsetBytes + piece.lengthBytes;
  let splitAtBytes = alignUp(positionBytes + Math.ceil(remainingBytes(piece) / 2), policy.alignBytes);
  // The taken-over range of a piece written straight into storage waits in memory for it to finish.
  if (!piece.isBuffered)
    splitAtBytes = Math.max(splitAtBytes, alignUp(endBytes - policy.bufferAvailableBytes, policy.alignBytes));
  const lengthBytes = endBytes - splitAtBytes;
  if (splitAtBytes - positionBytes < policy.minPieceBytes || lengthBytes < policy.minPieceBytes) return null;
  return { pieceId: piece.id, splitAtBytes, lengthBytes };
}

function alignUp(offsetBytes: number, alignBytes: number): number {
  return Math.ceil(offsetBytes / alignBytes) * alignBytes;
}
