/**
 * The filesystem BlobStore. An upload is one sparse file, `<key>.partial`, that parts are written
 * into at their offsets with positioned writes, in parallel; `flush` fdatasyncs it, and `complete`
 * syncs it and renames it to `<key>` (then syncs the folder), so a file under its final key is
 * always whole. Parts are written with O_DIRECT where the filesystem allows it (see fs-part-sink.ts).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { constants as fsConstants } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BlobKey } from './blob-keys.js';
import { PartSink } from './fs-part-sink.js';
import {
  UploadLostError,
  type BlobInfo,
  type BlobStore,
  type BlobUpload,
  type ByteRange,
  type CompletedPart,
  type PartWriter,
  type PartWriterOptions,
  type UploadPart,
  type UploadState,
} from './blob-store.js';

// Kept importable from here for existing callers; both stores throw the one class.
export { UploadLostError };

export interface FsBlobStoreOptions {
  /** Write parts with O_DIRECT where the filesystem supports it (default true); false always writes through the page cache. */
  directIo?: boolean;
}

export class FsBlobStore implements BlobStore {
  readonly capabilities = { presignedDownloads: false, minPartSizeBytes: 1 };
  private readonly rootDir: string;
  private readonly directIo: boolean;

  constructor(rootDir: string, options: FsBlobStoreOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    // O_DIRECT is a Linux (and FreeBSD) flag; elsewhere the constant is absent.
    this.directIo = (options.directIo ?? true) && fsConstants.O_DIRECT !== undefined;
  }

  /** The absolute path of a key, checked to stay under the root. */
  pathOf(key: BlobKey): string {
    const resolved = path.resolve(this.rootDir, key);
    if (!resolved.startsWith(this.rootDir + path.sep))
      throw new TypeError(`storage key ${key} resolves outside the store`);
    return resolved;
  }

  async openUpload(key: BlobKey, sizeBytes: number, state: UploadState | null): Promise<BlobUpload> {
    const finalPath = this.pathOf(key);
    const partialPath = `${finalPath}.partial`;
    await fs.mkdir(path.dirname(finalPath), { recursive: true });
    if (state === null) {
      const handle = await fs.open(partialPath, 'w+');
      await handle.truncate(sizeBytes);
      return new FsUpload(key, partialPath, finalPath, sizeBytes, handle, this.directIo);
    }
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(partialPath, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new UploadLostError(`the partial file of ${key} is gone`, { cause: error });
      throw error;
    }
    const { size } = await handle.stat();
    if (size !== sizeBytes) {
      await handle.close();
      throw new UploadLostError(`the partial file of ${key} has ${size} bytes, expected ${sizeBytes}`);
    }
    return new FsUpload(key, partialPath, finalPath, sizeBytes, handle, this.directIo);
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
    return handle.createReadStream({
      ...(range ? { start: range.start, end: range.end } : {}),
      highWaterMark: 256 * 1024,
    });
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

export class FsUpload implements BlobUpload {
  readonly state: UploadState = { store: 'fs' };

  constructor(
    readonly key: BlobKey,
    private readonly partialPath: string,
    private readonly finalPath: string,
    private readonly sizeBytes: number,
    private readonly handle: fs.FileHandle,
    /** Cleared for good when the filesystem refuses O_DIRECT (at open or at a write). */
    private direct: boolean,
  ) {}

  /** Whether parts are still written with O_DIRECT (false once the filesystem refused it). */
  get writesDirect(): boolean {
    return this.direct;
  }

  async createPartWriter(part: UploadPart, options: PartWriterOptions = {}): Promise<PartWriter> {
    if (part.offsetBytes < 0 || part.offsetBytes + part.lengthBytes > this.sizeBytes) {
      throw new RangeError(
        `part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${this.sizeBytes} bytes`,
      );
    }
    // A descriptor of its own per part: measured, parallel parts write more cheaply this way than
    // through one shared descriptor. Buffered writes of a direct part (the file's unaligned end)
    // go through the upload's own descriptor.
    const own = await this.openPartDescriptor();
    const sink = new PartSink(
      {
        bufferedFd: own.direct ? this.handle.fd : own.handle.fd,
        directFd: own.direct ? own.handle.fd : null,
        onDirectRefused: () => {
          this.direct = false;
        },
      },
      part,
      options.observe,
    );
    const done = finished(sink).then(
      async () => {
        await own.handle.close();
        return null;
      },
      async (error: unknown) => {
        await own.handle.close();
        throw error;
      },
    );
    // Observed by whoever awaits it; never an unhandled rejection if nobody does.
    done.catch(() => undefined);
    return { writable: sink, done };
  }

  /** A descriptor for one part: O_DIRECT while the filesystem accepts it, buffered otherwise. */
  private async openPartDescriptor(): Promise<{ handle: fs.FileHandle; direct: boolean }> {
    if (this.direct) {
      try {
        return { handle: await fs.open(this.partialPath, fsConstants.O_RDWR | fsConstants.O_DIRECT), direct: true };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
        this.direct = false;
      }
    }
    return { handle: await fs.open(this.partialPath, 'r+'), direct: false };
  }

  async flush(): Promise<void> {
    await this.handle.datasync();
  }

  async complete(_parts: readonly CompletedPart[], _crc32c: number): Promise<void> {
    await this.handle.sync();
    const { size } = await this.handle.stat();
    if (size !== this.sizeBytes)
      throw new Error(`the upload of ${this.key} has ${size} bytes, expected ${this.sizeBytes}`);
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
