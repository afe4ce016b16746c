// Bundles the `aibox` CLI into dist/bin/aibox.js, or into the folder given as argument (run after
// `tsc -p tsconfig.build.json`, whose dist/bin/aibox.js it replaces): our modules and commander in one entry file
// plus one chunk per lazily loaded command, other packages left in node_modules. Node pays about 1 ms of CPU per
// ES module at start; tsc's output loads ~45 of them on `aibox version`.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Another folder (under the repository, so packages resolve from its node_modules) for a private copy: bench/cli.ts.
const outdir = process.argv[2] ?? 'dist/bin';
const pkg = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
await rm(`${root}${outdir}/chunks`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/bin/aibox.ts'],
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // commander is on every path and costs ~20 ms of CPU loaded from node_modules (its CommonJS files through the
  // ESM wrapper), against ~2 ms bundled; the other packages are loaded only by the commands that need them.
  external: Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
    (name) => name !== 'commander',
  ),
  // commander is CommonJS: its require() of node: modules needs a real require in ESM output.
  banner: {
    js: "import { createRequire as __aiboxCreateRequire } from 'node:module'; const require = __aiboxCreateRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
});
