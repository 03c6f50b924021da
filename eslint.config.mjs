// Lint enforces the layering of DESIGN.md: what each folder may import.
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'coverage/', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflows are deterministic: no Node built-ins' })),
          patterns: [
            { group: ['**/connectors/**', '**/workers/**', '**/state/**', '**/pipelines/**', '**/scripts/**'], message: 'workflows may import only contracts/, mappings/ and activities as types' },
            { group: ['@temporalio/*', '!@temporalio/workflow', '!@temporalio/common'], message: 'workflows may import only @temporalio/workflow and @temporalio/common' },
            { group: ['**/activities', '**/activities/**'], allowTypeImports: true, message: 'import activities as types only' },
          ],
        },
      ],
    },
  },
  {
    files: ['connectors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@temporalio/*'], message: 'connectors are plain clients: no @temporalio/* imports' }, { group: ['**/workers/**', '**/workflows/**', '**/activities/**'], message: 'connectors do not depend on orchestration' }] }],
    },
  },
  {
    files: ['mappings/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.map((name) => ({ name, message: 'mappings are pure: no I/O' })), patterns: [{ group: ['@temporalio/*', '**/connectors/**', '**/workers/**', '**/activities/**', '**/state/**'], message: 'mappings are pure and stand alone' }] }],
    },
  },
  {
    // Only workers/ and CLI entry points read the environment.
    files: ['contracts/**/*.ts', 'mappings/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts', 'connectors/**/*.ts', 'state/**/*.ts', 'pipelines/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration in workers/ and pass it in' }],
    },
  },
  {
    // The operator CLI is an entry point like workers/: only cli/main.ts reads the environment;
    // it starts workflows through a Temporal client, so it never imports workflow code.
    files: ['cli/**/*.ts'],
    ignores: ['cli/main.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration in cli/main.ts and pass it in' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/workflows', '**/workflows/**', '@temporalio/worker', '@temporalio/workflow'], message: 'the CLI is a client: start workflows by type through @temporalio/client' }] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
