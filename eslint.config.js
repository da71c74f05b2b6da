// Lint rules that hold the architecture in place (see STYLE.md "Seams and wiring"):
// only config/ reads the environment, only net/ talks to the outside world, only the media
// runner spawns processes, domain/ stays free of I/O, and api/ reaches the database only
// through services/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const outboundModules = [
  'undici',
  'node:http',
  'node:https',
  'node:net',
  'node:tls',
  'node:dns',
  'node:dgram',
  'http',
  'https',
  'net',
  'tls',
  'dns',
  'dgram',
  'node:http2',
  'http2',
];
const ioModules = [
  ...outboundModules,
  'node:fs',
  'node:fs/promises',
  'fs',
  'fs/promises',
  'node:child_process',
  'child_process',
  'pg',
  'pg-boss',
  '@electric-sql/pglite',
  'drizzle-orm',
  'fastify',
  'pino',
];

const dbModules = ['**/db', '**/db/**'];
const apiImportsNoDbMessage =
  'Routes reach the database only through a service (src/services); take its view types too.';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.node/**',
      'data/**',
      'coverage/**',
      'drizzle/**',
      'web/src/api/schema.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Only src/config reads the environment; take a config value instead.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/net/**', 'src/domain/**', 'src/media/process-runner.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...outboundModules.map((name) => ({
              name,
              message: 'Outbound connections go only through src/net (the SSRF-safe way out).',
            })),
            { name: 'node:child_process', message: 'Only the media process runner spawns processes.' },
            { name: 'child_process', message: 'Only the media process runner spawns processes.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Use the safe fetch in src/net.' },
        { name: 'WebSocket', message: 'Outbound connections go only through src/net.' },
      ],
    },
  },
  {
    // The copy reaches the database only through its ports (copy-run.ts, host-leases.ts, checkpointer.ts).
    files: ['src/copy/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: dbModules, message: 'src/copy talks to the database through its ports.' }] },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({ name, message: 'domain/ holds pure rules and imports nothing with I/O.' })),
        },
      ],
      'no-restricted-globals': ['error', 'fetch', 'setTimeout', 'setInterval'],
    },
  },
  {
    // Routes validate, resolve the caller's team, call a service and present: the database is the
    // services' business, so src/api imports nothing from src/db, not even its row types.
    files: ['src/api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: dbModules, message: apiImportsNoDbMessage }] },
      ],
    },
  },
  {
    // The web application reaches the service only through its typed client (web/src/api/client.ts).
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    ignores: ['web/src/api/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'openapi-fetch', message: 'Call the service through web/src/api (client.ts, queries.ts).' }],
        },
      ],
    },
  },
  {
    files: ['src/main.ts', 'scripts/**/*.ts', 'tests/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests read JSON responses whose shape the assertions check.
    files: ['tests/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
