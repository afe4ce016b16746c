import { createHash, X509Certificate } from 'node:crypto';

/**
 * Java's trust store for a sandbox: the sandbox's system bundle (the host's CAs plus its egress CA) as a JKS file of
 * trusted-certificate entries, written by the daemon on the host and mounted read-only where Debian's JDKs look
 * (`lib/security/cacerts` → /etc/ssl/certs/java/cacerts; the base image has no ca-certificates-java).
 *
 * Why written here and not with keytool inside the sandbox at pack install: it needs no JVM on the host or in the
 * sandbox, it exists before any JVM arrives (a pack installed later, or listed by the project, finds it at once),
 * nothing in the sandbox can write it, and the CA key is never involved (only certificates go in).
 *
 * Why JKS: it is what Debian's ca-certificates-java writes at that path, every JDK since 1.2 reads it, and JDK 9+
 * reads it through the default PKCS12 keystore type too (keystore.type.compat). A PKCS12 store of certificates only
 * would need Oracle's trusted-key-usage attribute, which OpenSSL 3.0's `pkcs12` cannot write.
 *
 * Format (sun.security.provider.JavaKeyStore): magic, version 2, entry count; per entry tag 2 (trusted
 * certificate), alias, creation time, certificate type, DER; then SHA-1 over the password (UTF-16BE), the salt
 * "Mighty Aphrodite" and everything before it.
 */

const MAGIC = 0xfeedfeed;
const VERSION = 2;
const TRUSTED_CERT = 2;
/** The password Debian and every JDK use for cacerts; a JVM reads a trust store without one (integrity unchecked). */
export const JAVA_TRUSTSTORE_PASSWORD = 'changeit';

export interface TrustedCert {
  /** Lower-case ASCII, unique in the store (JKS compares aliases case-insensitively). */
  alias: string;
  der: Buffer;
}

/** The certificates of a PEM bundle, each once; blocks that are not X.509 certificates are skipped. */
export function certificatesOf(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []) {
    let der: Buffer;
    try {
      der = new X509Certificate(block).raw;
    } catch {
      continue;
    }
    const fp = createHash('sha256').update(der).digest('hex');
    if (seen.has(fp)) continue;
    seen.add(fp);
    out.push(der);
  }
  return out;
}

/** Aliases from the certificate's fingerprint: stable, unique, and free of anything a subject name could carry. */
export function trustedCerts(ders: Buffer[], named: Record<string, Buffer> = {}): TrustedCert[] {
  const named_ = new Map(
    Object.entries(named).map(([alias, der]) => [createHash('sha256').update(der).digest('hex'), alias]),
  );
  return ders.map((der) => {
    const fp = createHash('sha256').update(der).digest('hex');
    return { alias: named_.get(fp) ?? `sha256-${fp.slice(0, 32)}`, der };
  });
}

export function writeJks(
  certs: TrustedCert[],
  createdMs: number,
  password = JAVA_TRUSTSTORE_PASSWORD,
): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    parts.push(b);
  };
  const utf = (s: string) => {
    // DataOutputStream.writeUTF: a 16-bit length, then modified UTF-8 (plain ASCII here, checked).
    if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`not a printable ASCII alias: ${JSON.stringify(s)}`);
    const b = Buffer.alloc(2);
    b.writeUInt16BE(s.length);
    parts.push(b, Buffer.from(s, 'ascii'));
  };
  u32(MAGIC);
  u32(VERSION);
  u32(certs.length);
  const aliases = new Set<string>();
  for (const c of certs) {
    const alias = c.alias.toLowerCase();
    if (aliases.has(alias)) throw new Error(`duplicate alias ${alias}`);
    aliases.add(alias);
    u32(TRUSTED_CERT);
    utf(alias);
    const when = Buffer.alloc(8);
    when.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(createdMs))));
    parts.push(when);
    utf('X.509');
    u32(c.der.length);
    parts.push(c.der);
  }
  const body = Buffer.concat(parts);
  const digest = createHash('sha1')
    .update(Buffer.from(password, 'utf16le').swap16())
    .update(Buffer.from('Mighty Aphrodite', 'utf8'))
    .update(body)
    .digest();
  return Buffer.concat([body, digest]);
}
