/**
 * The filesystem store's part writer: a Writable that stores one part's body at its offset in the
 * upload's file, in large positioned writes, while the network keeps delivering.
 *
 * Two ways to the disk:
 * - Direct (O_DIRECT), the default where the filesystem supports it: chunks are copied into
 *   page-aligned slabs of WRITE_BATCH_BYTES that go to the device without passing through the page
 *   cache. Copying a file of hundreds of gigabytes through the page cache costs the kernel more CPU
 *   than the rest of the copy together (allocating and filling pages it then has to write back),
 *   leaves the whole file dirty for the final sync, and evicts everything else from memory; a
 *   direct write costs a fraction of that and is on the device when it completes.
 * - Buffered, where O_DIRECT is refused (tmpfs, some network and FUSE filesystems), for a part that
 *   does not start on an aligned offset, or when direct I/O is turned off: the chunks themselves are
 *   gathered into batches of WRITE_BATCH_BYTES and written with one pwritev each.
 *
 * Either way one batch is written while the next gathers, and a chunk's callback is held back only
 * when a full batch waits behind the one being written. Every write wakes a thread-pool thread, so
 * batching matters: a body arrives in TLS records of at most 16 KiB, and written one or two at a
 * time the wake-ups cost several times the copy itself.
 *
 * The sink refuses a body longer than its part before the excess can overwrite the next part, and
 * a shorter one when it ends. A write under way always finishes before the writable settles (ends
 * or is destroyed), so the caller may close the descriptors as soon as it has.
 *
 * Written here because no library offers aligned buffers or O_DIRECT for Node streams.
 */
import { writev } from 'node:fs';
import { Writable } from 'node:stream';
import { admitChunk, PartLengthError, type UploadPart } from './blob-store.js';

/** Bytes per write: 256 KiB measured as cheap per byte as 1 MiB, and keeps 20 parts under 20 MiB of buffers. */
export const WRITE_BATCH_BYTES = 256 * 1024;

/** Offsets, lengths and buffer addresses of O_DIRECT writes are multiples of this (covers 512 and 4096-byte sectors). */
export const DIRECT_IO_ALIGNMENT = 4096;

/** Where a part's writes go. */
export interface SinkTarget {
  /** Buffered writes; always usable. */
  bufferedFd: number;
  /** A descriptor opened with O_DIRECT, or null when direct writes are not in use for this part. */
  directFd: number | null;
  /** Called once when the filesystem refuses a direct write after all, so later parts write buffered. */
  onDirectRefused: (error: Error) => void;
}

/** Where a sink gets the slabs it gathers direct writes in, and returns them. */
export interface SlabSource {
  take(): Buffer;
  give(slab: Buffer): void;
}

/**
 * Page-aligned slabs of WRITE_BATCH_BYTES, reused across parts (up to `keep` are kept free). A
 * resizable ArrayBuffer is backed by pages reserved for it alone, so its start is page-aligned; if
 * a platform ever placed it otherwise, the first direct write fails with EINVAL and the upload
 * falls back to buffered writes.
 */
class SlabPool implements SlabSource {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly slabBytes: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return (
      this.free.pop() ??
      Buffer.from(
        new (ArrayBuffer as ResizableArrayBufferConstructor)(this.slabBytes, { maxByteLength: this.slabBytes }),
      )
    );
  }

  give(slab: Buffer): void {
    if (this.free.length < this.keep) this.free.push(slab);
  }
}

/** Enough for 20 parts with a slab being written and one filling: 10 MiB at most. */
const sharedSlabs = new SlabPool(WRITE_BATCH_BYTES, 40);

type Callback = (error?: Error | null) => void;

/** The ES2024 constructor form (in Node 20), absent from the ES2023 library types. */
type ResizableArrayBufferConstructor = new (byteLength: number, options: { maxByteLength: number }) => ArrayBuffer;

export class PartSink extends Writable {
  /** The file offset of the next batch. */
  private position: number;
  private received = 0;
  /** Whether batches are gathered in aligned slabs for direct writes (else as the chunks themselves). */
  private readonly direct: boolean;
  /** Set when the filesystem refused a direct write: slabs are written buffered from then on. */
  private directRefused = false;
  /** Buffered mode: the chunks of the batch being gathered. */
  private chunks: Buffer[] = [];
  /** Direct mode: the slab being filled. */
  private slab: Buffer | null = null;
  /** Bytes gathered for the next batch. */
  private gathered = 0;
  private writing: Promise<void> | null = null;
  /** A chunk waiting for the write under way to finish before it can be taken in (backpressure). */
  private held: { resume: () => void; callback: Callback } | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly target: SinkTarget,
    private readonly part: UploadPart,
    private readonly observe: ((chunk: Uint8Array) => void) | undefined,
    private readonly slabs: SlabSource = sharedSlabs,
  ) {
    super({ highWaterMark: WRITE_BATCH_BYTES, decodeStrings: false });
    this.position = part.offsetBytes;
    this.direct = target.directFd !== null && part.offsetBytes % DIRECT_IO_ALIGNMENT === 0;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    if (this.failure !== null) {
      callback(this.failure);
      return;
    }
    const refused = admitChunk(this.part, this.received, chunk, this.observe);
    if (refused !== null) {
      callback(refused);
      return;
    }
    this.received += chunk.byteLength;
    this.takeIn(chunk, 0, callback);
  }

  override _final(callback: Callback): void {
    this.drain()
      .then(async () => {
        if (this.gathered > 0) this.writeBatch();
        await this.drain();
      })
      .then(
        () =>
          callback(
            this.received === this.part.lengthBytes ? null : new PartLengthError(this.part, this.received, false),
          ),
        (error: unknown) => callback(error as Error),
      );
  }

  override _destroy(error: Error | null, callback: Callback): void {
    // `destroyed` is already set, so nothing more starts once the write under way is done.
    void this.settled().then(() => {
      if (this.slab !== null) this.slabs.give(this.slab);
      this.slab = null;
      callback(error);
    });
  }

  /** Gathers `chunk` from `from` on; a full batch is written, or waited for when one is already under way. */
  private takeIn(chunk: Buffer, from: number, callback: Callback): void {
    let offset = from;
    while (offset < chunk.byteLength) {
      if (this.gathered >= WRITE_BATCH_BYTES) {
        if (this.writing !== null) {
          this.held = { resume: () => this.takeIn(chunk, offset, callback), callback };
          return;
        }
        this.writeBatch();
      }
      if (this.direct) {
        this.slab ??= this.slabs.take();
        const end = offset + Math.min(chunk.byteLength - offset, WRITE_BATCH_BYTES - this.gathered);
        this.gathered += chunk.copy(this.slab, this.gathered, offset, end);
        offset = end;
      } else {
        // The chunks themselves, uncopied: a batch may end a little past WRITE_BATCH_BYTES.
        this.chunks.push(offset === 0 ? chunk : chunk.subarray(offset));
        this.gathered += chunk.byteLength - offset;
        offset = chunk.byteLength;
      }
    }
    if (this.gathered >= WRITE_BATCH_BYTES && this.writing === null) this.writeBatch();
    callback();
  }

  /** Starts writing what has been gathered; once it is written, lets a held chunk in. */
  private writeBatch(): void {
    const at = this.position;
    const length = this.gathered;
    const slab = this.slab;
    const buffers = slab !== null ? [slab.subarray(0, length)] : this.chunks;
    this.slab = null;
    this.chunks = [];
    this.gathered = 0;
    this.position += length;
    // Assigned before the write starts, so even a write that completes at once clears it.
    let written!: () => void;
    this.writing = new Promise<void>((resolve) => {
      written = resolve;
    });
    this.store(buffers, at, (error) => {
      if (slab !== null) this.slabs.give(slab);
      this.writing = null;
      if (error) this.failure ??= error;
      const held = this.held;
      this.held = null;
      // A destroyed writable takes no callbacks; a failed one hands the failure to the held chunk.
      if (held !== null && !this.destroyed) {
        if (this.failure !== null) held.callback(this.failure);
        else held.resume();
      }
      written();
    });
  }

  /**
   * Writes `buffers` at `at`. A direct write whose length is not a multiple of the alignment (only
   * the end of the file has one) writes its aligned start directly and the rest buffered; a direct
   * write the filesystem refuses is written buffered, and later ones are too.
   */
  private store(buffers: Buffer[], at: number, callback: Callback): void {
    // A direct sink gathers into slabs (one buffer); a buffered one writes the chunks themselves.
    const directFd = this.direct && !this.directRefused ? this.target.directFd : null;
    if (directFd === null) {
      writeFully(this.target.bufferedFd, buffers, at, callback);
      return;
    }
    const [slab] = buffers as [Buffer];
    const aligned = slab.byteLength - (slab.byteLength % DIRECT_IO_ALIGNMENT);
    const writeTail = (error?: Error | null) => {
      if (error || aligned === slab.byteLength) callback(error);
      else writeFully(this.target.bufferedFd, [slab.subarray(aligned)], at + aligned, callback);
    };
    if (aligned === 0) {
      writeTail();
      return;
    }
    writeFully(directFd, [slab.subarray(0, aligned)], at, (error) => {
      if ((error as NodeJS.ErrnoException | null | undefined)?.code !== 'EINVAL') {
        writeTail(error);
        return;
      }
      this.directRefused = true;
      this.target.onDirectRefused(error as Error);
      writeFully(this.target.bufferedFd, [slab], at, callback);
    });
  }

  /** Resolves when no write is under way; rejects with the first write failure. */
  private async drain(): Promise<void> {
    await this.settled();
    if (this.failure !== null) throw this.failure;
  }

  private async settled(): Promise<void> {
    while (this.writing !== null) await this.writing;
  }
}

/** pwritev until every byte is written (a regular file rarely writes short, but may). */
function writeFully(
  fd: number,
  buffers: Uint8Array[],
  position: number,
  callback: (error?: Error | null) => void,
): void {
  writev(fd, buffers, position, (error, bytesWritten) => {
    if (error) {
      callback(error);
      return;
    }
    const rest = dropBytes(buffers, bytesWritten);
    if (rest.length === 0) callback();
    else writeFully(fd, rest, position + bytesWritten, callback);
  });
}

/** The buffers after their first `count` bytes. */
function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let skip = count;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.byteLength) {
      skip -= buffer.byteLength;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
