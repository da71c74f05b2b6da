// `npm start` runs this first: it compiles TypeScript only when a source file or a build setting is
// newer than the last build, so a start after an unchanged checkout takes no compile at all. A plain
// mtime comparison, hand-written because `tsc --incremental` still spends several seconds proving
// that nothing changed.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const buildInfo = 'dist/.tsbuildinfo';
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtimeMs(entry) {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, child)));
  return newest;
}

function builtAtMs() {
  try {
    return statSync(buildInfo).mtimeMs;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

if (Math.max(...inputs.map(newestMtimeMs)) > builtAtMs()) {
  process.stdout.write('reelin: compiling TypeScript (the sources changed since the last build)\n');
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  // An incremental build that found nothing to emit leaves the file as it was: mark the check done.
  const now = new Date();
  utimesSync(buildInfo, now, now);
}
