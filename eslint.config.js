import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      '.scratch/**',
      'bench/peers/**',
      'bin/**',
      'examples/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // A folder's public surface is its index.ts: no deep imports into another bounded context.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^\\.\\./(?:\\.\\./)*(core|store|scheduler|sandbox|provenance|governance|swarm|routing|rd|telemetry|api|cli)/(?!index\\.js$).+',
              message: 'Import another folder through its index.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // warden/client ships to users (and browsers) who only call a remote Warden: no server code, and of
    // src/core only the error registry (the core barrel would bundle zod, yaml and the manifest schema).
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!core/errors\\.js$|core/index\\.js$).+',
              message:
                'src/client imports no server code (types from ../core/index.js, values from ../core/errors.js).',
            },
          ],
        },
      ],
    },
  },
  {
    // Warden is the only way in for the API, the CLI and telemetry: its store and scheduler are its parts.
    files: ['src/api/**/*.ts', 'src/cli/**/*.ts', 'src/telemetry/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "MemberExpression[property.name=/^(store|scheduler)$/][object.name='warden'], MemberExpression[property.name=/^(store|scheduler)$/][object.property.name='warden']",
          message: 'Use a Warden facade method instead of reaching into warden.store or warden.scheduler.',
        },
      ],
    },
  },
  {
    // The dashboard (ui/): browser code with its own tsconfig (DOM, JSX for Preact).
    files: ['ui/src/**/*.{ts,tsx}'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly' },
    },
  },
);
