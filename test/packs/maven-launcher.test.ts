/**
 * The maven pack's launcher, which replaces Debian's `mvn` script: the JVM and nothing else (no helper process, no
 * subshell), with the script's semantics: mavenrc files, JAVA_HOME or java on PATH, the project's base folder (the
 * nearest folder with .mvn, from the current folder or -f's), its .mvn/jvm.config in front of MAVEN_OPTS, Maven's
 * classworlds launcher, and MAVEN_ARGS (Maven 3.9's) before the arguments. Run with a stand-in `java` that prints its
 * argv and the variables the script exports; Debian's script (a fixture) is run on the same
 * cases and must give the same argv.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePackFiles } from '../../src/packs/files.js';
import { parseManifest } from '../../src/packs/index.js';

const run = promisify(execFile);
const REGISTRY = fileURLToPath(new URL('../../pack-registry', import.meta.url));
// Debian's script (maven 3.8.7-1, the pack's version), kept as a fixture so the comparison runs on every host.
const DEBIAN_MVN = fileURLToPath(new URL('./fixtures/debian-mvn.sh', import.meta.url));

describe("the maven pack's launcher", () => {
  let dir = '';
  let home = '';
  let launcher = '';
  let jdk = '';
  let proj = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-maven-launcher-'));
    const { manifest: m, problems } = parseManifest(
      'maven.yaml',
      await readFile(path.join(REGISTRY, 'maven.yaml'), 'utf8'),
    );
    expect(problems).toEqual([]);
    const v = m!.versions[m!.default]!;
    // Written over Debian's script where PATH finds it.
    const f = v.files.find((x) => x.path === 'usr/share/maven/bin/mvn');
    expect(f?.executable).toBe(true);
    expect(v.path).toContain('${prefix}/usr/share/maven/bin');
    const prefix = path.join(dir, 'pack');
    await mkdir(prefix);
    await writePackFiles(prefix, prefix, [f!]);
    home = path.join(prefix, 'usr/share/maven');
    launcher = path.join(home, 'bin/mvn');
    await mkdir(path.join(home, 'boot'));
    await writeFile(path.join(home, 'boot/plexus-classworlds-2.x.jar'), '');
    // A stand-in JDK whose java prints each argument in brackets, then what the script exported; builtins only.
    jdk = path.join(dir, 'jdk');
    await mkdir(path.join(jdk, 'bin'), { recursive: true });
    await writeFile(
      path.join(jdk, 'bin/java'),
      '#!/bin/sh\nfor a; do printf "[%s]" "$a"; done\nprintf "\\n%s\\n%s\\n" "$MAVEN_PROJECTBASEDIR" "$MAVEN_CMD_LINE_ARGS"\n',
      { mode: 0o755 },
    );
    // A project with .mvn at its top, a module below it, a folder link to the module, and a user home.
    proj = path.join(dir, 'proj');
    await mkdir(path.join(proj, '.mvn'), { recursive: true });
    await mkdir(path.join(proj, 'mod/src'), { recursive: true });
    await writeFile(path.join(proj, 'pom.xml'), '<project/>');
    await writeFile(path.join(proj, 'mod/pom.xml'), '<project/>');
    await symlink(path.join(proj, 'mod'), path.join(dir, 'link'));
    await mkdir(path.join(dir, 'home'));
    await mkdir(path.join(dir, 'plain'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const mvn = async (
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; script?: string; path?: string } = {},
  ) => {
    const r = await run('/bin/sh', [opts.script ?? launcher, ...args], {
      cwd: opts.cwd ?? proj,
      env: {
        PATH: opts.path ?? path.join(jdk, 'bin'),
        HOME: path.join(dir, 'home'),
        JAVA_HOME: jdk,
        ...opts.env,
      },
    });
    const [argv = '', base = '', cmdLine = ''] = r.stdout.split('\n');
    return { argv, base, cmdLine, stderr: r.stderr };
  };
  const bracket = (a: string[]) => a.map((x) => `[${x}]`).join('');
  const tail = (base: string) => [
    '-classpath',
    `${home}/boot/plexus-classworlds-2.x.jar`,
    `-Dclassworlds.conf=${home}/bin/m2.conf`,
    `-Dmaven.home=${home}`,
    `-Dlibrary.jansi.path=${home}/lib/jansi-native`,
    `-Dmaven.multiModuleProjectDirectory=${base}`,
    'org.codehaus.plexus.classworlds.launcher.Launcher',
  ];

  it('starts the JVM with MAVEN_OPTS split, the classworlds launcher, MAVEN_ARGS, then the arguments unchanged', async () => {
    await writeFile(path.join(proj, '.mvn/jvm.config'), '');
    const r = await mvn(['package', 'a b', "it's", '$HOME', ''], {
      env: { MAVEN_OPTS: '-Xmx1g  -Dx=1', MAVEN_ARGS: '-B -e', MAVEN_CONFIG: '-q' },
    });
    expect(r.argv).toBe(
      bracket(['-Xmx1g', '-Dx=1', ...tail(proj), '-B', '-e', 'package', 'a b', "it's", '$HOME', '']),
    );
    expect(r.base).toBe(proj);
    expect(r.cmdLine).toBe("-q package a b it's $HOME ");
    // No helper program is run: PATH holds nothing but the stand-in java, and nothing complained.
    expect(r.stderr).toBe('');
  });

  it(".mvn/jvm.config's lines (CRLF too) come before MAVEN_OPTS, so MAVEN_OPTS wins; found from a module folder", async () => {
    await writeFile(
      path.join(proj, '.mvn/jvm.config'),
      '-Dwho=jvm.config\r\n-Xss2m  -Da=\\b\r\n-Dlast\t-Dno-eol',
    );
    const r = await mvn(['-v'], { cwd: path.join(proj, 'mod/src'), env: { MAVEN_OPTS: '-Dwho=MAVEN_OPTS' } });
    expect(r.argv).toBe(
      bracket([
        '-Dwho=jvm.config',
        '-Xss2m',
        '-Da=\\b',
        '-Dlast',
        '-Dno-eol',
        '-Dwho=MAVEN_OPTS',
        ...tail(proj),
        '-v',
      ]),
    );
    expect(r.base).toBe(proj);
    expect(r.stderr).toBe('');
  });

  it('takes the base folder from -f/--file (file or folder, links resolved), MAVEN_BASEDIR, or the start folder', async () => {
    await writeFile(path.join(proj, '.mvn/jvm.config'), '-Dfrom=proj');
    const plain = path.join(dir, 'plain');
    // A pom in a folder link: the physical folder, then up to the .mvn.
    expect((await mvn(['-f', '../link/pom.xml', 'verify'], { cwd: plain })).base).toBe(proj);
    expect((await mvn(['--file', path.join(dir, 'link')], { cwd: plain })).argv).toContain('[-Dfrom=proj]');
    // Without .mvn on the way up: the start folder, and no jvm.config.
    const none = await mvn(['-v'], { cwd: plain });
    expect(none.base).toBe(plain);
    expect(none.argv).toBe(bracket([...tail(plain), '-v']));
    expect((await mvn(['-v'], { cwd: plain, env: { MAVEN_BASEDIR: proj } })).argv).toContain('[-Dfrom=proj]');
    // A -f whose file does not exist stops before the JVM, with Debian's message.
    await expect(mvn(['-f', 'nope.xml'], { cwd: plain })).rejects.toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining(
        'POM file nope.xml specified with the -f/--file command line argument does not exist',
      ),
    });
  });

  it('reads ~/.mavenrc unless MAVEN_SKIP_RC, and finds java on PATH without JAVA_HOME', async () => {
    await writeFile(path.join(proj, '.mvn/jvm.config'), '');
    await writeFile(path.join(dir, 'home/.mavenrc'), 'MAVEN_OPTS="$MAVEN_OPTS -Dfrom=mavenrc"\n');
    try {
      expect((await mvn(['-v'], { env: { JAVA_HOME: '' } })).argv).toBe(
        bracket(['-Dfrom=mavenrc', ...tail(proj), '-v']),
      );
      expect((await mvn(['-v'], { env: { MAVEN_SKIP_RC: '1' } })).argv).toBe(bracket([...tail(proj), '-v']));
    } finally {
      await rm(path.join(dir, 'home/.mavenrc'));
    }
  });

  it("fails like Debian's script without a java", async () => {
    for (const env of [{ JAVA_HOME: path.join(dir, 'none') }, { JAVA_HOME: '' }]) {
      await expect(mvn(['-v'], { env, path: path.join(dir, 'plain') })).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('The JAVA_HOME environment variable is not defined correctly'),
      });
    }
  });

  it("gives the argv Debian's script gives, on the same cases", async () => {
    const debian = path.join(home, 'bin/mvn.debian');
    await copyFile(DEBIAN_MVN, debian);
    // Debian's script needs its helpers (uname, dirname, tr) on PATH; the stand-in java comes first.
    const withTools = `${path.join(jdk, 'bin')}:/usr/bin:/bin`;
    await writeFile(path.join(proj, '.mvn/jvm.config'), '-Dwho=jvm.config\r\n-Xss2m\n');
    const cases: { args: string[]; cwd: string; env?: Record<string, string> }[] = [
      { args: ['package'], cwd: proj },
      { args: ['-v', 'a b'], cwd: path.join(proj, 'mod/src'), env: { MAVEN_OPTS: '-Dwho=opts -Xmx1g' } },
      { args: ['-f', '../link/pom.xml', 'verify'], cwd: path.join(dir, 'plain') },
      { args: ['-q', '--file', path.join(dir, 'link')], cwd: path.join(dir, 'plain') },
      { args: ['-v'], cwd: path.join(dir, 'plain'), env: { MAVEN_BASEDIR: proj, MAVEN_CONFIG: '-o' } },
      {
        args: ['-v'],
        cwd: path.join(dir, 'plain'),
        env: { MAVEN_DEBUG_OPTS: '-Xdebug -Dd=1', JAVA_HOME: '' },
      },
    ];
    for (const c of cases) {
      const opts = { cwd: c.cwd, env: c.env ?? {}, path: withTools };
      const ours = await mvn(c.args, opts);
      const theirs = await mvn(c.args, { ...opts, script: debian });
      expect(ours, JSON.stringify(c)).toEqual(theirs);
    }
  });
});
