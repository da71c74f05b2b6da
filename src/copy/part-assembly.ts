/**
 * One attempt at one part, fetched as one or more pieces. A part starts as one piece (one range
 * request for all of it); when a connection has nothing left to start, it takes over the second
 * half of the piece with the most bytes to come (domain/tail-split.ts): that piece now ends at the
 * split, and a new piece, fetched by the idle connection with a range request of its own, covers
 * the rest. The request of a piece that was split stops at the split (it is aborted, so its
 * connection is closed and the next request opens a new one).
 *
 * The part still goes into storage through one writer, in order: S3 needs every part of at least
 * 5 MiB as one request body, and the CRC32C of the part is computed as its bytes go in. The first
 * piece not yet written (the head) writes straight into the writer; a later piece holds its bytes
 * in memory until every piece before it is written, then writes what it holds and streams the rest.
 * The memory a waiting piece may take is reserved when its range is taken over (TakeoverBudget), so
 * a copy never holds more than its budget.
 *
 * Any failure of any piece fails the attempt: every piece's request is aborted, the writer is
 * destroyed, and the part's owner (the connection that started it) tries the whole part again.
 */
import { Writable } from 'node:stream';
import { PartLengthError, type PartReceipt, type PartWriter, type UploadPart } from '../storage/blob-store.js';
import type { PartSpec } from '../domain/part-plan.js';
import type { PieceInFlight } from '../domain/tail-split.js';

/** Bytes the copy may hold in memory for taken-over ranges waiting for their turn. */
export class TakeoverBudget {
  constructor(private availableBytes: number) {}

  get available(): number {
    return this.availableBytes;
  }

  reserve(bytes: number): void {
    this.availableBytes -= bytes;
  }

  release(bytes: number): void {
    this.availableBytes += bytes;
  }
}

/** The abort reason of a request whose piece was split and has received all its bytes. */
export class PieceCutError extends Error {
  override readonly name = 'PieceCutError';
}

export interface Piece {
  readonly id: number;
  readonly offsetBytes: number;
  /** Bytes the piece's request asked for (its Content-Range must say exactly these). */
  readonly requestedBytes: number;
  /** The piece's bytes: requestedBytes, less what was taken over. */
  lengthBytes: number;
  receivedBytes: number;
  isFetched: boolean;
  /** Set once its response is over: ended with exactly the bytes asked for, or cut after a split. */
  isEnded: boolean;
  /** Aborted when the piece has its bytes but its response goes on (it was split), or the attempt failed. */
  readonly cut: AbortController;
  /** Chunks waiting for the pieces before this one to be written. */
  held: Buffer[];
  /** True once the piece writes straight into the part's writer. */
  isDirect: boolean;
  /** Budget reserved for the chunks this piece may hold. */
  reservedBytes: number;
}

export class PartAssembly {
  /** In file order. */
  readonly pieces: Piece[] = [];
  readonly done: Promise<PartReceipt | null>;
  private head = 0;
  private isAdvancing = false;
  private failure: { error: unknown } | null = null;
  private rejectDone!: (error: unknown) => void;
  /** Whether `done` has settled (the part is stored, or the attempt failed). */
  isSettled = false;

  constructor(
    readonly part: PartSpec,
    private readonly writer: PartWriter,
    private readonly budget: TakeoverBudget,
    private readonly nextPieceId: () => number,
    /** Every byte received, as it is received (for live progress). */
    private readonly onBytes: (bytes: number) => void,
  ) {
    this.done = new Promise<PartReceipt | null>((resolve, reject) => {
      this.rejectDone = reject;
      writer.done.then(
        (receipt) => {
          this.isSettled = true;
          resolve(receipt);
        },
        (error: unknown) => this.fail(error),
      );
    });
    // Observed by the part's owner; never an unhandled rejection if it stopped waiting.
    this.done.catch(() => undefined);
    this.pieces.push(this.newPiece(part.offsetBytes, part.lengthBytes, true));
  }

  get isFailed(): boolean {
    return this.failure !== null;
  }

  /** Pieces still receiving bytes, as the takeover decision sees them. */
  piecesInFlight(): PieceInFlight[] {
    if (this.failure !== null) return [];
    return this.pieces
      .filter((piece) => !piece.isFetched)
      .map((piece) => ({
        id: piece.id,
        offsetBytes: piece.offsetBytes,
        lengthBytes: piece.lengthBytes,
        receivedBytes: piece.receivedBytes,
        isBuffered: !piece.isDirect,
      }));
  }

  /** Ends piece `pieceId` at `splitAtBytes` and returns the new piece for the rest, to be fetched by the caller. */
  split(pieceId: number, splitAtBytes: number): Piece {
    const at = this.pieces.findIndex((piece) => piece.id === pieceId);
    const victim = this.pieces[at];
    const end = victim === undefined ? 0 : victim.offsetBytes + victim.lengthBytes;
    if (
      victim === undefined ||
      victim.isFetched ||
      splitAtBytes <= victim.offsetBytes + victim.receivedBytes ||
      splitAtBytes >= end
    )
      throw new RangeError(`piece ${pieceId} of part ${this.part.index} cannot be split at ${splitAtBytes}`);
    const taken = this.newPiece(splitAtBytes, end - splitAtBytes, false);
    victim.lengthBytes = splitAtBytes - victim.offsetBytes;
    // A waiting piece hands the share of its reservation it no longer needs to the new piece.
    const handedOver = Math.min(victim.reservedBytes, taken.lengthBytes);
    victim.reservedBytes -= handedOver;
    this.budget.reserve(taken.lengthBytes - handedOver);
    taken.reservedBytes = taken.lengthBytes;
    this.pieces.splice(at + 1, 0, taken);
    return taken;
  }

  /** The writable a response body of `piece` goes into. */
  sink(piece: Piece): Writable {
    const sink = new PieceSink(piece, this);
    // Its errors reach the assembly as the rejection of the piece's request (see fetchPiece).
    sink.on('error', () => undefined);
    return sink;
  }

  /** Fails the attempt with its first error: every piece's request stops, and the writer is destroyed. */
  fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = { error };
    for (const piece of this.pieces) {
      piece.cut.abort(error);
      piece.held = [];
      this.budget.release(piece.reservedBytes);
      piece.reservedBytes = 0;
    }
    this.writer.writable.destroy();
    this.isSettled = true;
    this.rejectDone(error);
  }

  /** Takes a received chunk of `piece`: into the writer when it is the piece being written, else held. */
  deliver(piece: Piece, chunk: Buffer, callback: (error?: Error | null) => void): void {
    this.onBytes(chunk.byteLength);
    if (!piece.isDirect) {
      piece.held.push(chunk);
      callback();
      return;
    }
    if (this.writer.writable.write(chunk)) callback();
    else drained(this.writer.writable).then(() => callback(), callback);
  }

  pieceFetched(piece: Piece): void {
    piece.isFetched = true;
    if (piece.requestedBytes > piece.lengthBytes) {
      piece.cut.abort(new PieceCutError(`piece ${piece.id} was split`));
      piece.isEnded = true;
    }
    void this.advance();
  }

  /** The piece's response ended after exactly its bytes. */
  pieceEnded(piece: Piece): void {
    piece.isEnded = true;
    void this.advance();
  }

  /** Writes the pieces after a finished head, in order, each with what it held; ends the writer after the last. */
  private async advance(): Promise<void> {
    if (this.isAdvancing || this.failure !== null) return;
    this.isAdvancing = true;
    try {
      for (;;) {
        const piece = this.pieces[this.head];
        if (piece === undefined) {
          // Ended only once every response is over: a body longer than its range fails the part
          // rather than leaving it stored.
          if (this.pieces.every((each) => each.isEnded)) this.writer.writable.end();
          return;
        }
        if (!piece.isDirect) await this.writeHeld(piece);
        if (!piece.isFetched || this.failure !== null) return;
        this.head += 1;
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.isAdvancing = false;
    }
  }

  /** Writes what the piece holds (chunks arriving meanwhile join the queue), then lets it write straight in. */
  private async writeHeld(piece: Piece): Promise<void> {
    const writable = this.writer.writable;
    for (let chunk = piece.held.shift(); chunk !== undefined; chunk = piece.held.shift()) {
      if (this.failure !== null) return;
      if (!writable.write(chunk)) await drained(writable);
    }
    piece.isDirect = true;
    this.budget.release(piece.reservedBytes);
    piece.reservedBytes = 0;
  }

  private newPiece(offsetBytes: number, lengthBytes: number, isDirect: boolean): Piece {
    return {
      id: this.nextPieceId(),
      offsetBytes,
      requestedBytes: lengthBytes,
      lengthBytes,
      receivedBytes: 0,
      isFetched: false,
      isEnded: false,
      cut: new AbortController(),
      held: [],
      isDirect,
      reservedBytes: 0,
    };
  }
}

/** Resolves when the writable drains; rejects when it closes or fails first. */
function drained(writable: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      writable.off('drain', onDrain);
      writable.off('close', onClose);
      writable.off('error', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = (error?: Error) => settle(error ?? new Error('the part writer closed before it took every byte'));
    writable.on('drain', onDrain);
    writable.on('close', onClose);
    writable.on('error', onClose);
  });
}

/**
 * A response body of one piece: takes the piece's bytes, drops what comes after a split (until
 * the request is aborted), and refuses a body longer or shorter than the range asked for.
 */
class PieceSink extends Writable {
  constructor(
    private readonly piece: Piece,
    private readonly assembly: PartAssembly,
  ) {
    super({ decodeStrings: false });
  }

  private asUploadPart(): UploadPart {
    return {
      index: this.assembly.part.index,
      offsetBytes: this.piece.offsetBytes,
      lengthBytes: this.piece.requestedBytes,
    };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const piece = this.piece;
    const room = piece.lengthBytes - piece.receivedBytes;
    // What a split piece's response sends past the split, until its request is aborted.
    if (room <= 0 && piece.isFetched && piece.lengthBytes < piece.requestedBytes) {
      callback();
      return;
    }
    let taken = chunk;
    if (chunk.byteLength > room) {
      if (piece.lengthBytes === piece.requestedBytes) {
        callback(new PartLengthError(this.asUploadPart(), piece.receivedBytes + chunk.byteLength, true));
        return;
      }
      taken = chunk.subarray(0, room);
    }
    piece.receivedBytes += taken.byteLength;
    this.assembly.deliver(piece, taken, (error) => {
      if (error) {
        callback(error);
        return;
      }
      if (piece.receivedBytes === piece.lengthBytes) this.assembly.pieceFetched(piece);
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    const piece = this.piece;
    if (piece.receivedBytes !== piece.lengthBytes) {
      callback(new PartLengthError(this.asUploadPart(), piece.receivedBytes, false));
      return;
    }
    this.assembly.pieceEnded(piece);
    callback();
  }
}
