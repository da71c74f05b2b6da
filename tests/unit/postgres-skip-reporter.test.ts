import { describe, expect, it } from 'vitest';
import { postgresSkipNotice } from '../support/postgres-skip-reporter.js';

const scale = { name: 'e2e/scale.test.ts', source: "describe.skipIf(!process.env.TEST_DATABASE_URL)('many processes'" };
const queries = {
  name: 'integration/queries.test.ts',
  source: "describe.each(backends)('queries'); it.runIf(backend === 'postgres')('one admin'",
};
const pgliteOnly = { name: 'integration/event-bell.test.ts', source: "describe.each(backends)('the bell'" };
const unit = { name: 'unit/part-plan.test.ts', source: "describe('planParts'" };

describe('postgresSkipNotice', () => {
  it('names the files whose PostgreSQL cases were skipped and counts those run on PGlite only', () => {
    expect(postgresSkipNotice([scale, queries, pgliteOnly, unit], undefined)).toBe(
      'PostgreSQL NOT TESTED: TEST_DATABASE_URL is unset, so this run skipped the PostgreSQL-only suites and cases of 2 files (e2e/scale.test.ts, integration/queries.test.ts) and ran the database tests of 2 files on PGlite only. Set TEST_DATABASE_URL=postgres://user@host:5432/database to run them.',
    );
  });

  it('says only what applies', () => {
    expect(postgresSkipNotice([pgliteOnly], '')).toBe(
      'PostgreSQL NOT TESTED: TEST_DATABASE_URL is unset, so this run ran the database tests of 1 file on PGlite only. Set TEST_DATABASE_URL=postgres://user@host:5432/database to run them.',
    );
  });

  it('stays silent when PostgreSQL is configured or no file run touches a database', () => {
    expect(postgresSkipNotice([scale, queries], 'postgres://postgres@127.0.0.1:5432/test')).toBeNull();
    expect(postgresSkipNotice([unit], undefined)).toBeNull();
    expect(postgresSkipNotice([{ ...scale, name: 'unit/scale-notice.test.ts' }], undefined)).toBeNull();
  });
});
