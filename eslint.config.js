import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Packages only the service may use: the contract (src/shared) and the owner's side never do. */
const SERVER_PACKAGES = ['bullmq', 'ioredis', 'express', 'prom-client', 'pino'].map((name) => ({
  name,
  message: 'service-only package: keep it in src/server, src/api, src/worker or src/stack',
}));
/** Folders that make up the service (and its role entry points). */
const SERVER_FOLDERS = ['server', 'api', 'worker', 'stack'];
const SERVER_PATHS = /(^|\/)(server|api|worker|stack)\//;

/** `import('../server/…')` is not covered by no-restricted-imports; this selector catches it. */
const noDynamicServerImport = {
  selector: `ImportExpression[source.value=${SERVER_PATHS}]`,
  message: 'the owner side imports no service code, not even lazily (role commands start from src/stack/main.ts)',
};

/** require() would pass by no-restricted-imports; only seal-loader.ts loads a package this way. */
const noCreateRequire = {
  selector: `CallExpression[callee.name='createRequire']`,
  message: 'createRequire escapes the import rules; load packages with import (node-seal: src/shared/seal-loader.ts)',
};

function boundary(files, forbiddenFolders, message) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: SERVER_PACKAGES,
          patterns: [{ regex: `(^|/)(${forbiddenFolders.join('|')})/`, message }],
        },
      ],
      'no-restricted-syntax': ['error', noDynamicServerImport, noCreateRequire],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scratch/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // Type-aware rules for the source. node-seal's enum types (ComprModeType, SchemeType, …) and
  // Express's error argument reach us as `any`; until they are wrapped with types, the no-unsafe-*
  // rules would only flag those call sites.
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: ['src/**/*.ts'] })),
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  // src/shared is the contract between owner and service: it depends on nothing else of ours.
  boundary(['src/shared/**/*.ts'], [...SERVER_FOLDERS, 'producer'], 'src/shared is the contract: it imports only src/shared'),
  // The owner's SDK and CLI run where the secret key is: they import src/shared and themselves.
  boundary(['src/producer/**/*.ts'], SERVER_FOLDERS, 'src/producer imports only src/shared and itself'),
  { files: ['src/shared/seal-loader.ts'], rules: { 'no-restricted-syntax': ['error', noDynamicServerImport] } },
);
