/**
 * A Vitest reporter that says, after the summary, what a run without TEST_DATABASE_URL left out:
 * the suites that need a PostgreSQL server (several processes sharing one database) are skipped and
 * every database test runs on PGlite only (see test-database.ts), which a green run hides.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { styleText } from 'node:util';
import type { Reporter, TestModule } from 'vitest/node';

/** Marks of a test file with cases that run only on PostgreSQL. */
const postgresOnly = /process\.env\.TEST_DATABASE_URL|createPostgresTestDatabase|backend === 'postgres'/;

/** The sentence to print, or null when PostgreSQL was tested or no file run needed it. */
export function postgresSkipNotice(
  files: readonly { name: string; source: string }[],
  databaseUrl: string | undefined,
): string | null {
  if (databaseUrl) return null;
  // Unit tests use no database (and this reporter's own test spells out the marks).
  const databaseFiles = files.filter((file) => /^(e2e|integration)\//.test(file.name));
  const skipped = databaseFiles.filter((file) => postgresOnly.test(file.source)).map((file) => file.name);
  const pgliteOnly = databaseFiles.filter((file) => /\bbackends\b/.test(file.source)).length;
  if (skipped.length === 0 && pgliteOnly === 0) return null;
  const parts = [
    skipped.length > 0
      ? `skipped the PostgreSQL-only suites and cases of ${skipped.length} file${skipped.length === 1 ? '' : 's'} (${skipped.join(', ')})`
      : null,
    pgliteOnly > 0 ? `ran the database tests of ${pgliteOnly} file${pgliteOnly === 1 ? '' : 's'} on PGlite only` : null,
  ].filter((part) => part !== null);
  return `PostgreSQL NOT TESTED: TEST_DATABASE_URL is unset, so this run ${parts.join(' and ')}. Set TEST_DATABASE_URL=postgres://user@host:5432/database to run them.`;
}

export default class PostgresSkipReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const files = testModules.map((module) => ({
      name: path.relative(path.join(process.cwd(), 'tests'), module.moduleId).split(path.sep).join('/'),
      source: readFileSync(module.moduleId, 'utf8'),
    }));
    const notice = postgresSkipNotice(files, process.env.TEST_DATABASE_URL);
    if (notice !== null) process.stdout.write(`\n${styleText(['bold', 'yellow'], `!! ${notice}`)}\n\n`);
  }
}
