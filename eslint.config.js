// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// The dependency rule of ARCHITECTURE.md, enforced: cli -> client -> shared/api <- daemon -> domain -> policy, shared.
const domain = ['runtime', 'egress', 'credentials', 'llm-proxy', 'git-gate', 'ssh-gateway', 'packs', 'audit'];
const zones = [
  // rego is a standalone library: it imports nothing of aibox.
  { target: './src/rego', from: './src', except: ['./rego'] },
  // shared imports nothing of ours.
  { target: './src/shared', from: './src', except: ['./shared'] },
  // policy imports only itself, rego and shared.
  { target: './src/policy', from: './src', except: ['./policy', './rego', './shared'] },
  // domain modules never import daemon, client or cli.
  ...domain.map((m) => ({
    target: `./src/${m}`,
    from: ['./src/daemon', './src/client', './src/cli', './src/bin'],
  })),
  // client talks to the daemon only through the wire contract.
  { target: './src/client', from: './src', except: ['./client', './shared'] },
  // the CLI never reaches into the daemon or domain modules, except pure offline tools (policy engine, config).
  { target: './src/cli', from: ['./src/daemon', ...domain.map((m) => `./src/${m}`)] },
  { target: './src/daemon', from: ['./src/cli', './src/client'] },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify plugins and handlers are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'import-x/no-cycle': ['error', { maxDepth: 8 }],
      'import-x/no-restricted-paths': ['error', { zones }],
    },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
