/**
 * The filesystem BlobStore. An upload is one sparse file, `<key>.partial`, that parts are written
 * into at their offsets by parallel streams; `flush` fdatasyncs it, and `complete` syncs it and
 * renames it to `<key>` (then syncs the folder), so a file under its final key is always whole.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobKey } from './blob-keys.js';
import type { BlobInfo, BlobStore, BlobUpload, ByteRange, CompletedPart, PartReceipt, UploadPart, UploadState } from './blob-store.js';

const WRITE_BUFFER_BYTES = 1024 * 1024;

/** A resumed upload whose partial file is gone or has the wrong size: its recorded parts are lost. */
export class UploadLostError extends Error {
  override readonly name = 'UploadLostError';
}

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

/** Refuses a body longer than its part before the excess can overwrite the next part. */
function limitTo(part: UploadPart) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let received = 0;
    for await (const chunk of source) {
      received += chunk.length;
      if (received > part.lengthBytes) throw new RangeError(`part ${part.index}: the body is longer than the part's ${part.lengthBytes} bytes`);
      yield chunk;
    }
  };
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

  async writePart(part: UploadPart, body: Readable, signal: AbortSignal): Promise<PartReceipt | null> {
    if (part.offsetBytes < 0 || part.offsetBytes + part.lengthBytes > this.sizeBytes) {
      throw new RangeError(`part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${this.sizeBytes} bytes`);
    }
    // Each part gets its own descriptor so parallel parts write without sharing a file position.
    const output = createWriteStream(this.partialPath, { flags: 'r+', start: part.offsetBytes, highWaterMark: WRITE_BUFFER_BYTES });
    await pipeline(body, limitTo(part), output, { signal });
    if (output.bytesWritten !== part.lengthBytes) {
      throw new Error(`part ${part.index}: received ${output.bytesWritten} bytes, expected ${part.lengthBytes}`);
    }
    return null;
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
