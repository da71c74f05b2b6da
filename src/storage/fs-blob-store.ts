/**
 * The filesystem BlobStore. An upload is one sparse file, `<key>.partial`, that parts are written
 * into at their offsets with positioned writes, in parallel; `flush` fdatasyncs it, and `complete`
 * syncs it and renames it to `<key>` (then syncs the folder), so a file under its final key is
 * always whole.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writev } from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BlobKey } from './blob-keys.js';
import { PartLengthError, UploadLostError, type BlobInfo, type BlobStore, type BlobUpload, type ByteRange, type CompletedPart, type PartWriter, type PartWriterOptions, type UploadPart, type UploadState } from './blob-store.js';

/** How much of a part may wait in memory for the disk. */
const SINK_BUFFER_BYTES = 256 * 1024;

// Kept importable from here for existing callers; both stores throw the one class.
export { UploadLostError };

export class FsBlobStore implements BlobStore {
  readonly capabilities = { presignedDownloads: false, minPartSizeBytes: 1 };
  private readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  /** The absolute path of a key, checked to stay under the root. */
  pathOf(key: BlobKey): string {
    const resolved = path.resolve(this.rootDir, key);
    if (!resolved.startsWith(this.rootDir + path.sep)) throw new TypeError(`storage key ${key} resolves outside the store`);
    return resolved;
  }

  async openUpload(key: BlobKey, sizeBytes: number, state: UploadState | null): Promise<BlobUpload> {
    const finalPath = this.pathOf(key);
    const partialPath = `${finalPath}.partial`;
    await fs.mkdir(path.dirname(finalPath), { recursive: true });
    if (state === null) {
      const handle = await fs.open(partialPath, 'w+');
      await handle.truncate(sizeBytes);
      return new FsUpload(key, partialPath, finalPath, sizeBytes, handle);
    }
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(partialPath, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UploadLostError(`the partial file of ${key} is gone`, { cause: error });
      throw error;
    }
    const { size } = await handle.stat();
    if (size !== sizeBytes) {
      await handle.close();
      throw new UploadLostError(`the partial file of ${key} has ${size} bytes, expected ${sizeBytes}`);
    }
    return new FsUpload(key, partialPath, finalPath, sizeBytes, handle);
  }

  async abortUpload(key: BlobKey): Promise<void> {
    await fs.rm(`${this.pathOf(key)}.partial`, { force: true });
  }

  async stat(key: BlobKey): Promise<BlobInfo | null> {
    try {
      const stats = await fs.stat(this.pathOf(key));
      return stats.isFile() ? { sizeBytes: stats.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async read(key: BlobKey, range?: ByteRange): Promise<Readable> {
    // Opening first turns a missing file into an error here rather than a failed stream later.
    const handle = await fs.open(this.pathOf(key), 'r');
    return handle.createReadStream({ ...(range ? { start: range.start, end: range.end } : {}), highWaterMark: 256 * 1024 });
  }

  async put(key: BlobKey, body: Readable, signal?: AbortSignal): Promise<BlobInfo> {
    const finalPath = this.pathOf(key);
    await fs.mkdir(path.dirname(finalPath), { recursive: true });
    const temporaryPath = `${finalPath}.${randomUUID()}.put`;
    try {
      const handle = await fs.open(temporaryPath, 'wx');
      try {
        await fs.writeFile(handle, body, signal ? { signal } : {});
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.rename(temporaryPath, finalPath);
    } catch (error) {
      await fs.rm(temporaryPath, { force: true });
      throw error;
    }
    const { size } = await fs.stat(finalPath);
    return { sizeBytes: size };
  }

  async mediaSource(key: BlobKey): Promise<string> {
    const filePath = this.pathOf(key);
    await fs.access(filePath);
    return filePath;
  }

  async delete(key: BlobKey): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: BlobKey): Promise<void> {
    await fs.rm(this.pathOf(prefix), { recursive: true, force: true });
  }

  async checkWritable(): Promise<void> {
    const probeDir = path.join(this.rootDir, '.probe');
    await fs.mkdir(probeDir, { recursive: true });
    const probePath = path.join(probeDir, randomUUID());
    await fs.writeFile(probePath, 'ok');
    await fs.rm(probePath, { force: true });
  }
}

/**
 * Writes a part's stream at its offset: whatever has accumulated while the previous write was on
 * its way to the disk goes in one pwritev, so the network and the disk work at the same time (the
 * small writes this makes proved cheaper than large batched ones). It refuses a body longer than
 * the part before the excess can overwrite the next part, and a shorter one when it ends.
 */
class PartSink extends Writable {
  private position: number;
  private readonly endOffset: number;

  constructor(private readonly fd: number, private readonly part: UploadPart, private readonly observe: ((chunk: Uint8Array) => void) | undefined) {
    super({ highWaterMark: SINK_BUFFER_BYTES, decodeStrings: false });
    this.position = part.offsetBytes;
    this.endOffset = part.offsetBytes + part.lengthBytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((entry) => entry.chunk);
    let length = 0;
    try {
      for (const buffer of buffers) {
        length += buffer.byteLength;
        if (this.position + length > this.endOffset) throw new PartLengthError(this.part, this.position - this.part.offsetBytes + length, true);
        this.observe?.(buffer);
      }
    } catch (error) {
      callback(error as Error);
      return;
    }
    const at = this.position;
    this.position += length;
    writeFully(this.fd, buffers, at, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const received = this.position - this.part.offsetBytes;
    callback(received === this.part.lengthBytes ? null : new PartLengthError(this.part, received, false));
  }
}

/** pwritev until every byte is written (a regular file rarely writes short, but may). */
function writeFully(fd: number, buffers: Uint8Array[], position: number, callback: (error?: Error | null) => void): void {
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

class FsUpload implements BlobUpload {
  readonly state: UploadState = { store: 'fs' };

  constructor(
    readonly key: BlobKey,
    private readonly partialPath: string,
    private readonly finalPath: string,
    private readonly sizeBytes: number,
    private readonly handle: fs.FileHandle,
  ) {}

  async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
    if (part.offsetBytes < 0 || part.offsetBytes + part.lengthBytes > this.sizeBytes) {
      throw new RangeError(`part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${this.sizeBytes} bytes`);
    }
    // A descriptor of its own per part: measured, parallel parts write more cheaply this way than
    // through one shared descriptor.
    const handle = await fs.open(this.partialPath, 'r+');
    const sink = new PartSink(handle.fd, part, options.observe);
    const done = finished(sink).then(
      async () => {
        await handle.close();
        return null;
      },
      async (error: unknown) => {
        await handle.close();
        throw error;
      },
    );
    // Observed by whoever awaits it; never an unhandled rejection if nobody does.
    done.catch(() => undefined);
    return { writable: sink, done };
  }

  async flush(): Promise<void> {
    await this.handle.datasync();
  }

  async complete(_parts: readonly CompletedPart[]): Promise<void> {
    await this.handle.sync();
    const { size } = await this.handle.stat();
    if (size !== this.sizeBytes) throw new Error(`the upload of ${this.key} has ${size} bytes, expected ${this.sizeBytes}`);
    await this.handle.close();
    await fs.rename(this.partialPath, this.finalPath);
    const folder = await fs.open(path.dirname(this.finalPath), 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
