import { randomBytes, randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoArtifactKey, videoSourceKey, type BlobKey } from '../../src/storage/blob-keys.js';
import { PartLengthError, writePartFrom, type UploadPart } from '../../src/storage/blob-store.js';
import { FsBlobStore, UploadLostError, type FsUpload } from '../../src/storage/fs-blob-store.js';
import { PartSink, WRITE_BATCH_BYTES } from '../../src/storage/fs-part-sink.js';
import { describeBlobStoreContract } from './blob-store.contract.js';

describeBlobStoreContract('FsBlobStore', async () => {
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-contract-'));
  return { store: new FsBlobStore(rootDir), cleanup: () => fs.rm(rootDir, { recursive: true, force: true }) };
});

describeBlobStoreContract('FsBlobStore without O_DIRECT', async () => {
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-contract-buffered-'));
  return {
    store: new FsBlobStore(rootDir, { directIo: false }),
    cleanup: () => fs.rm(rootDir, { recursive: true, force: true }),
  };
});

/** Whether the filesystem of `dir` accepts O_DIRECT (Linux filesystems such as ext4 and XFS do). */
async function acceptsDirectIo(dir: string): Promise<boolean> {
  if (fsConstants.O_DIRECT === undefined) return false;
  const probe = path.join(dir, 'direct-probe');
  try {
    await (await fs.open(probe, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_DIRECT)).close();
    return true;
  } catch {
    return false;
  } finally {
    await fs.rm(probe, { force: true });
  }
}

describe('FsBlobStore', () => {
  let parentDir: string;
  let rootDir: string;
  let store: FsBlobStore;

  beforeAll(async () => {
    parentDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-store-'));
    rootDir = path.join(parentDir, 'store');
    store = new FsBlobStore(rootDir);
  });

  afterAll(async () => {
    await fs.rm(parentDir, { recursive: true, force: true });
  });

  async function exists(filePath: string): Promise<boolean> {
    return fs.stat(filePath).then(
      () => true,
      () => false,
    );
  }

  function newKey(): BlobKey {
    return videoSourceKey(randomUUID(), randomUUID());
  }

  it('writes the upload into <key>.partial, sized to the file, and renames it to <key> on complete', async () => {
    const key = newKey();
    const content = randomBytes(10_000);
    const upload = await store.openUpload(key, content.length, null);
    const finalPath = store.pathOf(key);
    expect(finalPath).toBe(path.join(rootDir, key));
    expect((await fs.stat(`${finalPath}.partial`)).size).toBe(10_000);
    expect(await exists(finalPath)).toBe(false);

    const receipt = await writePartFrom(
      upload,
      { index: 0, offsetBytes: 0, lengthBytes: content.length },
      Readable.from([content]),
      new AbortController().signal,
    );
    expect(receipt).toBeNull();
    await upload.complete(
      [{ index: 0, offsetBytes: 0, lengthBytes: content.length, crc32c: crc32c(content) >>> 0, receipt }],
      crc32c(content) >>> 0,
    );

    expect(await exists(`${finalPath}.partial`)).toBe(false);
    expect((await fs.readFile(finalPath)).equals(content)).toBe(true);
  });

  it('records the store in the upload state and nothing else', async () => {
    const upload = await store.openUpload(newKey(), 10, null);
    expect(upload.state).toEqual({ store: 'fs' });
    await upload.close();
  });

  it.each([
    ['a parent-folder key', '../outside/source'],
    ['a key into a sibling folder that shares the root name as a prefix', '../store-sibling/source'],
    ['an absolute key', '/etc/passwd'],
    ['the root itself', '.'],
    ['a key that climbs out after descending', 'teams/../../outside'],
  ])('refuses %s in pathOf', (_label, key) => {
    expect(() => store.pathOf(key as BlobKey)).toThrow(new TypeError(`storage key ${key} resolves outside the store`));
  });

  it('throws UploadLostError when resuming an upload whose partial file is gone', async () => {
    const key = newKey();
    const upload = await store.openUpload(key, 100, null);
    const state = upload.state;
    await upload.close();
    await fs.rm(`${store.pathOf(key)}.partial`);

    const resuming = store.openUpload(key, 100, state);
    await expect(resuming).rejects.toBeInstanceOf(UploadLostError);
    await expect(resuming).rejects.toThrow(`the partial file of ${key} is gone`);
  });

  it('throws UploadLostError when resuming an upload whose partial file has the wrong size', async () => {
    const key = newKey();
    const upload = await store.openUpload(key, 100, null);
    const state = upload.state;
    await upload.close();
    await fs.truncate(`${store.pathOf(key)}.partial`, 60);

    const resuming = store.openUpload(key, 100, state);
    await expect(resuming).rejects.toBeInstanceOf(UploadLostError);
    await expect(resuming).rejects.toThrow(`the partial file of ${key} has 60 bytes, expected 100`);
    // The partial file is left for abortUpload to remove.
    expect((await fs.stat(`${store.pathOf(key)}.partial`)).size).toBe(60);
  });

  it('removes the partial file on abortUpload, so resuming the old state throws UploadLostError', async () => {
    const key = newKey();
    const upload = await store.openUpload(key, 100, null);
    const state = upload.state;
    await upload.close();
    await store.abortUpload(key);
    expect(await exists(`${store.pathOf(key)}.partial`)).toBe(false);
    await expect(store.openUpload(key, 100, state)).rejects.toBeInstanceOf(UploadLostError);
  });
});

/** `bytes` cut into chunks of `chunkBytes` (the last one shorter), as a TLS body arrives. */
function chunksOf(bytes: Buffer, chunkBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  return chunks;
}

// The part writer gathers chunks into batches of 256 KiB before writing them; these parts are
// several batches long, with sizes and chunk sizes that never line up with a batch.
describe.each([
  ['with O_DIRECT where the filesystem allows it', true],
  ['without O_DIRECT', false],
])('FsBlobStore part writer with bodies of many batches, %s', (_label, directIo) => {
  let rootDir: string;
  let store: FsBlobStore;
  let expectDirect: boolean;

  beforeAll(async () => {
    rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-batches-'));
    store = new FsBlobStore(rootDir, { directIo });
    expectDirect = directIo && (await acceptsDirectIo(rootDir));
  });

  afterAll(async () => {
    await fs.rm(rootDir, { recursive: true, force: true });
  });

  /** A file of two parts, the first `firstBytes` long, the second 100 003 bytes. */
  async function twoPartUpload(firstBytes: number) {
    const key = videoSourceKey(randomUUID(), randomUUID());
    const content = randomBytes(firstBytes + 100_003);
    const first: UploadPart = { index: 0, offsetBytes: 0, lengthBytes: firstBytes };
    const second: UploadPart = { index: 1, offsetBytes: firstBytes, lengthBytes: 100_003 };
    const upload = (await store.openUpload(key, content.length, null)) as FsUpload;
    return { key, content, first, second, upload };
  }

  it.each([
    ['16 KiB records', 16_384, 3 * 1024 * 1024 + 5],
    ['odd 16 381-byte chunks', 16_381, 3 * 1024 * 1024 + 5],
    ['one-byte-short-of-a-batch chunks', 256 * 1024 - 1, 3 * 1024 * 1024 + 5],
    ['chunks larger than a batch', 700_001, 3 * 1024 * 1024 + 5],
    // The last batch ends past an aligned block: its aligned start and its tail are written apart.
    ['16 KiB records, ending 10 000 bytes into a batch', 16_384, 1024 * 1024 + 10_000],
  ])(
    'stores a part sent in %s exactly, and shows the observer every byte in order',
    async (_label, chunkBytes, partBytes) => {
      const { key, content, first, second, upload } = await twoPartUpload(partBytes);
      await writePartFrom(
        upload,
        second,
        Readable.from([content.subarray(second.offsetBytes)]),
        new AbortController().signal,
      );
      let crc = 0;
      let observed = 0;
      const writer = await upload.createPartWriter(first, {
        observe: (chunk) => {
          crc = crc32c(chunk, crc);
          observed += chunk.byteLength;
        },
      });
      const finished = writer.done;
      await new Promise<void>((resolve, reject) => {
        Readable.from(chunksOf(content.subarray(0, first.lengthBytes), chunkBytes))
          .pipe(writer.writable)
          .on('finish', resolve)
          .on('error', reject);
      });
      await expect(finished).resolves.toBeNull();
      expect(observed).toBe(first.lengthBytes);
      expect(crc >>> 0).toBe(crc32c(content.subarray(0, first.lengthBytes)) >>> 0);
      expect(upload.writesDirect).toBe(expectDirect);
      await upload.complete([], crc32c(content) >>> 0);
      expect((await fs.readFile(store.pathOf(key))).equals(content)).toBe(true);
    },
  );

  it('refuses the byte past a many-batch part before it reaches the next part', async () => {
    const { key, content, first, second, upload } = await twoPartUpload(1024 * 1024 + 17);
    await writePartFrom(
      upload,
      second,
      Readable.from([content.subarray(second.offsetBytes)]),
      new AbortController().signal,
    );
    const overlong = Buffer.concat([content.subarray(0, first.lengthBytes), Buffer.from([0xee])]);
    const failure = await writePartFrom(
      upload,
      first,
      Readable.from(chunksOf(overlong, 16_384)),
      new AbortController().signal,
    ).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PartLengthError);
    expect(failure).toMatchObject({ isLonger: true, receivedBytes: first.lengthBytes + 1 });

    await writePartFrom(
      upload,
      first,
      Readable.from(chunksOf(content.subarray(0, first.lengthBytes), 16_384)),
      new AbortController().signal,
    );
    await upload.complete([], crc32c(content) >>> 0);
    expect((await fs.readFile(store.pathOf(key))).equals(content)).toBe(true);
  });

  it('refuses a many-batch body that ends short, with the count of bytes received', async () => {
    const { first, upload } = await twoPartUpload(1024 * 1024 + 17);
    const failure = await writePartFrom(
      upload,
      first,
      Readable.from(chunksOf(randomBytes(first.lengthBytes - 3), 16_384)),
      new AbortController().signal,
    ).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PartLengthError);
    expect(failure).toMatchObject({ isLonger: false, receivedBytes: first.lengthBytes - 3 });
    await upload.close();
  });

  it('settles a writer destroyed mid-body only after its batch under way is written, and a rewrite stores exact bytes', async () => {
    const { key, content, first, second, upload } = await twoPartUpload(2 * 1024 * 1024 + 9);
    await writePartFrom(
      upload,
      second,
      Readable.from([content.subarray(second.offsetBytes)]),
      new AbortController().signal,
    );
    const writer = await upload.createPartWriter(first);
    writer.writable.on('error', () => undefined);
    // Two batches and a bit: the first is being written when the writable is destroyed.
    for (const chunk of chunksOf(randomBytes(600_000), 16_384)) writer.writable.write(chunk);
    writer.writable.destroy(new Error('connection reset by the test'));
    await expect(writer.done).rejects.toThrow('connection reset by the test');

    await writePartFrom(
      upload,
      first,
      Readable.from(chunksOf(content.subarray(0, first.lengthBytes), 16_384)),
      new AbortController().signal,
    );
    await upload.complete([], crc32c(content) >>> 0);
    expect((await fs.readFile(store.pathOf(key))).equals(content)).toBe(true);
  });
});

describe('FsBlobStore part writer when the filesystem refuses a direct write', () => {
  it('writes the refused batch and the rest of the part through the page cache, and reports the refusal once', async (context) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-refused-'));
    try {
      if (!(await acceptsDirectIo(dir))) context.skip("the temporary folder's filesystem has no O_DIRECT to refuse");
      const filePath = path.join(dir, 'file');
      const content = randomBytes(1024 * 1024 + 4096);
      const buffered = await fs.open(filePath, 'w+');
      await buffered.truncate(content.length);
      const direct = await fs.open(filePath, fsConstants.O_RDWR | fsConstants.O_DIRECT);
      // Slabs at an odd address: every direct write from them is refused with EINVAL.
      const misaligned = {
        take: () => Buffer.alloc(WRITE_BATCH_BYTES + 4096 + 1).subarray(1, WRITE_BATCH_BYTES + 1),
        give: () => undefined,
      };
      const refusals: Error[] = [];
      const part = { index: 0, offsetBytes: 0, lengthBytes: content.length };
      const sink = new PartSink(
        { bufferedFd: buffered.fd, directFd: direct.fd, onDirectRefused: (error) => refusals.push(error) },
        part,
        undefined,
        misaligned,
      );
      await new Promise<void>((resolve, reject) => {
        Readable.from(chunksOf(content, 16_384)).pipe(sink).on('finish', resolve).on('error', reject);
      });
      await direct.close();
      await buffered.close();
      expect(refusals).toHaveLength(1);
      expect((refusals[0] as NodeJS.ErrnoException).code).toBe('EINVAL');
      expect((await fs.readFile(filePath)).equals(content)).toBe(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FsBlobStore media source', () => {
  it("is the stored file's own path, so ffmpeg seeks in it without a copy", async () => {
    const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-media-'));
    try {
      const store = new FsBlobStore(rootDir);
      const key = videoArtifactKey(randomUUID(), randomUUID(), 'web.mp4');
      const content = randomBytes(4_321);
      await store.put(key, Readable.from([content]));
      const source = await store.mediaSource(key);
      expect(path.isAbsolute(source)).toBe(true);
      expect(source.startsWith(rootDir + path.sep)).toBe(true);
      expect((await fs.readFile(source)).equals(content)).toBe(true);
      expect((await fs.readdir(path.dirname(source))).filter((name) => name.endsWith('.put'))).toEqual([]);
    } finally {
      await fs.rm(rootDir, { recursive: true, force: true });
    }
  });
});
