// `npm start` runs this first: it compiles TypeScript only when a source file or a build setting is
// newer than the last build, and builds the web application (Vite) only when web/ or a setting it
// depends on is newer than dist/web, so a start after an unchanged checkout builds nothing. A plain
// mtime comparison, hand-written because `tsc --incremental` still spends several seconds proving
// that nothing changed.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const buildInfo = 'dist/.tsbuildinfo';
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const webBuilt = 'dist/web/index.html';
const webInputs = ['web', 'package-lock.json'];

function newestMtimeMs(entry) {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, child)));
  return newest;
}

function builtAtMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (Math.max(...inputs.map(newestMtimeMs)) > builtAtMs(buildInfo)) {
  process.stdout.write('reelin: compiling TypeScript (the sources changed since the last build)\n');
  run('npx', ['tsc', '-p', 'tsconfig.build.json']);
  // An incremental build that found nothing to emit leaves the file as it was: mark the check done.
  const now = new Date();
  utimesSync(buildInfo, now, now);
}

if (Math.max(...webInputs.map(newestMtimeMs)) > builtAtMs(webBuilt)) {
  process.stdout.write('reelin: building the web application (web/ changed since the last build)\n');
  run('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
}
