/**
 * The BlobStore contract: behaviour every implementation (filesystem, S3-compatible) must show.
 * It speaks only the BlobStore/BlobUpload interface, so a new implementation runs it by calling
 * describeBlobStoreContract with a factory. Part sizes follow the store's minPartSizeBytes, and
 * every test uses keys of its own, so one store serves the whole suite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBlobKey, videoArtifactKey, videoPrefix, videoSourceKey, type BlobKey } from '../../src/storage/blob-keys.js';
import {
  PartLengthError,
  writePartFrom,
  type BlobStore,
  type BlobUpload,
  type CompletedPart,
  type UploadPart,
  type UploadState,
} from '../../src/storage/blob-store.js';
import { until } from '../support/wait.js';

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup(): Promise<void>;
}

interface TestFile {
  key: BlobKey;
  content: Buffer;
  parts: UploadPart[];
  crc32c: number;
}

/** Deterministic shuffle (mulberry32), so a failing order can be reproduced. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const result = [...items];
  for (let i = result.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}

/** Where each chunk of bodyOf's body of `length` bytes ends: uneven sizes, as a network stream delivers them. */
function chunkEnds(length: number): number[] {
  const ends: number[] = [];
  for (let offset = 0, size = 1; offset < length; offset += size, size = Math.min(size * 3 + 7, 48 * 1024)) {
    ends.push(Math.min(offset + size, length));
  }
  return ends;
}

/** A body made of several Buffers of uneven sizes, as a network stream delivers them. */
function bodyOf(bytes: Buffer): Readable {
  let start = 0;
  return Readable.from(
    chunkEnds(bytes.length).map((end) => {
      const chunk = bytes.subarray(start, end);
      start = end;
      return chunk;
    }),
  );
}

/** The PartLengthError a part writer refuses a body of `bodyBytes` with (a longer one at its first chunk past the part). */
function lengthRefusal(part: UploadPart, bodyBytes: number): PartLengthError {
  if (bodyBytes < part.lengthBytes) return new PartLengthError(part, bodyBytes, false);
  const end = chunkEnds(bodyBytes).find((chunkEnd) => chunkEnd > part.lengthBytes) as number;
  return new PartLengthError(part, end, true);
}

/** Checks that `promise` rejects with exactly `expected`: its class, message, part, receivedBytes and isLonger. */
async function expectLengthRefusal(promise: Promise<unknown>, expected: PartLengthError): Promise<void> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PartLengthError);
  expect(error).toMatchObject({
    message: expected.message,
    part: expected.part,
    receivedBytes: expected.receivedBytes,
    isLonger: expected.isLonger,
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function partBytes(file: TestFile, part: UploadPart): Buffer {
  return file.content.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes);
}

/** Writes `parts` of `file` in parallel, started in a shuffled order; returns them as completed parts. */
async function writeParts(
  upload: BlobUpload,
  file: TestFile,
  parts: readonly UploadPart[],
  seed: number,
): Promise<CompletedPart[]> {
  const signal = new AbortController().signal;
  const written = await Promise.all(
    shuffled(parts, seed).map(async (part) => {
      const receipt = await writePartFrom(upload, part, bodyOf(partBytes(file, part)), signal);
      return { ...part, crc32c: crc32c(partBytes(file, part)) >>> 0, receipt };
    }),
  );
  return written.sort((a, b) => a.index - b.index);
}

/** Persisted upload state goes through JSON (a jsonb column); resuming must work from that copy. */
function persisted(state: UploadState): UploadState {
  return JSON.parse(JSON.stringify(state)) as UploadState;
}

async function settle(promise: Promise<unknown>): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await promise;
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Registers the contract's tests for one implementation. `makeStore` is called once for the suite;
 * `cleanup` removes whatever the store holds.
 */
export function describeBlobStoreContract(name: string, makeStore: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture | undefined;
    let store: BlobStore;
    let partSizeBytes: number;
    const openUploads: BlobUpload[] = [];

    beforeAll(async () => {
      fixture = await makeStore();
      store = fixture.store;
      // Odd sizes, so no part boundary falls on a power of two by luck.
      partSizeBytes = Math.max(store.capabilities.minPartSizeBytes, 65_537);
    });

    afterAll(async () => {
      for (const upload of openUploads) await upload.close().catch(() => undefined);
      await fixture?.cleanup();
    });

    /** A random file of `fullParts` parts and a shorter last part, under a fresh key. */
    function newFile(fullParts = 4, key: BlobKey = videoSourceKey(randomUUID(), randomUUID())): TestFile {
      const lastPartBytes = Math.floor(partSizeBytes / 2) + 11;
      const content = randomBytes(fullParts * partSizeBytes + lastPartBytes);
      const parts: UploadPart[] = [];
      for (let index = 0; index * partSizeBytes < content.length; index += 1) {
        const offsetBytes = index * partSizeBytes;
        parts.push({ index, offsetBytes, lengthBytes: Math.min(partSizeBytes, content.length - offsetBytes) });
      }
      return { key, content, parts, crc32c: crc32c(content) >>> 0 };
    }

    async function open(file: TestFile, state: UploadState | null = null): Promise<BlobUpload> {
      const upload = await store.openUpload(file.key, file.content.length, state);
      openUploads.push(upload);
      return upload;
    }

    async function storeWhole(file: TestFile): Promise<void> {
      const upload = await open(file);
      const completed = await writeParts(upload, file, file.parts, 7);
      await upload.complete(completed, file.crc32c);
    }

    it('publishes exactly the bytes of parts written in random order and in parallel', async () => {
      const file = newFile(6);
      const upload = await open(file);
      expect(upload.key).toBe(file.key);
      const completed = await writeParts(upload, file, file.parts, 42);
      await upload.flush();
      await upload.complete(completed, file.crc32c);

      expect(await store.stat(file.key)).toEqual({ sizeBytes: file.content.length });
      const stored = await readAll(await store.read(file.key));
      expect(stored.length).toBe(file.content.length);
      expect(stored.equals(file.content)).toBe(true);
    });

    it('reads inclusive byte ranges: the first byte, the last byte, across a part boundary, the whole file', async () => {
      const file = newFile(2);
      await storeWhole(file);
      const last = file.content.length - 1;
      const ranges = [
        { start: 0, end: 0 },
        { start: last, end: last },
        { start: partSizeBytes - 5, end: partSizeBytes + 4 },
        { start: 0, end: last },
      ];
      for (const range of ranges) {
        const bytes = await readAll(await store.read(file.key, range));
        expect(bytes.length, `range ${range.start}-${range.end}`).toBe(range.end - range.start + 1);
        expect(
          bytes.equals(file.content.subarray(range.start, range.end + 1)),
          `range ${range.start}-${range.end}`,
        ).toBe(true);
      }
    });

    it('keeps the key absent until complete(), even with every part written and flushed', async () => {
      const file = newFile(2);
      const upload = await open(file);
      expect(await store.stat(file.key)).toBeNull();
      const completed = await writeParts(upload, file, file.parts, 3);
      await upload.flush();
      expect(await store.stat(file.key)).toBeNull();
      await upload.complete(completed, file.crc32c);
      expect(await store.stat(file.key)).toEqual({ sizeBytes: file.content.length });
    });

    it('resumes an upload from its persisted state, keeping the parts the first handle wrote', async () => {
      const file = newFile(4);
      const first = await open(file);
      const earlyParts = file.parts.filter((part) => part.index % 2 === 0);
      const lateParts = file.parts.filter((part) => part.index % 2 === 1);
      const earlyCompleted = await writeParts(first, file, earlyParts, 11);
      await first.flush();
      const state = persisted(first.state);
      await first.close();

      const resumed = await open(file, state);
      expect(resumed.key).toBe(file.key);
      const lateCompleted = await writeParts(resumed, file, lateParts, 12);
      await resumed.complete(
        [...earlyCompleted, ...lateCompleted].sort((a, b) => a.index - b.index),
        file.crc32c,
      );

      const stored = await readAll(await store.read(file.key));
      expect(stored.equals(file.content)).toBe(true);
    });

    it('discards an aborted upload: resuming its old state fails or starts empty, and nothing is published', async () => {
      // The interface documents abortUpload as deleting the partial data, so an old state can no
      // longer yield the parts written before the abort: opening it, writing, or completing fails,
      // or the published file does not contain those parts.
      const file = newFile(2);
      const first = await open(file);
      const [firstPart, ...remainingParts] = file.parts;
      if (!firstPart) throw new Error('the test file has no parts');
      const earlyCompleted = await writeParts(first, file, [firstPart], 1);
      await first.flush();
      const state = persisted(first.state);
      await first.close();

      await store.abortUpload(file.key, state);
      expect(await store.stat(file.key)).toBeNull();

      const reopened = await settle(
        (async () => {
          const resumed = await open(file, state);
          const lateCompleted = await writeParts(resumed, file, remainingParts, 2);
          await resumed.complete([...earlyCompleted, ...lateCompleted], file.crc32c);
        })(),
      );
      if (!reopened.ok) {
        expect(await store.stat(file.key)).toBeNull();
        return;
      }
      const stored = await readAll(await store.read(file.key));
      expect(stored.length).toBe(file.content.length);
      expect(stored.subarray(0, firstPart.lengthBytes).equals(partBytes(file, firstPart))).toBe(false);
    });

    it('aborts idempotently: twice, and for a key that has no upload', async () => {
      const file = newFile(1);
      const upload = await open(file);
      await writeParts(upload, file, file.parts, 5);
      const state = persisted(upload.state);
      await upload.close();
      await expect(store.abortUpload(file.key, state)).resolves.toBeUndefined();
      await expect(store.abortUpload(file.key, state)).resolves.toBeUndefined();
      await expect(store.abortUpload(videoSourceKey(randomUUID(), randomUUID()), null)).resolves.toBeUndefined();
      expect(await store.stat(file.key)).toBeNull();
    });

    it('rejects a part whose body is shorter than the part length', async () => {
      const file = newFile(2);
      const upload = await open(file);
      const part = file.parts[1] as UploadPart;
      const short = partBytes(file, part).subarray(0, part.lengthBytes - 1);
      await expectLengthRefusal(
        writePartFrom(upload, part, bodyOf(short), new AbortController().signal),
        new PartLengthError(part, part.lengthBytes - 1, false),
      );
    });

    it('rejects a part whose body is longer than the part length', async () => {
      const file = newFile(2);
      const upload = await open(file);
      const part = file.parts[0] as UploadPart;
      const long = file.content.subarray(part.offsetBytes, part.offsetBytes + part.lengthBytes + 1);
      await expectLengthRefusal(
        writePartFrom(upload, part, bodyOf(long), new AbortController().signal),
        new PartLengthError(part, part.lengthBytes + 1, true),
      );
    });

    it('keeps the neighbouring part intact when a too-long body is rejected and the part is written again', async () => {
      const file = newFile(1);
      const upload = await open(file);
      const [first, second] = file.parts as [UploadPart, UploadPart];
      const [secondCompleted] = await writeParts(upload, file, [second], 1);
      const overlong = Buffer.concat([partBytes(file, first), Buffer.alloc(1024, 0xee)]);
      await expectLengthRefusal(
        writePartFrom(upload, first, bodyOf(overlong), new AbortController().signal),
        lengthRefusal(first, overlong.length),
      );
      const [firstCompleted] = await writeParts(upload, file, [first], 2);
      await upload.complete([firstCompleted as CompletedPart, secondCompleted as CompletedPart], file.crc32c);

      const stored = await readAll(await store.read(file.key));
      expect(stored.equals(file.content)).toBe(true);
    });

    it('rejects a part that lies outside the file', async () => {
      const file = newFile(1);
      const upload = await open(file);
      const size = file.content.length;
      const signal = new AbortController().signal;
      const outside: UploadPart[] = [
        { index: 2, offsetBytes: size, lengthBytes: 1 },
        { index: 1, offsetBytes: size - 10, lengthBytes: 11 },
        { index: 0, offsetBytes: -1, lengthBytes: 1 },
      ];
      for (const part of outside) {
        await expect(writePartFrom(upload, part, bodyOf(Buffer.alloc(part.lengthBytes, 1)), signal)).rejects.toThrow(
          new RangeError(
            `part ${part.index} (${part.offsetBytes}+${part.lengthBytes}) lies outside the file of ${size} bytes`,
          ),
        );
      }
    });

    it("shows a part writer's observer every chunk in order, and settles done with the receipt", async () => {
      const file = newFile(1);
      const upload = await open(file);
      const part = file.parts[0] as UploadPart;
      const bytes = partBytes(file, part);
      const seen: Buffer[] = [];
      const writer = await upload.createPartWriter(part, { observe: (chunk) => seen.push(Buffer.from(chunk)) });
      const middle = Math.floor(bytes.length / 3);
      writer.writable.write(bytes.subarray(0, middle));
      writer.writable.end(bytes.subarray(middle));
      await expect(writer.done).resolves.not.toBeInstanceOf(Error);
      expect(Buffer.concat(seen).equals(bytes)).toBe(true);
    });

    it.each([
      ['shorter', -1, false],
      ['longer', 1, true],
    ])(
      'settles a part writer with PartLengthError when the body is %s than the part',
      async (_label, extra, isLonger) => {
        const file = newFile(1);
        const upload = await open(file);
        const part = file.parts[0] as UploadPart;
        const writer = await upload.createPartWriter(part);
        writer.writable.on('error', () => undefined);
        writer.writable.end(Buffer.alloc(part.lengthBytes + extra, 7));
        const error = await writer.done.then(
          () => null,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(PartLengthError);
        expect(error).toMatchObject({ part, receivedBytes: part.lengthBytes + extra, isLonger });
      },
    );

    it('rejects a part write when its signal aborts mid-stream', async () => {
      const file = newFile(1);
      const upload = await open(file);
      const part = file.parts[0] as UploadPart;
      const body = new PassThrough();
      const controller = new AbortController();
      const writing = writePartFrom(upload, part, body, controller.signal);
      body.write(partBytes(file, part).subarray(0, 1000));
      // Mid-stream: the store has taken the first bytes from the body.
      await until(
        'the store to read the first 1000 bytes',
        () => body.readableLength,
        (unread) => unread === 0,
      );
      const reason = new Error('stopped by the test');
      controller.abort(reason);
      await expect(writing).rejects.toMatchObject({ name: 'AbortError', cause: reason });
      body.destroy();
    });

    it('deletes a file idempotently: twice, and a key that never existed', async () => {
      const file = newFile(1);
      await storeWhole(file);
      await expect(store.delete(file.key)).resolves.toBeUndefined();
      expect(await store.stat(file.key)).toBeNull();
      await expect(store.delete(file.key)).resolves.toBeUndefined();
      await expect(store.delete(videoSourceKey(randomUUID(), randomUUID()))).resolves.toBeUndefined();
    });

    it('deletes everything under a prefix and nothing else', async () => {
      const teamId = randomUUID();
      const videoId = randomUUID();
      const prefix = videoPrefix(teamId, videoId);
      const inside = [newFile(0, videoSourceKey(teamId, videoId)), newFile(0, toBlobKey(`${prefix}/clips/first`))];
      const outside = [
        newFile(0, videoSourceKey(teamId, randomUUID())),
        // Shares the prefix as a string but not as a folder: a prefix is whole segments.
        newFile(0, toBlobKey(`${prefix}-sibling/source`)),
        newFile(0, videoSourceKey(randomUUID(), videoId)),
      ];
      for (const file of [...inside, ...outside]) await storeWhole(file);

      await store.deletePrefix(prefix);

      for (const file of inside) expect(await store.stat(file.key), file.key).toBeNull();
      for (const file of outside) {
        expect(await store.stat(file.key), file.key).toEqual({ sizeBytes: file.content.length });
        expect((await readAll(await store.read(file.key))).equals(file.content), file.key).toBe(true);
      }
    });

    it('deletes a prefix idempotently: twice, and a prefix that holds nothing', async () => {
      const teamId = randomUUID();
      const videoId = randomUUID();
      const file = newFile(0, videoSourceKey(teamId, videoId));
      await storeWhole(file);
      await expect(store.deletePrefix(videoPrefix(teamId, videoId))).resolves.toBeUndefined();
      await expect(store.deletePrefix(videoPrefix(teamId, videoId))).resolves.toBeUndefined();
      await expect(store.deletePrefix(videoPrefix(randomUUID(), randomUUID()))).resolves.toBeUndefined();
      expect(await store.stat(file.key)).toBeNull();
    });

    it('puts a whole file from a stream and replaces an existing one with exactly the new bytes', async () => {
      const key = videoArtifactKey(randomUUID(), randomUUID(), 'thumbnails/0001.jpg');
      const first = randomBytes(300_001);
      expect(await store.put(key, Readable.from([first.subarray(0, 7), first.subarray(7)]))).toEqual({
        sizeBytes: first.length,
      });
      expect((await readAll(await store.read(key))).equals(first)).toBe(true);
      const second = randomBytes(1_234);
      expect(await store.put(key, Readable.from([second]))).toEqual({ sizeBytes: second.length });
      expect((await readAll(await store.read(key))).equals(second)).toBe(true);
    });

    it('keeps the old content when a put fails mid-stream', async () => {
      const key = videoArtifactKey(randomUUID(), randomUUID(), 'web.mp4');
      const original = randomBytes(10_000);
      await store.put(key, Readable.from([original]));
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(5_000);
        throw new Error('the encoder died');
      }
      await expect(store.put(key, Readable.from(failing()))).rejects.toThrow('the encoder died');
      expect((await readAll(await store.read(key))).equals(original)).toBe(true);
    });

    it('names a media source for a stored file and refuses one for a missing key', async () => {
      const file = newFile(0);
      await storeWhole(file);
      expect(await store.mediaSource(file.key, 3600)).toMatch(/\S/);
      await expect(store.mediaSource(videoSourceKey(randomUUID(), randomUUID()), 3600)).rejects.toThrow();
    });

    it('proves it is writable', async () => {
      await expect(store.checkWritable()).resolves.toBeUndefined();
    });
  });
}
