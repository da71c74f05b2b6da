import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    restoreMocks: true,
    unstubEnvs: true,
    // The second says loudly when PostgreSQL was not tested (TEST_DATABASE_URL unset).
    reporters: ['default', './tests/support/postgres-skip-reporter.ts'],
  },
});
