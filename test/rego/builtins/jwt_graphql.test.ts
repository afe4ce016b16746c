import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { evalJS } from './helpers.js';

describe('jwt builtins', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const input = { jwk: JSON.parse(jwk) as unknown, pem, secret: 's3cr3t-value' };

  it('signs RS256 with a JWK and verifies with the PEM public key', () => {
    const token = evalJS('io.jwt.encode_sign({"alg": "RS256"}, {"sub": "alice"}, input.jwk)', {
      input,
    }) as string;
    expect(evalJS(`io.jwt.verify_rs256("${token}", input.pem)`, { input })).toBe(true);
    const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(evalJS(`io.jwt.verify_rs256("${tampered}", input.pem)`, { input })).toBe(false);
  });

  it('checks exp, nbf and aud in decode_verify against the given time', () => {
    const sign = (claims: string): string =>
      evalJS(
        `io.jwt.encode_sign({"alg": "HS256"}, ${claims}, {"kty": "oct", "k": base64url.encode_no_pad(input.secret)})`,
        {
          input,
        },
      ) as string;
    const tok = sign('{"exp": 2000, "nbf": 1000, "aud": "svc"}');
    const verify = (time: number, aud: string): unknown =>
      (
        evalJS(`io.jwt.decode_verify("${tok}", {"secret": input.secret, "time": ${time}, "aud": "${aud}"})`, {
          input,
        }) as unknown[]
      )[0];
    expect(verify(1500e9, 'svc')).toBe(true);
    expect(verify(2500e9, 'svc')).toBe(false);
    expect(verify(500e9, 'svc')).toBe(false);
    expect(verify(1500e9, 'other')).toBe(false);
  });

  it('never puts the secret in its result or error for a wrong key', () => {
    const out = JSON.stringify(
      evalJS('io.jwt.decode_verify("eyJhbGciOiJIUzI1NiJ9.e30.AAAA", {"secret": input.secret})', { input }),
    );
    expect(out).not.toContain(input.secret);
  });
});

describe('graphql builtins', () => {
  it('validates a query given as AST objects against a schema given as an AST object', () => {
    const schema = '`type Query { user(id: ID!): User } type User { name: String }`';
    expect(
      evalJS(
        `graphql.is_valid(graphql.parse_query("{ user(id: 1) { name } }"), graphql.parse_schema(${schema}))`,
      ),
    ).toBe(true);
    expect(evalJS(`graphql.is_valid("{ user { name } }", ${schema})`)).toBe(false);
  });
});
