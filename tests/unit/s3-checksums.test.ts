import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { NativeCrc32c } from '../../src/storage/s3-checksums.js';

async function digestOf(
  checksum: { update(data: Uint8Array | string): void; digest(): Promise<Uint8Array> },
  chunks: Array<Uint8Array | string>,
): Promise<string> {
  for (const chunk of chunks) checksum.update(chunk);
  return Buffer.from(await checksum.digest()).toString('hex');
}

describe('the native CRC32C the S3 client uses for part trailers', () => {
  it('gives the digest of the standard check value: "123456789" is e3069283', async () => {
    expect(await digestOf(new NativeCrc32c(), ['123456789'])).toBe('e3069283');
  });

  it("gives the whole input's CRC32C over chunked input, including views into larger buffers", async () => {
    const whole = Buffer.alloc(300_001);
    for (let i = 0; i < whole.length; i += 1) whole[i] = (i * 7919) & 0xff;
    const backing = new Uint8Array(whole.length + 10);
    backing.set(whole, 5);
    const view = backing.subarray(5, 5 + whole.length);
    const chunks = [view.subarray(0, 1), view.subarray(1, 65_537), view.subarray(65_537)];
    expect(await digestOf(new NativeCrc32c(), chunks)).toBe((crc32c(whole) >>> 0).toString(16).padStart(8, '0'));
  });

  it('starts over after reset', async () => {
    const checksum = new NativeCrc32c();
    checksum.update('something else');
    checksum.reset();
    expect(await digestOf(checksum, ['123456789'])).toBe('e3069283');
  });
});
