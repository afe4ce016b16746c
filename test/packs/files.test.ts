/**
 * A manifest's `files` (written into the pack at build time) and the gradle pack's launcher, which replaces Debian's
 * script: one JVM, the flags Debian's probe would pick, C1 and the pack's CDS archive first, then JAVA_OPTS and
 * GRADLE_OPTS split by the shell's quoting rules, the arguments passed unchanged. Run here with a stand-in `java`
 * that prints its argv (no JVM needed).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writePackFiles } from '../../src/packs/files.js';
import { parseManifest, sourcesKey, type PackVersionSpec } from '../../src/packs/index.js';

const run = promisify(execFile);
const REGISTRY = fileURLToPath(new URL('../../pack-registry', import.meta.url));
const PREFIX = '/opt/aibox/packs/demo';

const manifest = (files: string) => `name: demo
description: a demo pack
default: "1"
versions:
  "1":
    sources:
      debian:
        packages: [jq]
${files}
    smoke: [jq, --version]
`;
const spec = (files: string): PackVersionSpec => {
  const { manifest: m, problems } = parseManifest('demo.yaml', manifest(files));
  expect(problems).toEqual([]);
  return m!.versions['1']!;
};

describe("a manifest's files", () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-pack-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses paths inside the pack only, and refuses one written twice', () => {
    const ok = spec(
      `    files:\n      - { path: usr/bin/demo, content: "#!/bin/sh\\n", executable: true }\n      - { path: etc/demo.conf, content: x }`,
    );
    expect(ok.files).toEqual([
      { path: 'usr/bin/demo', content: '#!/bin/sh\n', executable: true },
      { path: 'etc/demo.conf', content: 'x', executable: false },
    ]);
    for (const bad of [
      '/etc/passwd',
      '../x',
      'usr/../../x',
      'usr//x',
      'usr/bin/',
      './x',
      'a/./b',
      '.pack.json',
    ]) {
      const { problems } = parseManifest(
        'demo.yaml',
        manifest(`    files:\n      - { path: "${bad}", content: x }`),
      );
      expect(problems.length, bad).toBeGreaterThan(0);
      expect(problems[0]!.message, bad).toMatch(/files\.0\.path/);
      expect(problems[0]!.line, bad).toBe(10);
    }
    const twice = parseManifest(
      'demo.yaml',
      manifest(`    files:\n      - { path: a, content: x }\n      - { path: a, content: y }`),
    );
    expect(twice.problems[0]!.message).toMatch(/files\.1\.path: a is written twice/);
  });

  it('changes the recipe key only when a version has files (older artifacts stay valid)', () => {
    const none = spec('');
    const some = spec(`    files:\n      - { path: a, content: x }`);
    const other = spec(`    files:\n      - { path: a, content: y }`);
    expect(sourcesKey(none)).toBe(sourcesKey({ ...none, files: [] }));
    expect(new Set([sourcesKey(none), sourcesKey(some), sourcesKey(other)]).size).toBe(3);
  });

  it('writes them with ${prefix} expanded, replacing a file or a link there without following it', async () => {
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'usr/bin'), { recursive: true });
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'host file\n');
    // A link where the file goes (e.g. Debian's usr/bin/tool -> /usr/share/…): replaced, its target untouched.
    await symlink(outside, path.join(root, 'usr/bin/demo'));
    await writeFile(path.join(root, 'usr/bin/old'), 'debian\n');
    await writePackFiles(root, PREFIX, [
      { path: 'usr/bin/demo', content: 'exec ${prefix}/usr/bin/real\n', executable: true },
      { path: 'usr/bin/old', content: 'ours\n', executable: false },
      { path: 'new/dir/file', content: 'x', executable: false },
    ]);
    expect(await readFile(outside, 'utf8')).toBe('host file\n');
    const demo = await lstat(path.join(root, 'usr/bin/demo'));
    expect(demo.isFile()).toBe(true);
    expect(demo.mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(root, 'usr/bin/demo'), 'utf8')).toBe(`exec ${PREFIX}/usr/bin/real\n`);
    expect(await readFile(path.join(root, 'usr/bin/old'), 'utf8')).toBe('ours\n');
    expect((await lstat(path.join(root, 'usr/bin/old'))).mode & 0o777).toBe(0o644);
    expect(await readFile(path.join(root, 'new/dir/file'), 'utf8')).toBe('x');
  });

  it('refuses a folder on the way that is a link (it could lead out of the pack), and a folder in the way', async () => {
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    await mkdir(path.join(root, 'usr'), { recursive: true });
    await mkdir(outside);
    await symlink(outside, path.join(root, 'usr/share'));
    await expect(
      writePackFiles(root, PREFIX, [{ path: 'usr/share/x/file', content: 'x', executable: false }]),
    ).rejects.toThrow(/usr\/share is not a folder/);
    expect(existsSync(path.join(outside, 'x'))).toBe(false);
    expect(await readlink(path.join(root, 'usr/share'))).toBe(outside);
    await expect(
      writePackFiles(root, PREFIX, [{ path: 'usr', content: 'x', executable: false }]),
    ).rejects.toThrow(/usr is a folder in the pack/);
  });
});

describe("the gradle pack's launcher", () => {
  let dir = '';
  let launcher = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-gradle-launcher-'));
    const { manifest: m, problems } = parseManifest(
      'gradle.yaml',
      await readFile(path.join(REGISTRY, 'gradle.yaml'), 'utf8'),
    );
    expect(problems).toEqual([]);
    const v = m!.versions[m!.default]!;
    // It replaces Debian's script where PATH finds it, so every way of calling gradle gets it.
    const f = v.files.find((x) => x.path === 'usr/share/gradle/bin/gradle');
    expect(f?.executable).toBe(true);
    expect(v.path).toContain('${prefix}/usr/share/gradle/bin');
    await writePackFiles(dir, '/opt/aibox/packs/gradle', [f!]);
    launcher = path.join(dir, 'usr/share/gradle/bin/gradle');
    // A stand-in JDK whose java prints each argument in brackets.
    await mkdir(path.join(dir, 'jdk/bin'), { recursive: true });
    await writeFile(path.join(dir, 'jdk/bin/java'), '#!/bin/sh\nfor a; do printf "[%s]" "$a"; done\necho\n', {
      mode: 0o755,
    });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const argv = async (args: string[], env: Record<string, string> = {}) =>
    (
      await run('sh', [launcher, ...args], {
        env: { PATH: process.env['PATH'] ?? '', JAVA_HOME: path.join(dir, 'jdk'), ...env },
      })
    ).stdout.trim();

  it('starts one JVM with the probe-free flags, C1 and the CDS archive, then the options, then the arguments', async () => {
    const home = '/opt/aibox/packs/gradle/usr/share/gradle';
    expect(
      await argv(['build', 'a b', "it's", '$HOME', '"q"', ''], {
        GRADLE_OPTS: `-Da='x y' -Db`,
        JAVA_OPTS: '-Xmx1g',
      }),
    ).toBe(
      [
        '--add-opens',
        'java.base/java.lang=ALL-UNNAMED',
        '-XX:TieredStopAtLevel=1',
        `-XX:SharedArchiveFile=${home}/aibox-cds.jsa`,
        '-Xmx1g',
        '-Da=x y',
        '-Db',
        '-Dorg.gradle.appname=gradle',
        '-classpath',
        `${home}/lib/gradle-launcher-4.4.1.jar`,
        'org.gradle.launcher.GradleMain',
        'build',
        'a b',
        "it's",
        '$HOME',
        '"q"',
        '',
      ]
        .map((a) => `[${a}]`)
        .join(''),
    );
  });

  it('writes the archive instead when the pack build trains it', async () => {
    expect(await argv(['--version'], { AIBOX_CDS_ARCHIVE: '/w/.cds.jsa' })).toContain(
      '[-XX:TieredStopAtLevel=1][-XX:ArchiveClassesAtExit=/w/.cds.jsa][-Dorg.gradle.appname=gradle]',
    );
  });

  it("fails like Debian's script when JAVA_HOME has no java", async () => {
    await expect(argv(['--version'], { JAVA_HOME: path.join(dir, 'none') })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('ERROR: JAVA_HOME is set to an invalid directory'),
    });
  });
});
