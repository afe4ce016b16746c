import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PackRegistry, packEnv, parseEgressNeed, parseManifest, parseRef } from '../../src/packs/index.js';

const GOOD = `name: demo
description: a demo pack
default: "1"
versions:
  "1":
    sources:
      debian:
        packages: [jq]
    path: ["\${prefix}/usr/bin"]
    env:
      DEMO_HOME: "\${prefix}/usr/share/demo"
    smoke: [jq, --version]
`;

describe('pack manifests', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('accepts a complete manifest and fills defaults', () => {
    const { manifest, problems } = parseManifest('demo.yaml', GOOD);
    expect(problems).toEqual([]);
    expect(manifest?.kind).toBe('tool');
    expect(manifest?.versions['1']?.egress).toEqual([]);
  });

  it('reports a bad value at the line of its key', () => {
    const bad = GOOD.replace('packages: [jq]', 'packages: [Not_A_Deb]');
    const { manifest, problems } = parseManifest('demo.yaml', bad);
    expect(manifest).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'demo.yaml', line: 8 });
    expect(problems[0]!.message).toContain('versions.1.sources.debian.packages.0');
  });

  it('reports an unknown key and a missing smoke test', () => {
    const bad = GOOD.replace('    smoke: [jq, --version]\n', '    smok: [jq]\n');
    const lines = parseManifest('demo.yaml', bad).problems.map((p) => `${p.line}: ${p.message}`);
    expect(lines.some((l) => /^6: .*smok/.test(l))).toBe(true);
    expect(lines.some((l) => /smoke/.test(l))).toBe(true);
  });

  it('reports a default that is not one of the versions at its line', () => {
    const { problems } = parseManifest('demo.yaml', GOOD.replace('default: "1"', 'default: "2"'));
    expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '3: default: default must be one of versions',
    ]);
  });

  it('reports YAML syntax errors by line', () => {
    const { problems } = parseManifest('demo.yaml', 'name: demo\nversions:\n  - [unclosed\n');
    expect(problems[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('lints a registry folder: file names must match, requires must exist', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-packs-reg-'));
    dirs.push(dir);
    await writeFile(
      path.join(dir, 'demo.yaml'),
      GOOD.replace('default: "1"', 'default: "1"\nrequires: [ghost]'),
    );
    await writeFile(path.join(dir, 'other.yaml'), GOOD);
    const reg = await PackRegistry.load(dir);
    const text = reg.problems.map((p) => `${path.basename(p.file)}:${p.line}: ${p.message}`);
    expect(text).toContain('other.yaml:1: the file must be named demo.yaml');
    expect(text).toContain('demo.yaml:1: requires unknown pack ghost');
    expect(() => reg.resolve('demo@9')).toThrow(/no version 9/);
    expect(() => reg.resolve('nope')).toThrow(/no pack named/);
  });

  it('ships a registry without problems, with the packs the issue asks for', async () => {
    const reg = await PackRegistry.load(path.resolve('pack-registry'));
    expect(reg.problems).toEqual([]);
    const names = reg.list().map((m) => m.name);
    for (const n of [
      'java',
      'node',
      'python',
      'go',
      'maven',
      'gradle',
      'git-tools',
      'mcp-filesystem',
      'mcp-git',
    ])
      expect(names).toContain(n);
    expect(reg.resolve('java').version).toBe('17');
    expect(reg.resolve('mcp-filesystem').spec.mcp?.command[0]).toBe('node');
  });

  it('turns installed packs into PATH, LD_LIBRARY_PATH and their own variables', () => {
    const spec = parseManifest('demo.yaml', GOOD).manifest!.versions['1']!;
    const env = packEnv([
      { name: 'demo', version: '1', key: 'k', spec: { ...spec, libraryPath: ['${prefix}/lib'] } },
    ]);
    expect(env['PATH']).toBe(
      '/opt/aibox/packs/demo/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
    expect(env['LD_LIBRARY_PATH']).toBe('/opt/aibox/packs/demo/lib');
    expect(env['DEMO_HOME']).toBe('/opt/aibox/packs/demo/usr/share/demo');
    expect(packEnv([])).toEqual({});
    expect(parseRef('java@17')).toEqual({ name: 'java', version: '17' });
  });

  it('takes egress needs as host or host:port and refuses wildcards, IP literals and bad ports by line', () => {
    const withNeeds = (needs: string) => GOOD.replace('    smoke:', `    egress: ${needs}\n    smoke:`);
    const ok = parseManifest('demo.yaml', withNeeds('[repo.example.org, mirror.example.org:8443]'));
    expect(ok.problems).toEqual([]);
    expect(ok.manifest!.versions['1']!.egress.map(parseEgressNeed)).toEqual([
      { host: 'repo.example.org', port: 443 },
      { host: 'mirror.example.org', port: 8443 },
    ]);
    for (const bad of [
      '"*.example.org"',
      '10.0.0.1',
      'localhost',
      'a.example.org:0',
      'a.example.org:70000',
    ]) {
      const r = parseManifest('demo.yaml', withNeeds(`[${bad}]`));
      expect(r.manifest, bad).toBeUndefined();
      expect(r.problems[0], bad).toMatchObject({ line: 12 });
      expect(r.problems[0]!.message, bad).toContain('versions.1.egress.0');
    }
  });

  it('takes relocate as relative jar patterns and absolute paths, and refuses escapes by line', () => {
    const withRelocate = (jars: string, paths: string) =>
      GOOD.replace('    smoke:', `    relocate:\n      jars: ${jars}\n      paths: ${paths}\n    smoke:`);
    const ok = parseManifest('demo.yaml', withRelocate('["usr/share/java/demo-*.jar"]', '[/usr/share/java]'));
    expect(ok.problems).toEqual([]);
    expect(ok.manifest?.versions['1']?.relocate).toEqual({
      jars: ['usr/share/java/demo-*.jar'],
      paths: ['/usr/share/java'],
    });
    for (const [jars, paths, where] of [
      ['["/usr/share/java/a.jar"]', '[/usr/share/java]', 'jars.0'],
      ['["../a.jar"]', '[/usr/share/java]', 'jars.0'],
      ['["a.zip"]', '[/usr/share/java]', 'jars.0'],
      ['["a.jar"]', '[usr/share/java]', 'paths.0'],
      ['["a.jar"]', '[/usr/share/java/]', 'paths.0'],
      ['["a.jar"]', '[/usr/../etc]', 'paths.0'],
    ] as const) {
      const r = parseManifest('demo.yaml', withRelocate(jars, paths));
      expect(r.manifest, `${jars} ${paths}`).toBeUndefined();
      expect(r.problems[0]!.message).toContain(`versions.1.relocate.${where}`);
    }
  });
});
