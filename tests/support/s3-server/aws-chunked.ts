/**
 * Decoder for `Content-Encoding: aws-chunked` bodies, which the AWS SDK v3 sends for stream bodies:
 * `hex-size[;chunk-signature=...]\r\n data \r\n` repeated, a final `0[;...]\r\n`, then trailer lines
 * (`x-amz-checksum-crc32c:BASE64\r\n`, `x-amz-trailer-signature:...\r\n`) and an empty line.
 *
 * Data is passed on as slices of the incoming buffers (no copies), so large parts stream at disk
 * speed. Chunk signatures are read past, not verified (see sigv4.ts).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.js';

const maxLineBytes = 4096;

function malformed(message: string): S3Error {
  return new S3Error(400, 'InvalidChunkSizeError', `The aws-chunked body is malformed: ${message}`);
}

export class AwsChunkedDecoder extends Transform {
  /** Trailer fields by lower-case name; complete once the stream has ended. */
  readonly trailers = new Map<string, string>();
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private line = '';
  private remaining = 0;
  private pendingCrLf = 2;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(
      this.state === 'done'
        ? null
        : new S3Error(400, 'IncompleteBody', 'The aws-chunked body ended before its final chunk and trailers.'),
    );
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.push(chunk.subarray(offset, offset + take));
        offset += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = 'data-end';
          this.pendingCrLf = 2;
        }
      } else if (this.state === 'data-end') {
        const expected = this.pendingCrLf === 2 ? 0x0d : 0x0a;
        if (chunk[offset] !== expected) throw malformed('a chunk is not followed by CRLF');
        offset += 1;
        this.pendingCrLf -= 1;
        if (this.pendingCrLf === 0) this.state = 'size';
      } else if (this.state === 'done') {
        throw malformed('bytes follow the final empty line');
      } else {
        offset = this.readLine(chunk, offset);
      }
    }
  }

  /** Accumulates one CRLF-terminated line and acts on it; returns the new offset. */
  private readLine(chunk: Buffer, offset: number): number {
    const newline = chunk.indexOf(0x0a, offset);
    const end = newline === -1 ? chunk.length : newline + 1;
    this.line += chunk.toString('latin1', offset, end);
    if (this.line.length > maxLineBytes) throw malformed('a size or trailer line is too long');
    if (newline === -1) return end;
    if (!this.line.endsWith('\r\n')) throw malformed('a line does not end with CRLF');
    const line = this.line.slice(0, -2);
    this.line = '';
    if (this.state === 'size') this.onSizeLine(line);
    else this.onTrailerLine(line);
    return end;
  }

  private onSizeLine(line: string): void {
    const sizeText = line.split(';', 1)[0]!;
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) throw malformed(`bad chunk size "${sizeText}"`);
    this.remaining = Number.parseInt(sizeText, 16);
    this.state = this.remaining === 0 ? 'trailer' : 'data';
  }

  private onTrailerLine(line: string): void {
    if (line === '') {
      this.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`bad trailer line "${line}"`);
    this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
}
