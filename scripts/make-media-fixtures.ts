/**
 * Writes every named media fixture to a folder, from the same recipes the tests use
 * (tests/support/media-fixtures.ts). Usage: npx tsx scripts/make-media-fixtures.ts <outDir>
 */
import path from 'node:path';
import { writeMediaFixtures } from '../tests/support/media-fixtures.js';

const outDir = process.argv[2];
if (outDir === undefined || outDir === '') {
  console.error('usage: npx tsx scripts/make-media-fixtures.ts <outDir>');
  process.exit(2);
}
const started = Date.now();
const files = await writeMediaFixtures(path.resolve(outDir));
for (const file of files) console.log(file);
console.log(`${files.length} fixtures in ${((Date.now() - started) / 1000).toFixed(1)} s`);
