/**
 * Multipart uploads: Create, UploadPart, ListParts, Complete, Abort and ListMultipartUploads.
 *
 * Parts of one upload arrive in parallel; each streams to its own file and is recorded in one
 * synchronous step once checked, so a part replaced, aborted or completed meanwhile never mixes
 * bytes. Completion validates the part list and checksums synchronously too, so two concurrent
 * Completes cannot both succeed: the second finds no upload (NoSuchUpload).
 */
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  checksumElement,
  checksumHeader,
  combineCrc,
  compositeChecksum,
  crcToBase64,
  parseChecksumAlgorithm,
  type ChecksumType,
} from './checksums.js';
import {
  header,
  receiveToFile,
  requireBucket,
  sendEmpty,
  sendXml,
  storedHeaders,
  wholeSecond,
  type RequestContext,
} from './context.js';
import { s3Errors, S3Error } from './errors.js';
import { receiveBody, MemorySink } from './body.js';
import { DataFiles, type MultipartUpload, type StoredPart } from './state.js';
import { readFlatList, type XmlElements } from './xml.js';

const maxPartNumber = 10_000;
const owner = { ID: 'reelin-test-owner', DisplayName: 'reelin-test' };

export function createMultipartUpload(context: RequestContext): void {
  requireBucket(context);
  const algorithmText = header(context, 'x-amz-checksum-algorithm');
  const algorithm = algorithmText === undefined ? undefined : parseChecksumAlgorithm(algorithmText);
  if (algorithm === null) throw s3Errors.invalidRequest(`Checksum algorithm provided is unsupported: ${algorithmText}`);
  const typeText = header(context, 'x-amz-checksum-type')?.toUpperCase();
  if (typeText !== undefined && typeText !== 'FULL_OBJECT' && typeText !== 'COMPOSITE') {
    throw s3Errors.invalidRequest(`Value for x-amz-checksum-type header is invalid: ${typeText}`);
  }
  if (typeText !== undefined && algorithm === undefined)
    throw s3Errors.invalidRequest(
      'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
    );
  const type: ChecksumType = (typeText as ChecksumType | undefined) ?? 'COMPOSITE';
  if (type === 'FULL_OBJECT' && algorithm !== 'CRC32' && algorithm !== 'CRC32C') {
    throw s3Errors.invalidRequest(
      `The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`,
    );
  }
  const uploadId = randomBytes(24).toString('base64url');
  const upload: MultipartUpload = {
    bucket: context.bucketName,
    key: context.key,
    uploadId,
    initiated: new Date(context.now()),
    headers: storedHeaders(context),
    parts: new Map(),
    ...(algorithm ? { checksum: { algorithm, type } } : {}),
  };
  context.state.uploads.set(uploadId, upload);
  const headers = algorithm ? { 'x-amz-checksum-algorithm': algorithm, 'x-amz-checksum-type': type } : {};
  sendXml(
    context,
    'InitiateMultipartUploadResult',
    { Bucket: context.bucketName, Key: context.key, UploadId: uploadId },
    headers,
  );
}

function requireUpload(context: RequestContext): MultipartUpload {
  requireBucket(context);
  const uploadId = context.query.get('uploadId') ?? '';
  const upload = context.state.uploads.get(uploadId);
  if (!upload || upload.bucket !== context.bucketName || upload.key !== context.key)
    throw s3Errors.noSuchUpload(uploadId);
  return upload;
}

export async function uploadPart(context: RequestContext): Promise<void> {
  const partNumberText = context.query.get('partNumber') ?? '';
  const partNumber = Number(partNumberText);
  if (!/^\d+$/.test(partNumberText) || partNumber < 1 || partNumber > maxPartNumber) {
    throw s3Errors.invalidArgument(
      `Part number must be an integer between 1 and ${maxPartNumber}, inclusive`,
      'partNumber',
      partNumberText,
    );
  }
  if (header(context, 'x-amz-copy-source') !== undefined)
    throw s3Errors.notImplemented('x-amz-copy-source (UploadPartCopy)');
  const before = requireUpload(context);
  const { path, body } = await receiveToFile(context);
  const upload = context.state.uploads.get(before.uploadId);
  const discard = () => void rm(path, { force: true }).catch(() => undefined);
  if (!upload) {
    discard();
    throw s3Errors.noSuchUpload(before.uploadId);
  }
  const expected = upload.checksum?.algorithm;
  if (expected && body.clientChecksum && body.clientChecksum.algorithm !== expected) {
    discard();
    throw s3Errors.invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${expected.toLowerCase()}, actual checksum Type: ${body.clientChecksum.algorithm.toLowerCase()}`,
    );
  }
  const checksums = { ...body.digests.base64 };
  const part: StoredPart = {
    partNumber,
    path,
    lengthBytes: body.digests.lengthBytes,
    etag: `"${body.digests.md5.toString('hex')}"`,
    md5: body.digests.md5,
    crc32: body.digests.crc32,
    crc32c: body.digests.crc32c,
    checksums,
    lastModified: wholeSecond(context.now()),
  };
  const replaced = upload.parts.get(partNumber);
  upload.parts.set(partNumber, part);
  if (replaced) void rm(replaced.path, { force: true }).catch(() => undefined);
  const headers: Record<string, string> = { etag: part.etag };
  const echoed = expected ?? body.clientChecksum?.algorithm;
  if (echoed && checksums[echoed]) headers[checksumHeader(echoed)] = checksums[echoed];
  sendEmpty(context, 200, headers);
}

function partElements(upload: MultipartUpload, part: StoredPart): XmlElements {
  const elements: XmlElements = {
    PartNumber: part.partNumber,
    LastModified: part.lastModified,
    ETag: part.etag,
    Size: part.lengthBytes,
  };
  const algorithm = upload.checksum?.algorithm;
  if (algorithm && part.checksums[algorithm]) elements[checksumElement(algorithm)] = part.checksums[algorithm];
  return elements;
}

export function listParts(context: RequestContext): void {
  const upload = requireUpload(context);
  const marker = Number(context.query.get('part-number-marker') ?? '0') || 0;
  const maxParts = Math.min(1000, Number(context.query.get('max-parts') ?? '1000') || 1000);
  const all = [...upload.parts.values()]
    .filter((part) => part.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = all.slice(0, maxParts);
  const isTruncated = all.length > page.length;
  sendXml(context, 'ListPartsResult', {
    Bucket: upload.bucket,
    Key: upload.key,
    UploadId: upload.uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: isTruncated,
    Part: page.map((part) => partElements(upload, part)),
    Initiator: owner,
    Owner: owner,
    StorageClass: 'STANDARD',
    ChecksumAlgorithm: upload.checksum?.algorithm,
    ChecksumType: upload.checksum?.type,
  });
}

interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums: Record<string, string>;
}

async function readCompleteRequest(context: RequestContext): Promise<RequestedPart[]> {
  const sink = new MemorySink(1024 * 1024);
  await receiveBody(context.request, context.payloadHash, sink, true);
  const parsed = readFlatList(sink.text(), 'CompleteMultipartUpload', 'Part');
  if (!parsed || parsed.items.length === 0) throw s3Errors.malformedXml();
  return parsed.items.map((item) => {
    const partNumber = Number(item.PartNumber);
    if (!Number.isInteger(partNumber) || item.ETag === undefined) throw s3Errors.malformedXml();
    return { partNumber, etag: item.ETag, checksums: item };
  });
}

function normaliseEtag(etag: string): string {
  return etag.trim().replace(/^"|"$/g, '');
}

export async function completeMultipartUpload(context: RequestContext): Promise<void> {
  requireUpload(context);
  const requested = await readCompleteRequest(context);
  // From here on everything is synchronous: validation and commit happen as one step.
  const upload = requireUpload(context);
  const bucket = requireBucket(context);
  const parts = requested.map((entry, index) => {
    if (index > 0 && entry.partNumber <= requested[index - 1]!.partNumber) {
      throw new S3Error(
        400,
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      );
    }
    const part = upload.parts.get(entry.partNumber);
    const invalidPart = (why: string) =>
      new S3Error(
        400,
        'InvalidPart',
        `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag. (${why})`,
        { UploadId: upload.uploadId, PartNumber: String(entry.partNumber), ETag: entry.etag },
      );
    if (!part) throw invalidPart('part not uploaded');
    if (normaliseEtag(entry.etag) !== normaliseEtag(part.etag)) throw invalidPart('ETag differs');
    const algorithm = upload.checksum?.algorithm;
    const claimed = algorithm ? entry.checksums[checksumElement(algorithm)] : undefined;
    if (algorithm && claimed !== undefined && claimed !== part.checksums[algorithm])
      throw invalidPart(`${algorithm} differs`);
    return part;
  });
  parts.slice(0, -1).forEach((part) => {
    if (part.lengthBytes < context.minPartSizeBytes) {
      throw new S3Error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        {
          ProposedSize: String(part.lengthBytes),
          MinSizeAllowed: String(context.minPartSizeBytes),
          PartNumber: String(part.partNumber),
          ETag: part.etag,
        },
      );
    }
  });
  const lengthBytes = parts.reduce((sum, part) => sum + part.lengthBytes, 0);
  const declaredSize = header(context, 'x-amz-mp-object-size');
  if (declaredSize !== undefined && Number(declaredSize) !== lengthBytes) {
    throw s3Errors.invalidRequest(
      `The provided x-amz-mp-object-size ${declaredSize} does not match the object's size ${lengthBytes}.`,
    );
  }
  const checksum = wholeChecksum(upload, parts);
  if (checksum) {
    const claimed = header(context, checksumHeader(checksum.algorithm));
    if (claimed !== undefined && claimed !== checksum.base64) {
      throw s3Errors.badDigest(
        `The ${checksum.algorithm} you specified for the full object is invalid (calculated ${checksum.base64}).`,
      );
    }
  }
  const etag = `"${createHash('md5')
    .update(Buffer.concat(parts.map((part) => part.md5)))
    .digest('hex')}-${parts.length}"`;
  context.state.putObject(bucket, {
    key: upload.key,
    lengthBytes,
    etag,
    lastModified: wholeSecond(context.now()),
    headers: upload.headers,
    files: new DataFiles(parts.map((part) => ({ path: part.path, lengthBytes: part.lengthBytes }))),
    partCount: parts.length,
    ...(checksum ? { checksum } : {}),
  });
  context.state.endUpload(upload, new Set(parts.map((part) => part.partNumber)));
  const headers: Record<string, string> = {};
  if (checksum) headers['x-amz-checksum-type'] = checksum.type;
  sendXml(
    context,
    'CompleteMultipartUploadResult',
    {
      Location: `/${encodeURIComponent(upload.bucket)}/${upload.key.split('/').map(encodeURIComponent).join('/')}`,
      Bucket: upload.bucket,
      Key: upload.key,
      ETag: etag,
      ...(checksum ? { [checksumElement(checksum.algorithm)]: checksum.base64, ChecksumType: checksum.type } : {}),
    },
    headers,
  );
}

/** The object's checksum from its parts: combined CRC (FULL_OBJECT) or checksum of checksums (COMPOSITE). */
function wholeChecksum(upload: MultipartUpload, parts: readonly StoredPart[]) {
  const spec = upload.checksum;
  if (!spec) return undefined;
  if (spec.type === 'FULL_OBJECT') {
    const algorithm = spec.algorithm as 'CRC32' | 'CRC32C';
    const crc = parts.reduce(
      (whole, part) => combineCrc(algorithm, whole, algorithm === 'CRC32' ? part.crc32 : part.crc32c, part.lengthBytes),
      0,
    );
    return { algorithm: spec.algorithm, base64: crcToBase64(crc), type: spec.type };
  }
  return {
    algorithm: spec.algorithm,
    base64: compositeChecksum(
      spec.algorithm,
      parts.map((part) => part.checksums[spec.algorithm] ?? ''),
    ),
    type: spec.type,
  };
}

export function abortMultipartUpload(context: RequestContext): void {
  const upload = requireUpload(context);
  context.state.endUpload(upload);
  sendEmpty(context, 204);
}

export function listMultipartUploads(context: RequestContext): void {
  requireBucket(context);
  const prefix = context.query.get('prefix') ?? '';
  const keyMarker = context.query.get('key-marker') ?? '';
  const maxUploads = Math.min(1000, Number(context.query.get('max-uploads') ?? '1000') || 1000);
  const all = [...context.state.uploads.values()]
    .filter((upload) => upload.bucket === context.bucketName && upload.key.startsWith(prefix) && upload.key > keyMarker)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()));
  const page = all.slice(0, maxUploads);
  const isTruncated = all.length > page.length;
  sendXml(context, 'ListMultipartUploadsResult', {
    Bucket: context.bucketName,
    KeyMarker: keyMarker,
    UploadIdMarker: context.query.get('upload-id-marker') ?? '',
    NextKeyMarker: isTruncated ? page.at(-1)?.key : undefined,
    NextUploadIdMarker: isTruncated ? page.at(-1)?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: maxUploads,
    IsTruncated: isTruncated,
    Upload: page.map((upload) => ({
      Key: upload.key,
      UploadId: upload.uploadId,
      Initiator: owner,
      Owner: owner,
      StorageClass: 'STANDARD',
      Initiated: upload.initiated,
      ChecksumAlgorithm: upload.checksum?.algorithm,
      ChecksumType: upload.checksum?.type,
    })),
  });
}
