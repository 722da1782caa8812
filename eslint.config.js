// Lint rules: the recommended JavaScript and typescript-eslint sets, plus the
// few project rules from docs/style.md (no console in src/, no floating promises
// silently dropped). Type-aware rules use the same tsconfig as `tsc -p .`.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'web/dist/', 'coverage/', 'src/db/migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks a deliberately unused binding (destructuring to drop a field, unused handler args).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Tests and loose third-party edges use `any` on purpose; the compiler's strict mode guards the rest.
      '@typescript-eslint/no-explicit-any': 'off',
      // node:test's describe()/test() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'suite', 'test', 'it'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-console': 'error',
      // Input sanitising matches control characters on purpose.
      'no-control-regex': 'off',
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
    },
  },
  // --- Layers. Data flows one way: the adapters (http/, rooms/, media/, jobs/)
  // call domain/, and domain/ calls db/. What each side may import:
  {
    // domain/: the business rules, free of HTTP, Colyseus, Redis and the config.
    // From db/ it may use the schema (tables and their value lists), the SQL
    // runner (prepared statements, bigint parsing) and the database handle
    // *types* (Db, Executor, Tx, Database); opening a database, the data-dir
    // lock and migrations are the composition root's. Services get their
    // settings from src/settings.ts and events through the EventBus interface
    // (domain/events.ts), never the Redis bus in src/events/.
    files: ['src/domain/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/http/**', '**/rooms/**', '**/media/**', '**/media-control/**', '**/jobs/**', '**/events/**'],
              message: 'domain/ is called by the adapters and never imports one.',
            },
            { group: ['**/config.ts', '**/settings.ts', '**/server.ts', '**/redis.ts'], message: 'a domain service receives its settings and collaborators; it never reads the config or the process wiring.' },
            { group: ['**/db/*', '!**/db/schema.ts', '!**/db/sql-runner.ts', '!**/db/connect.ts'], message: 'domain/ may use db/schema.ts, db/sql-runner.ts and the handle types of db/connect.ts only.' },
            { group: ['**/db/connect.ts'], allowTypeImports: true, message: 'domain/ may import only the database handle types from db/connect.ts (import type), never open a database.' },
            { group: ['express', 'express/**', 'ioredis', '@colyseus/*', 'bullmq', 'passport', 'passport-*', 'multer', 'pino-http'], message: 'HTTP, Redis, Colyseus and job libraries belong to the adapters.' },
          ],
        },
      ],
    },
  },
  {
    // http/routes/: one module per resource, each calling domain services only. A piece two
    // routes share lives in http/ (e.g. http/idempotency.ts); settings come as arguments.
    files: ['src/http/routes/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['./*', '../routes/*'], message: 'a route module does not import another one: move the shared piece to http/.' },
            { group: ['**/db/**'], message: 'routes call domain services, never db/.' },
            { group: ['**/config.ts', '**/settings.ts'], message: 'a route module receives the settings it uses (http/route-settings.ts).' },
          ],
        },
      ],
    },
  },
  {
    // src/media/ is the media child process (media-process.ts), isolated so malformed input or a
    // crash stays there: it imports nothing of the API process, whose media side is src/media-control/.
    files: ['src/media/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../http/**', '../rooms/**', '../jobs/**', '../domain/**', '../db/**', '../media-control/**', '../server.ts', '../main.ts'],
              message: 'The media child process imports nothing of the API process; talk to the supervisor over IPC (src/media/ipc.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    // Scripts and benchmarks print their results; the browser SDK may warn its user.
    files: ['scripts/**', 'loadtest/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The browser UI: browser globals, and user text never becomes markup (docs/web-app.md).
    files: ['web/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Set textContent or build nodes with h() (web/src/dom.ts).' },
        { property: 'outerHTML', message: 'Set textContent or build nodes with h() (web/src/dom.ts).' },
        { property: 'insertAdjacentHTML', message: 'Build nodes with h() (web/src/dom.ts).' },
      ],
    },
  },
);
