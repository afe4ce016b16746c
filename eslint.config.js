// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The dependency rule of ARCHITECTURE.md, enforced: cli -> client -> shared/api <- daemon -> domain -> policy, shared.
const domain = [
  'runtime',
  'egress',
  'credentials',
  'llm-proxy',
  'git-gate',
  'ssh-gateway',
  'packs',
  'audit',
  'tokens',
  'sessions',
  'proposals',
  'mcp-gateway',
  'package-cache',
  'companions',
  'engine',
];
// Pure offline readers the CLI may use as tools (like policy and config): they import no daemon, client or cli.
const offlineTools = ['devcontainer'];
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
  ...offlineTools.map((m) => ({
    target: `./src/${m}`,
    from: ['./src/daemon', './src/client', './src/cli', './src/bin'],
  })),
  // client talks to the daemon only through the wire contract.
  { target: './src/client', from: './src', except: ['./client', './shared'] },
  // the CLI never reaches into the daemon or domain modules, except pure offline tools (policy engine, config).
  { target: './src/cli', from: ['./src/daemon', ...domain.map((m) => `./src/${m}`)] },
  { target: './src/daemon', from: ['./src/cli', './src/client'] },
];

/**
 * import-x/no-cycle skips `import type`, yet a type-only loop still ties two modules together (the daemon's hook
 * registry and its hooks were one). This rule finds cycles over every static import and re-export of a file under
 * src/, types included, and reports each import that closes one.
 */
const cycleMembers = new Map();
const importsOf = new Map();
/** @param {string} from @param {string} spec @returns {string | undefined} the .ts file a relative specifier names */
function resolveSpec(from, spec) {
  const target = path.resolve(path.dirname(from), spec);
  return [target.replace(/\.js$/, '.ts'), path.join(target, 'index.ts')].find((c) => existsSync(c));
}
/** @param {string} file @returns {string[]} the files `file` imports or re-exports (types included) */
function staticImports(file) {
  let found = importsOf.get(file);
  if (!found) {
    // Top-level import/export declarations only: a lazy `import()` inside a function is loaded after both modules.
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    found = source.statements
      .map((s) =>
        (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) &&
        s.moduleSpecifier &&
        ts.isStringLiteral(s.moduleSpecifier) &&
        s.moduleSpecifier.text.startsWith('.')
          ? resolveSpec(file, s.moduleSpecifier.text)
          : undefined,
      )
      .filter((t) => t !== undefined);
    importsOf.set(file, found);
  }
  return found;
}
/** Tarjan's strongly connected components from `start`: each file of a component of 2+ maps to its component. */
function componentsFrom(start) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const visit = (v) => {
    index.set(v, index.size);
    low.set(v, index.get(v));
    stack.push(v);
    onStack.add(v);
    for (const w of staticImports(v)) {
      if (!index.has(w)) {
        if (!cycleMembers.has(w)) visit(w);
        else continue;
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const members = component.length > 1 ? new Set(component) : undefined;
      for (const m of component) cycleMembers.set(m, members);
    }
  };
  if (!cycleMembers.has(start)) visit(start);
  return cycleMembers.get(start);
}
const noTypeCycle = {
  meta: {
    type: 'problem',
    schema: [],
    messages: { cycle: 'Import cycle (type imports included): {{files}}' },
  },
  create(context) {
    const file = context.physicalFilename;
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const members = componentsFrom(file);
      const target = resolveSpec(file, spec);
      if (!members || !target || !members.has(target)) return;
      const root = path.join(import.meta.dirname, 'src');
      const files = [...members]
        .map((m) => path.relative(root, m))
        .sort()
        .join(', ');
      context.report({ node, messageId: 'cycle', data: { files } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX, aibox: { rules: { 'no-type-cycle': noTypeCycle } } },
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
  { files: ['src/**/*.ts'], rules: { 'aibox/no-type-cycle': 'error' } },
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
