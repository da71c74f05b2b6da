/**
 * The CRC32C the AWS SDK computes for a part's checksum trailer, on @node-rs/crc32's native code.
 * The SDK's own CRC32C is a byte-at-a-time JavaScript loop: on a copy it cost more CPU than the
 * rest of the transfer together. The SDK takes replacements through its `checksumAlgorithms`
 * option; this is one, in the shape of its Checksum interface.
 */
import { crc32c } from '@node-rs/crc32';
import type { Checksum, SourceData } from '@smithy/types';

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export class NativeCrc32c implements Checksum {
  private state = 0;

  update(data: SourceData): void {
    this.state = crc32c(toBuffer(data), this.state);
  }

  digest(): Promise<Uint8Array> {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.state >>> 0);
    return Promise.resolve(out);
  }

  reset(): void {
    this.state = 0;
  }
}
