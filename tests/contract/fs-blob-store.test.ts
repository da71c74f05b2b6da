import { writePartFrom } from '../../src/storage/blob-store.js';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoArtifactKey, videoSourceKey, type BlobKey } from '../../src/storage/blob-keys.js';
import { FsBlobStore, UploadLostError } from '../../src/storage/fs-blob-store.js';
import { describeBlobStoreContract } from './blob-store.contract.js';

describeBlobStoreContract('FsBlobStore', async () => {
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reelin-fs-contract-'));
  return { store: new FsBlobStore(rootDir), cleanup: () => fs.rm(rootDir, { recursive: true, force: true }) };
});

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
    return fs.stat(filePath).then(() => true, () => false);
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

    const receipt = await writePartFrom(upload, { index: 0, offsetBytes: 0, lengthBytes: content.length }, Readable.from([content]), new AbortController().signal);
    expect(receipt).toBeNull();
    await upload.complete([{ index: 0, offsetBytes: 0, lengthBytes: content.length, crc32c: crc32c(content) >>> 0, receipt }], crc32c(content) >>> 0);

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

describe('FsBlobStore media source', () => {
  it('is the stored file\'s own path, so ffmpeg seeks in it without a copy', async () => {
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
