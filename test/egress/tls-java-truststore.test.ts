import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificatesOf,
  trustedCerts,
  writeJks,
  JAVA_TRUSTSTORE_PASSWORD,
} from '../../src/egress/java-truststore.js';
import { createSandboxTls } from '../../src/egress/tls.js';

/** An independent reader of the JKS layout (sun.security.provider.JavaKeyStore.engineLoad), digest checked. */
function readJks(buf: Buffer, password: string) {
  let at = 0;
  const u32 = () => ((at += 4), buf.readUInt32BE(at - 4));
  const utf = () => {
    const n = buf.readUInt16BE(at);
    at += 2 + n;
    return buf.subarray(at - n, at).toString('utf8');
  };
  const magic = u32();
  const version = u32();
  const entries: { tag: number; alias: string; when: bigint; type: string; der: Buffer }[] = [];
  for (let n = u32(); n > 0; n--) {
    const tag = u32();
    const alias = utf();
    const when = buf.readBigUInt64BE(at);
    at += 8;
    const type = utf();
    const len = u32();
    entries.push({ tag, alias, when, type, der: buf.subarray(at, at + len) });
    at += len;
  }
  const pw = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2);
  const want = createHash('sha1').update(pw).update('Mighty Aphrodite').update(buf.subarray(0, at)).digest();
  return { magic, version, entries, digestOk: want.equals(buf.subarray(at)), trailing: buf.length - at - 20 };
}

const ssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: 'ignore' });
function makeCa(cwd: string, name: string): string {
  ssl(cwd, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`); // prettier-ignore
  return join(cwd, `${name}.pem`);
}

describe('Java trust store (JKS) for the sandbox', () => {
  let dir: string;
  let a: string;
  let b: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-jks-'));
    a = await readFile(makeCa(dir, 'ca-a'), 'utf8');
    b = await readFile(makeCa(dir, 'ca-b'), 'utf8');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads each certificate of a bundle once and skips blocks that are not certificates', () => {
    const junk = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    const ders = certificatesOf(`${a}\n# comment\n${junk}${b}${a}`);
    expect(ders.map((d) => new X509Certificate(d).subject)).toEqual(['CN=ca-a', 'CN=ca-b']);
  });

  it('writes trusted-certificate entries a JKS reader accepts, under the cacerts password', () => {
    const [da, db] = certificatesOf(a + b);
    const store = writeJks(trustedCerts([da!, db!], { 'aibox-egress-ca': db! }), 1_700_000_000_000);
    const read = readJks(store, JAVA_TRUSTSTORE_PASSWORD);
    expect(read.magic).toBe(0xfeedfeed);
    expect(read.version).toBe(2);
    expect(read.trailing).toBe(0);
    expect(read.digestOk).toBe(true);
    expect(read.entries.map((e) => [e.tag, e.type, e.when])).toEqual([
      [2, 'X.509', 1_700_000_000_000n],
      [2, 'X.509', 1_700_000_000_000n],
    ]);
    expect(read.entries[0]!.alias).toMatch(/^sha256-[0-9a-f]{32}$/);
    expect(read.entries[1]!.alias).toBe('aibox-egress-ca');
    expect(read.entries.map((e) => Buffer.from(e.der))).toEqual([da, db]);
    // The digest binds the password: another one does not verify.
    expect(readJks(store, 'not-changeit').digestOk).toBe(false);
  });

  it('refuses duplicate aliases (JKS compares them case-insensitively) and non-ASCII ones', () => {
    const [da] = certificatesOf(a);
    expect(() =>
      writeJks(
        [
          { alias: 'Same', der: da! },
          { alias: 'same', der: da! },
        ],
        0,
      ),
    ).toThrow(/duplicate alias/);
    expect(() => writeJks([{ alias: 'é', der: da! }], 0)).toThrow(/ASCII/);
  });

  const keytool = ['/usr/bin/keytool', '/usr/lib/jvm/java-17-openjdk-amd64/bin/keytool'].find((p) =>
    existsSync(p),
  );
  it.skipIf(!keytool)('is listed by the JDK keytool as trusted certificate entries', () => {
    const [da, db] = certificatesOf(a + b);
    const file = join(dir, 'store.jks');
    return writeFile(file, writeJks(trustedCerts([da!, db!], { 'aibox-egress-ca': db! }), Date.now())).then(
      () => {
        const out = execFileSync(keytool!, ['-list', '-keystore', file, '-storepass', 'changeit'], {
          encoding: 'utf8',
        });
        expect(out).toMatch(/Your keystore contains 2 entries/);
        expect(out).toMatch(/aibox-egress-ca, .*trustedCertEntry/);
      },
    );
  });

  const certgen = '/usr/lib/squid/security_file_certgen';
  it.skipIf(!existsSync(certgen) || !existsSync('/usr/bin/openssl'))(
    "createSandboxTls writes the store beside the bundle: the system CAs plus the sandbox's CA, no key",
    async () => {
      const system = join(dir, 'system.crt');
      await writeFile(system, a + b);
      const sbx = join(dir, 'sbx');
      await mkdir(sbx);
      const paths = await createSandboxTls(sbx, {
        openssl: '/usr/bin/openssl',
        certgen,
        systemBundle: system,
        owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        sandboxId: 'sbx_jks',
      });
      expect(paths.javaTrustStore).toBe(join(sbx, 'trust', 'java-cacerts'));
      const read = readJks(await readFile(paths.javaTrustStore), 'changeit');
      expect(read.digestOk).toBe(true);
      const subjects = read.entries.map((e) => new X509Certificate(e.der).subject);
      expect(subjects).toEqual(['CN=ca-a', 'CN=ca-b', 'O=aibox\nCN=aibox egress CA for sandbox sbx_jks']);
      expect(read.entries.at(-1)!.alias).toBe('aibox-egress-ca');
      // The same certificates as the PEM bundle the sandbox gets; readable by all, never the key.
      expect(certificatesOf(await readFile(paths.bundle, 'utf8'))).toEqual(read.entries.map((e) => e.der));
      expect((await stat(paths.javaTrustStore)).mode & 0o777).toBe(0o644);
      expect((await readdir(join(sbx, 'trust'))).sort()).toEqual([
        'ca-certificates.crt',
        'ca.pem',
        'java-cacerts',
      ]);
    },
  );
});
