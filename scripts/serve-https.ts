/**
 * A local HTTPS origin with byte ranges, for trying imports on your own machine
 * (`npm run serve:https -- ./master.mov [more files] [--port 8443]`). It serves each file at
 * `https://127.0.0.1:<port>/<file name>` with a certificate from a throwaway CA, prints each file's
 * URL, size and CRC32C (the value `?crc32c=` expects), and the settings that let a development
 * service import from it. Stop it with Ctrl-C; the CA is removed then.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { crc32c } from '@node-rs/crc32';
import { startOriginServer } from '../tests/support/origin-server.js';
import { createTestPki } from '../tests/support/test-pki.js';

async function fileCrc32c(filePath: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1024 * 1024 }))
    crc = crc32c(chunk as Buffer, crc);
  return crc;
}

const { values, positionals } = parseArgs({
  options: { port: { type: 'string', default: '8443' } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error('usage: npm run serve:https -- <file> [<file> ...] [--port 8443]');
  process.exit(2);
}
const port = Number(values.port);
const pki = await createTestPki();
const origin = await startOriginServer({ pki, host: '127.0.0.1', port });
console.log('Serving over HTTPS, with byte ranges:');
for (const file of positionals) {
  const { size } = await stat(file);
  const name = path.basename(file);
  origin.setFile(`/${encodeURIComponent(name)}`, { path: path.resolve(file), size });
  console.log(
    `  ${origin.url(`/${encodeURIComponent(name)}`, '127.0.0.1')}  ${size} bytes, CRC32C ${await fileCrc32c(file)}`,
  );
}
console.log(`
Start Reelin so that it may import from here (development only: these loosen its outbound policy):

  REELIN_ALLOW_PRIVATE_NETWORKS=127.0.0.1/32 REELIN_ALLOWED_PORTS=${port} NODE_EXTRA_CA_CERTS=${pki.caCertPath} npm start
`);

const stop = (): void => {
  void origin
    .close()
    .then(() => pki.cleanup())
    .then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
