/**
 * The data folder holds the embedded database, stored files and the key-encryption key: only the
 * service's own user may read or change it. The process entry sets umask 077, so what the service
 * creates is 0700 (folders) and 0600 (files); this module tightens what was created otherwise:
 * folders of an earlier version, and the files PGlite unpacks from its initial database, which it
 * makes world-writable (0666) whatever the umask. Symbolic links inside the folder are left alone
 * (their modes mean nothing, and following them could change files elsewhere).
 *
 * Looking at every stored file at every start would cost seconds per ten thousand files, so the
 * walk goes into a folder only when that folder was group- or world-accessible (then everything in
 * it is tightened: an earlier version's folder), or when it is one the caller names (the embedded
 * database). A folder that is already 0700 keeps others out of whatever it holds; the entries
 * directly in the data folder are always looked at.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export const DATA_DIR_MODE = 0o700;
export const DATA_FILE_MODE = 0o600;

/** The process's file creation mask: nothing it creates is readable by group or others. */
export const PROCESS_UMASK = 0o077;

export interface TighteningReport {
  /** Entries whose mode was changed. */
  tightened: number;
  /** Up to 10 of them, relative to the data folder ('.' for the folder itself), for the log. */
  examples: string[];
  /** Entries whose mode could not be changed (owned by another user), with the error code. */
  failures: { path: string; code: string }[];
}

/**
 * Removes group and other permissions under `dataDir` (folders 0700, files 0600): its own entries,
 * everything in a folder that was not 0700, and everything in the folders `alwaysWalk` names
 * (relative to `dataDir`). Does nothing when the folder does not exist.
 */
export async function tightenDataDir(
  dataDir: string,
  options: { alwaysWalk?: readonly string[] } = {},
): Promise<TighteningReport> {
  const report: TighteningReport = { tightened: 0, examples: [], failures: [] };
  let root;
  try {
    root = await fs.stat(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw error;
  }
  if (!root.isDirectory()) throw new Error(`the data folder ${dataDir} is not a folder`);
  const wasLoose = await tighten(dataDir, '.', root.mode, DATA_DIR_MODE, report);
  await walk(
    dataDir,
    '',
    { everything: wasLoose, alwaysWalk: (options.alwaysWalk ?? []).map((entry) => path.normalize(entry)) },
    report,
  );
  return report;
}

async function walk(
  dataDir: string,
  relative: string,
  scope: { everything: boolean; alwaysWalk: readonly string[] },
  report: TighteningReport,
): Promise<void> {
  const folder = path.join(dataDir, relative);
  for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
    const entryPath = path.join(relative, entry.name);
    if (entry.isSymbolicLink()) continue;
    let stat;
    try {
      stat = await fs.lstat(path.join(dataDir, entryPath));
    } catch (error) {
      // Removed while we looked (a database temporary file): nothing to tighten.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (stat.isDirectory()) {
      const wasLoose = await tighten(dataDir, entryPath, stat.mode, DATA_DIR_MODE, report);
      if (scope.everything || wasLoose || scope.alwaysWalk.includes(entryPath))
        await walk(dataDir, entryPath, { ...scope, everything: true }, report);
    } else if (stat.isFile()) {
      await tighten(dataDir, entryPath, stat.mode, DATA_FILE_MODE, report);
    }
  }
}

/** Tightens one entry when group or others have any permission on it; returns whether they had. */
async function tighten(
  dataDir: string,
  relative: string,
  mode: number,
  wanted: number,
  report: TighteningReport,
): Promise<boolean> {
  if ((mode & 0o077) === 0) return false;
  try {
    await fs.chmod(path.join(dataDir, relative), wanted);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    if (code !== 'ENOENT') report.failures.push({ path: relative, code });
    return true;
  }
  report.tightened += 1;
  if (report.examples.length < 10) report.examples.push(relative);
  return true;
}
