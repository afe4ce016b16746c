import { describe, expect, it } from 'vitest';
import { BuiltinRegistry, Engine, opaRuntime, registerAll } from '../../../src/rego/index.js';
import { evalError, evalJS } from './helpers.js';

// A P-256 root and two leaves it signed (valid 2026-12-04 .. 2126-11-10): server (EKU serverAuth) and client (EKU
// clientAuth), both with SANs DNS:example.com, DNS:*.svc.example.com, IP:10.0.0.1. Made with openssl for this test.
const CA =
  '-----BEGIN CERTIFICATE-----\nMIIBjzCCATWgAwIBAgIUc/zA31NgM88qZ6X47xY9QcFPf68wCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJVGVzdCBSb290MCAXDTI2MTIwNDIwMzUxOVoYDzIxMjYxMTEw\nMjAzNTE5WjAUMRIwEAYDVQQDDAlUZXN0IFJvb3QwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAARgU402T3qKJaoJZ5+/oUeTHubs6IwKC3w/Sc3Cbnq3qUrKg02BzNeO\n7kLKLqnAw8a0km+y4dJADyysWVs4Hoqvo2MwYTAdBgNVHQ4EFgQURLn8n5i8Wyqq\ntGNLyYQtf2ukWEUwHwYDVR0jBBgwFoAURLn8n5i8WyqqtGNLyYQtf2ukWEUwDwYD\nVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSAAwRQIg\nWc5zv8xkeW1vt0ejkKGCyFzb0VibqCgeu9Q2APW81HECIQCutRcN7rxATsdcPUES\n58O2YmkYRYhGDjaxoA5GTFQjuQ==\n-----END CERTIFICATE-----\n';
const SERVER =
  '-----BEGIN CERTIFICATE-----\nMIIBvzCCAWSgAwIBAgIUKbd2RnNcHrUE5mWs8fImZZn5YQgwCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJVGVzdCBSb290MCAXDTI2MTIwNDIwMzUxOVoYDzIxMjYxMTEw\nMjAzNTE5WjARMQ8wDQYDVQQDDAZzZXJ2ZXIwWTATBgcqhkjOPQIBBggqhkjOPQMB\nBwNCAATBnA3Z3/GF2hGMVZUquoahibzUlCdgcfyrsgAi+2YeOVMbTPZbIy6MmJfA\nCsAXi9PX/S7ZHBST95BlCRi/9y+Uo4GUMIGRMC8GA1UdEQQoMCaCC2V4YW1wbGUu\nY29tghEqLnN2Yy5leGFtcGxlLmNvbYcECgAAATATBgNVHSUEDDAKBggrBgEFBQcD\nATAJBgNVHRMEAjAAMB0GA1UdDgQWBBRLvxamHuhBissHgKvE918/zPS3xDAfBgNV\nHSMEGDAWgBREufyfmLxbKqq0Y0vJhC1/a6RYRTAKBggqhkjOPQQDAgNJADBGAiEA\nwoqoTC4o6wl1nhfEg5x3ghbOB6WuEuCLyHO+99xXaVgCIQCsdyYXtD+iN+8gAIe2\nBLP/RQ1Tn6SBhvrgOJHDzPCmag==\n-----END CERTIFICATE-----\n';
const CLIENT =
  '-----BEGIN CERTIFICATE-----\nMIIBvjCCAWSgAwIBAgIUKbd2RnNcHrUE5mWs8fImZZn5YQkwCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJVGVzdCBSb290MCAXDTI2MTIwNDIwMzUxOVoYDzIxMjYxMTEw\nMjAzNTE5WjARMQ8wDQYDVQQDDAZjbGllbnQwWTATBgcqhkjOPQIBBggqhkjOPQMB\nBwNCAARmz+ZCci+4+2vJukjTLyYyEqhLJD9ujIgkUm+iALoQVs45XL7NmRCavrcE\nUVl4g6J1mJHdVFj2wSq/CMftgaYho4GUMIGRMC8GA1UdEQQoMCaCC2V4YW1wbGUu\nY29tghEqLnN2Yy5leGFtcGxlLmNvbYcECgAAATATBgNVHSUEDDAKBggrBgEFBQcD\nAjAJBgNVHRMEAjAAMB0GA1UdDgQWBBSTl+qodI0mJEkX1i+NyJw/KPUTVzAfBgNV\nHSMEGDAWgBREufyfmLxbKqq0Y0vJhC1/a6RYRTAKBggqhkjOPQQDAgNIADBFAiAZ\nFg6SCtCtiaQkqW8R/urfszP3y5/P4+cslhbzUnqcegIhAMGbn0jg/oFhREE7MxnM\na+Akd1LEXWOumnx+l04i69Gq\n-----END CERTIFICATE-----\n';

const NOW = 1_900_000_000_000_000_000n; // 2030
const chain = (leaf: string) => JSON.stringify(CA + leaf);
const verify = (leaf: string, opts: string) =>
  evalJS(`crypto.x509.parse_and_verify_certificates_with_options(${chain(leaf)}, ${opts})`, {
    nowNs: NOW,
  }) as [boolean, { Subject: { CommonName: string } }[]];

describe('crypto.x509.parse_and_verify_certificates_with_options (Go VerifyOptions, as OPA passes them)', () => {
  it('verifies the chain and returns it leaf first', () => {
    const [ok, certs] = verify(SERVER, '{}');
    expect(ok).toBe(true);
    expect(certs.map((c) => c.Subject.CommonName)).toEqual(['server', 'Test Root']);
  });

  it('checks DNSName against the SANs (wildcards, IP addresses), never the CN', () => {
    expect(verify(SERVER, '{"DNSName": "example.com"}')[0]).toBe(true);
    expect(verify(SERVER, '{"DNSName": "api.svc.example.com"}')[0]).toBe(true);
    expect(verify(SERVER, '{"DNSName": "a.b.svc.example.com"}')[0]).toBe(false);
    expect(verify(SERVER, '{"DNSName": "10.0.0.1"}')[0]).toBe(true);
    expect(verify(SERVER, '{"DNSName": "10.0.0.2"}')[0]).toBe(false);
    expect(verify(SERVER, '{"DNSName": "server"}')).toEqual([false, []]);
  });

  it('checks KeyUsages (array or set); without it server auth is required, like Go', () => {
    expect(verify(CLIENT, '{}')[0]).toBe(false);
    expect(verify(CLIENT, '{"KeyUsages": ["KeyUsageClientAuth"]}')[0]).toBe(true);
    expect(verify(CLIENT, '{"KeyUsages": {"KeyUsageServerAuth"}}')[0]).toBe(false);
    expect(verify(CLIENT, '{"KeyUsages": ["KeyUsageAny"]}')[0]).toBe(true);
    expect(verify(SERVER, '{"KeyUsages": ["KeyUsageServerAuth", "KeyUsageCodeSigning"]}')[0]).toBe(true);
  });

  it('CurrentTime (ns) decides validity instead of the query clock', () => {
    expect(verify(SERVER, '{"CurrentTime": 1700000000000000000}')[0]).toBe(false); // 2023: not yet valid
    expect(verify(SERVER, `{"CurrentTime": ${NOW}}`)[0]).toBe(true);
    expect(verify(SERVER, '{"CurrentTime": 5000000000000000000}')[0]).toBe(false); // 2128: expired
  });

  it('refuses unknown options and wrong types with OPA messages; bad certificates answer [false, []]', () => {
    expect(
      evalError(`crypto.x509.parse_and_verify_certificates_with_options(${chain(SERVER)}, {"Nope": 1})`),
    ).toMatch(/invalid key option/);
    expect(
      evalError(`crypto.x509.parse_and_verify_certificates_with_options(${chain(SERVER)}, {"DNSName": 1})`),
    ).toMatch(/'DNSName' should be a string/);
    expect(
      evalError(
        `crypto.x509.parse_and_verify_certificates_with_options(${chain(SERVER)}, {"KeyUsages": ["Bogus"]})`,
      ),
    ).toMatch(/invalid entries for 'KeyUsages' found: \[Bogus\]/);
    expect(
      evalJS('crypto.x509.parse_and_verify_certificates_with_options("not a cert", {"Nope": 1})'),
    ).toEqual([false, []]);
    expect(
      evalJS(`crypto.x509.parse_and_verify_certificates_with_options(${JSON.stringify(SERVER)}, {})`),
    ).toEqual([false, []]);
  });
});

describe('opa.runtime', () => {
  it('is {} by default (no environment, no config: policy must not see secrets)', () => {
    expect(evalJS('opa.runtime()')).toEqual({});
  });

  it('answers what the embedder registered, without service credentials or private keys', () => {
    const registry = registerAll(new BuiltinRegistry());
    opaRuntime(registry, {
      version: '1.0',
      config: {
        services: { s1: { url: 'https://x', credentials: { bearer: { token: 'secret' } } } },
        keys: { k: { algorithm: 'RS256', key: 'public', private_key: 'private' } },
        labels: { app: 'a' },
      },
    });
    const engine = new Engine({ registry });
    const [r] = engine.prepare('x := opa.runtime()').evaluate();
    expect(r!.bindings.x).toEqual({
      version: '1.0',
      config: {
        services: { s1: { url: 'https://x' } },
        keys: { k: { algorithm: 'RS256' } },
        labels: { app: 'a' },
      },
    });
  });
});
