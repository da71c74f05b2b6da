import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SourceInfo } from '../../src/copy/probe.js';
import { sealS3Credentials, type S3SourceInfo } from '../../src/copy/s3-source.js';
import type { Database } from '../../src/db/database.js';
import type { TeamRow } from '../../src/db/queries/tenancy.queries.js';
import type { ImportRow, VideoView } from '../../src/db/queries/videos.queries.js';
import { MEBIBYTE, type RecordedPart } from '../../src/domain/part-plan.js';
import type { OutboundClient } from '../../src/net/outbound-client.js';
import { VideoImportService, type ImportJobs } from '../../src/services/video-import.service.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

// The restart's database queries and source probes are replaced by fakes; the service's own
// decisions (has the source changed, what is reset, what is aborted) run for real.
const fakes = vi.hoisted(() => ({
  findImportStatusView: vi.fn(),
  listRecordedParts: vi.fn(),
  markImportRestarted: vi.fn(),
  resetImportForNewSource: vi.fn(),
  probeSource: vi.fn(),
  probeS3Object: vi.fn(),
}));
vi.mock('../../src/db/queries/videos.queries.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  findImportStatusView: fakes.findImportStatusView,
}));
vi.mock('../../src/db/queries/imports.queries.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  listRecordedParts: fakes.listRecordedParts,
  markImportRestarted: fakes.markImportRestarted,
  resetImportForNewSource: fakes.resetImportForNewSource,
}));
vi.mock('../../src/copy/probe.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  probeSource: fakes.probeSource,
}));
vi.mock('../../src/copy/s3-source.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  probeS3Object: fakes.probeS3Object,
}));

const TEAM_ID = '11111111-1111-4111-8111-111111111111';
const VIDEO_ID = '22222222-2222-4222-8222-222222222222';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const kek = randomBytes(32);
/** The transaction the fake database hands to the restart's work. */
const tx = { isTransaction: true } as unknown as Database;

function failedImport(overrides: Partial<ImportRow> = {}): ImportRow {
  return {
    videoId: VIDEO_ID,
    sourceKind: 'https',
    sourceUrl: 'https://origin.example/master.mov',
    s3Endpoint: null,
    s3Region: null,
    s3Bucket: null,
    s3ObjectKey: null,
    s3Addressing: null,
    sourceCredentials: null,
    fetchUrl: 'https://cdn.origin.example/master.mov',
    pinnedAddresses: ['203.0.113.10'],
    totalBytes: 40 * MEBIBYTE,
    partSizeBytes: 8 * MEBIBYTE,
    etag: '"v1"',
    lastModified: 'Sun, 01 Mar 2026 10:00:00 GMT',
    expectedCrc32c: 1234,
    skipChecksumValidation: false,
    maxConnections: 10,
    fullIngestion: true,
    status: 'FAILED',
    bytesCopied: 24 * MEBIBYTE,
    progressPercentage: 60,
    bytesPerSecond: null,
    errorCode: 'SOURCE_HTTP_ERROR',
    errorMessage: 'the source answered 503',
    errorDetails: {},
    uploadState: { uploadId: 'upload-1' },
    startedAt: new Date('2026-03-01T11:00:00.000Z'),
    finishedAt: new Date('2026-03-01T11:05:00.000Z'),
    createdAt: new Date('2026-03-01T10:59:00.000Z'),
    updatedAt: new Date('2026-03-01T11:05:00.000Z'),
    ...overrides,
  };
}

function probed(overrides: Partial<SourceInfo> = {}): SourceInfo {
  return {
    fetchUrl: 'https://cdn2.origin.example/master.mov',
    addresses: ['203.0.113.20'],
    totalBytes: 40 * MEBIBYTE,
    etag: '"v1"',
    lastModified: 'Sun, 01 Mar 2026 10:00:00 GMT',
    contentType: 'video/quicktime',
    ...overrides,
  };
}

/** Three of the five parts were copied before the import failed. */
const recordedParts: RecordedPart[] = [0, 1, 2].map((index) => ({
  partIndex: index,
  offsetBytes: index * 8 * MEBIBYTE,
  lengthBytes: 8 * MEBIBYTE,
  crc32c: index,
  receipt: null,
}));

function harness(current: ImportRow) {
  const view = { video: { id: VIDEO_ID, teamId: TEAM_ID }, videoImport: current } as unknown as VideoView;
  fakes.findImportStatusView.mockResolvedValue(view);
  fakes.listRecordedParts.mockResolvedValue(recordedParts);
  fakes.markImportRestarted.mockResolvedValue(true);
  fakes.resetImportForNewSource.mockResolvedValue(undefined);
  const aborted: [string, unknown][] = [];
  const sent: [unknown, string, unknown][] = [];
  const db = { transaction: async <T>(work: (t: Database) => Promise<T>) => work(tx) } as unknown as Database;
  const store = {
    capabilities: { minPartSizeBytes: 5 * MEBIBYTE },
    abortUpload: async (key: string, state: unknown) => {
      aborted.push([key, state]);
    },
  } as unknown as BlobStore;
  const queue = {
    send: async (t: unknown, name: string, payload: unknown) => {
      sent.push([t, name, payload]);
    },
  } as unknown as ImportJobs;
  const service = new VideoImportService({
    db,
    queue,
    client: {} as OutboundClient,
    store,
    minPartSizeBytes: 8 * MEBIBYTE,
    s3: { endpoints: ['https://minio.example'], defaultRegion: 'us-east-1', kek },
    log: pino({ level: 'silent' }),
    now: () => NOW,
  });
  const restart = () =>
    service.restart({ teams: [{ id: TEAM_ID, apiEnabled: true } as TeamRow] }, VIDEO_ID, {
      skipChecksumValidation: false,
    });
  return { service, restart, aborted, sent };
}

const sourceKey = `teams/${TEAM_ID}/videos/${VIDEO_ID}/source`;

describe('restarting a failed import whose source may have changed', () => {
  beforeEach(() => {
    vi.clearAllMocks();
  });

  it('starts over from no parts when the file at the URL has another size: the upload is aborted and the new size planned', async () => {
    const h = harness(failedImport());
    fakes.probeSource.mockResolvedValue(probed({ totalBytes: 100 * MEBIBYTE }));
    await h.restart();

    expect(fakes.probeSource).toHaveBeenCalledWith({}, 'https://origin.example/master.mov');
    expect(h.aborted).toEqual([[sourceKey, { uploadId: 'upload-1' }]]);
    expect(fakes.markImportRestarted).toHaveBeenCalledWith(tx, VIDEO_ID, {
      fetchUrl: 'https://cdn2.origin.example/master.mov',
      pinnedAddresses: ['203.0.113.20'],
      totalBytes: 100 * MEBIBYTE,
      etag: '"v1"',
      lastModified: 'Sun, 01 Mar 2026 10:00:00 GMT',
      skipChecksumValidation: false,
      now: NOW,
    });
    // An HTTPS source states no checksum of its own: the expected one the user gave stays.
    expect(fakes.resetImportForNewSource).toHaveBeenCalledExactlyOnceWith(tx, VIDEO_ID, {
      totalBytes: 100 * MEBIBYTE,
      partSizeBytes: 8 * MEBIBYTE,
    });
    expect(h.sent).toEqual([[tx, 'copy-video', { videoId: VIDEO_ID }]]);
  });

  it('starts over when the strong ETag changed though the size did not', async () => {
    const h = harness(failedImport());
    fakes.probeSource.mockResolvedValue(probed({ etag: '"v2"' }));
    await h.restart();

    expect(h.aborted).toEqual([[sourceKey, { uploadId: 'upload-1' }]]);
    expect(fakes.resetImportForNewSource).toHaveBeenCalledExactlyOnceWith(tx, VIDEO_ID, {
      totalBytes: 40 * MEBIBYTE,
      partSizeBytes: 8 * MEBIBYTE,
    });
    expect(h.sent).toEqual([[tx, 'copy-video', { videoId: VIDEO_ID }]]);
  });

  it('trusts an unchanged strong ETag over a changed Last-Modified, and keeps the recorded parts', async () => {
    const h = harness(failedImport());
    fakes.probeSource.mockResolvedValue(probed({ lastModified: 'Sun, 01 Mar 2026 11:30:00 GMT' }));
    await h.restart();

    expect(h.aborted).toEqual([]);
    expect(fakes.resetImportForNewSource).not.toHaveBeenCalled();
    expect(fakes.markImportRestarted).toHaveBeenCalledWith(tx, VIDEO_ID, {
      fetchUrl: 'https://cdn2.origin.example/master.mov',
      pinnedAddresses: ['203.0.113.20'],
      totalBytes: 40 * MEBIBYTE,
      etag: '"v1"',
      lastModified: 'Sun, 01 Mar 2026 11:30:00 GMT',
      skipChecksumValidation: false,
      now: NOW,
    });
    expect(h.sent).toEqual([[tx, 'copy-video', { videoId: VIDEO_ID }]]);
  });

  it('goes by Last-Modified when both ETags are weak: a new date starts over, the same date continues', async () => {
    const weak = failedImport({ etag: 'W/"v1"' });
    const changed = harness(weak);
    fakes.probeSource.mockResolvedValue(probed({ etag: 'W/"v1"', lastModified: 'Sun, 01 Mar 2026 11:30:00 GMT' }));
    await changed.restart();
    expect(changed.aborted).toEqual([[sourceKey, { uploadId: 'upload-1' }]]);
    expect(fakes.resetImportForNewSource).toHaveBeenCalledTimes(1);

    vi.clearAllMocks();
    const same = harness(weak);
    fakes.probeSource.mockResolvedValue(probed({ etag: 'W/"v2"' }));
    await same.restart();
    expect(same.aborted).toEqual([]);
    expect(fakes.resetImportForNewSource).not.toHaveBeenCalled();
  });

  it('takes the replaced S3 object checksum, or none when S3 keeps none, as the expected one', async () => {
    const s3Import = failedImport({
      sourceKind: 's3',
      sourceUrl: 's3://media/master.mov',
      s3Endpoint: 'https://minio.example',
      s3Region: 'us-east-1',
      s3Bucket: 'media',
      s3ObjectKey: 'master.mov',
      s3Addressing: 'path',
      sourceCredentials: sealS3Credentials({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example' }, kek),
      fetchUrl: 'https://minio.example/media/master.mov',
    });
    const withChecksum = harness(s3Import);
    const replaced: S3SourceInfo = {
      ...probed({ fetchUrl: 'https://minio.example/media/master.mov', etag: '"v2"', totalBytes: 64 * MEBIBYTE }),
      crc32c: 987_654,
    };
    fakes.probeS3Object.mockResolvedValue(replaced);
    await withChecksum.restart();

    expect(fakes.probeSource).not.toHaveBeenCalled();
    expect(fakes.probeS3Object).toHaveBeenCalledWith(
      {},
      {
        endpoint: 'https://minio.example',
        region: 'us-east-1',
        bucket: 'media',
        objectKey: 'master.mov',
        addressing: 'path',
      },
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example' },
    );
    expect(withChecksum.aborted).toEqual([[sourceKey, { uploadId: 'upload-1' }]]);
    expect(fakes.resetImportForNewSource).toHaveBeenCalledExactlyOnceWith(tx, VIDEO_ID, {
      totalBytes: 64 * MEBIBYTE,
      partSizeBytes: 8 * MEBIBYTE,
      expectedCrc32c: 987_654,
    });

    vi.clearAllMocks();
    const withoutChecksum = harness(s3Import);
    fakes.probeS3Object.mockResolvedValue({ ...replaced, crc32c: null });
    await withoutChecksum.restart();
    expect(fakes.resetImportForNewSource).toHaveBeenCalledExactlyOnceWith(tx, VIDEO_ID, {
      totalBytes: 64 * MEBIBYTE,
      partSizeBytes: 8 * MEBIBYTE,
      expectedCrc32c: null,
    });
  });

  it('does not look at the source when every part is recorded, so a changed file cannot reset a complete copy', async () => {
    const h = harness(failedImport({ errorCode: 'CHECKSUM_MISMATCH' }));
    fakes.listRecordedParts.mockResolvedValue(
      [0, 1, 2, 3, 4].map((index) => ({ ...recordedParts[0]!, partIndex: index, offsetBytes: index * 8 * MEBIBYTE })),
    );
    await h.service.restart({ teams: [{ id: TEAM_ID, apiEnabled: true } as TeamRow] }, VIDEO_ID, {
      skipChecksumValidation: true,
    });

    expect(fakes.probeSource).not.toHaveBeenCalled();
    expect(h.aborted).toEqual([]);
    expect(fakes.resetImportForNewSource).not.toHaveBeenCalled();
    expect(fakes.markImportRestarted).toHaveBeenCalledWith(tx, VIDEO_ID, {
      fetchUrl: 'https://cdn.origin.example/master.mov',
      pinnedAddresses: ['203.0.113.10'],
      etag: '"v1"',
      lastModified: 'Sun, 01 Mar 2026 10:00:00 GMT',
      skipChecksumValidation: true,
      now: NOW,
    });
  });
});
