/**
 * The parts a copy has in flight, for connections that have no part left to start: `take` splits
 * the piece with the most bytes to come (domain/tail-split.ts) and hands back the range taken over,
 * for the idle connection to fetch into that part's assembly (part-assembly.ts).
 */
import { chooseTakeover, type PieceInFlight } from '../domain/tail-split.js';
import { TakeoverBudget, type PartAssembly, type Piece } from './part-assembly.js';

const KIBIBYTE = 1024;
const MEBIBYTE = 1024 * KIBIBYTE;

export interface TakeoverOptions {
  /** Neither side of a split is smaller: a takeover costs a request, and the split piece's connection. */
  minPieceBytes: number;
  /** Split offsets are multiples of this (the filesystem store writes aligned offsets directly). */
  alignBytes: number;
  /** Memory the copy may hold for taken-over ranges waiting for the pieces before them. */
  bufferBytes: number;
}

/**
 * 256 KiB is 50 ms at 5 MB/s: the last pieces of a throttled copy end within about that of each
 * other. 32 MiB of buffers covers the tails of 20 connections' 8 MiB parts split in halves, and
 * keeps a 20-connection copy under its memory target.
 */
export const defaultTakeoverOptions: TakeoverOptions = {
  minPieceBytes: 256 * KIBIBYTE,
  alignBytes: 64 * KIBIBYTE,
  bufferBytes: 32 * MEBIBYTE,
};

export interface TakenOver {
  assembly: PartAssembly;
  piece: Piece;
}

export class Takeovers {
  readonly budget: TakeoverBudget;
  private readonly assemblies = new Set<PartAssembly>();
  private lastPieceId = 0;

  constructor(private readonly options: TakeoverOptions = defaultTakeoverOptions) {
    this.budget = new TakeoverBudget(options.bufferBytes);
  }

  readonly nextPieceId = (): number => {
    this.lastPieceId += 1;
    return this.lastPieceId;
  };

  register(assembly: PartAssembly): void {
    this.assemblies.add(assembly);
  }

  unregister(assembly: PartAssembly): void {
    this.assemblies.delete(assembly);
  }

  /** Splits the piece worth splitting and returns the range taken over, or null when none is. */
  take(): TakenOver | null {
    const owners = new Map<number, PartAssembly>();
    const pieces: PieceInFlight[] = [];
    for (const assembly of this.assemblies) {
      for (const piece of assembly.piecesInFlight()) {
        owners.set(piece.id, assembly);
        pieces.push(piece);
      }
    }
    const choice = chooseTakeover(pieces, { ...this.options, bufferAvailableBytes: this.budget.available });
    const assembly = choice === null ? undefined : owners.get(choice.pieceId);
    if (choice === null || assembly === undefined) return null;
    return { assembly, piece: assembly.split(choice.pieceId, choice.splitAtBytes) };
  }
}
