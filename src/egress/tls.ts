import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { egressErrors } from './errors.js';
import { certificatesOf, trustedCerts, writeJks } from './java-truststore.js';

/**
 * The per-sandbox CA the proxy signs inspected hosts' certificates with. Its key stays in the daemon's state
 * directory (readable by Squid's user only, never mounted); the sandbox gets the certificate alone, appended to its
 * system trust bundle.
 *
 * Layout under the sandbox's egress directory:
 *   tls/ca.key     0600 Squid's user   the CA key
 *   tls/certs/     Squid's user        the certificate cache of security_file_certgen
 *   trust/ca.pem   0644                the CA certificate (Squid's tls-cert, NODE_EXTRA_CA_CERTS in the sandbox)
 *   trust/ca-certificates.crt 0644     the system bundle plus the CA (mounted over the sandbox's system bundle)
 *   trust/java-cacerts 0644            the same certificates as a JKS trust store (mounted where Debian's JDKs
 *                                      read cacerts: java-truststore.ts)
 */
export interface SandboxTlsPaths {
  caKey: string;
  caCert: string;
  certDb: string;
  bundle: string;
  javaTrustStore: string;
}

export interface SandboxTlsOptions {
  openssl: string;
  certgen: string;
  systemBundle: string;
  /** Squid's user: owns the key and the certificate cache. */
  owner: { uid: number; gid: number };
  sandboxId: string;
}

/** Where a sandbox's TLS material lives (deterministic: adopt finds it again after a daemon restart). */
export function sandboxTlsPaths(dir: string): SandboxTlsPaths {
  return {
    caKey: join(dir, 'tls', 'ca.key'),
    caCert: join(dir, 'trust', 'ca.pem'),
    certDb: join(dir, 'tls', 'certs'),
    bundle: join(dir, 'trust', 'ca-certificates.crt'),
    javaTrustStore: join(dir, 'trust', 'java-cacerts'),
  };
}

/** Days the CA is valid: longer than any sandbox lives (a sandbox restart makes a new one). */
const CA_DAYS = 397;

/** Makes the CA, the sandbox's trust bundle and Squid's certificate cache; replaces any previous ones. */
export async function createSandboxTls(dir: string, opts: SandboxTlsOptions): Promise<SandboxTlsPaths> {
  const paths = sandboxTlsPaths(dir);
  const tlsDir = join(dir, 'tls');
  const trustDir = join(dir, 'trust');
  await rm(tlsDir, { recursive: true, force: true });
  await rm(trustDir, { recursive: true, force: true });
  // Private from the first byte: the key is written into a directory only root can enter, then handed over.
  await mkdir(tlsDir, { mode: 0o700 });
  await mkdir(trustDir, { mode: 0o755 });
  const ca = await execa(
    opts.openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      paths.caKey,
      '-out',
      paths.caCert,
      '-days',
      String(CA_DAYS),
      '-subj',
      `/O=aibox/CN=aibox egress CA for sandbox ${opts.sandboxId}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { reject: false, stdin: 'ignore' },
  );
  if (ca.exitCode !== 0)
    throw egressErrors.create(
      'EGRESS_TLS',
      `cannot make the sandbox's egress CA with ${opts.openssl}: ${firstLine(String(ca.stderr ?? '') || ca.message)}`,
      { binary: opts.openssl },
    );
  await chmod(paths.caKey, 0o600);
  await chmod(paths.caCert, 0o644);
  const system = await readFile(opts.systemBundle, 'utf8').catch(() => '');
  const caPem = await readFile(paths.caCert, 'utf8');
  await writeFile(paths.bundle, `${system.trimEnd()}\n${caPem}`, { mode: 0o644 });
  const [caDer] = certificatesOf(caPem);
  if (!caDer) throw egressErrors.create('EGRESS_TLS', `${opts.openssl} wrote no readable CA certificate`);
  const store = trustedCerts([...certificatesOf(system), caDer], { 'aibox-egress-ca': caDer });
  await writeFile(paths.javaTrustStore, writeJks(store, Date.now()), { mode: 0o644 });
  const db = await execa(opts.certgen, ['-c', '-s', paths.certDb, '-M', '4MB'], {
    reject: false,
    stdin: 'ignore',
  });
  if (db.exitCode !== 0)
    throw egressErrors.create(
      'EGRESS_TLS',
      `cannot initialise the certificate cache with ${opts.certgen}: ${firstLine(String(db.stderr ?? '') || db.message)}`,
      { binary: opts.certgen },
    );
  await chownTree(tlsDir, opts.owner);
  return paths;
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { recursive: true }))
    await chown(join(dir, entry), owner.uid, owner.gid);
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n').find((l) => l.trim()) ?? 'no output';
}
