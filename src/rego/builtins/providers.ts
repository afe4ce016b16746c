/**
 * providers.aws.sign_req: AWS Signature Version 4 for an http.send-style request object. Pure computation (no I/O):
 * the request comes back with Authorization and x-amz-* headers added.
 */
import { createHash, createHmac } from 'node:crypto';
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';
import type { Value } from '../value.js';
import { ObjectValue, SetValue, isNumber, toBigInt, toJSONText, toRegoText } from '../value.js';
import { operandError } from './operands.js';

const REQUIRED_CONFIG = ['aws_access_key', 'aws_region', 'aws_secret_access_key', 'aws_service'];
/** Request keys http.send accepts (sign_req validates against the same list). */
const REQUEST_KEYS = new Set([
  'method',
  'url',
  'body',
  'enable_redirect',
  'force_json_decode',
  'force_yaml_decode',
  'headers',
  'raw_body',
  'tls_use_system_certs',
  'tls_ca_cert',
  'tls_ca_cert_file',
  'tls_ca_cert_env_variable',
  'tls_client_cert',
  'tls_client_cert_file',
  'tls_client_cert_env_variable',
  'tls_client_key',
  'tls_client_key_file',
  'tls_client_key_env_variable',
  'tls_insecure_skip_verify',
  'tls_server_name',
  'timeout',
  'cache',
  'force_cache',
  'force_cache_duration_seconds',
  'raise_error',
  'caching_mode',
  'max_retry_attempts',
  'cache_ignored_headers',
]);
/** Headers a proxy may rewrite: never signed. */
const IGNORED_HEADERS = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

const setText = (names: string[]): string => toRegoText(SetValue.of(names));
const sha256hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const str = (v: Value | undefined): string => (typeof v === 'string' ? v : '');

/** Go's url.URL.EscapedPath: the path as written (empty when the URL has none, unlike WHATWG's "/"). */
function escapedPath(raw: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(raw)?.[1] ?? '';
}

function validateRequest(req: ObjectValue): void {
  const missing = ['method', 'url'].filter((k) => req.getStr(k) === undefined);
  if (missing.length > 0)
    throw operandError(1, `missing required request parameters(s): ${setText(missing)}`);
  const invalid = req.keys().filter((k) => typeof k !== 'string' || !REQUEST_KEYS.has(k));
  if (invalid.length > 0)
    throw operandError(1, `invalid request parameters(s): ${toRegoText(SetValue.of(invalid))}`);
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'providers.aws.sign_req',
    args: ['object', 'object', 'number'],
    result: 'object',
    impl: (a) => {
      const req = a[0] as ObjectValue;
      const cfg = a[1] as ObjectValue;
      const missing = REQUIRED_CONFIG.filter((k) => cfg.getStr(k) === undefined);
      if (missing.length > 0)
        throw operandError(2, `missing required AWS config parameters(s): ${setText(missing)}`);
      const invalidCfg = REQUIRED_CONFIG.filter((k) => typeof cfg.getStr(k) !== 'string');
      if (invalidCfg.length > 0)
        throw operandError(2, `invalid values for required AWS config parameters(s): ${setText(invalidCfg)}`);
      const t = a[2]!;
      const ts = isNumber(t) ? toBigInt(t) : undefined;
      // Negative times are refused: OPA only accepts integers written without an exponent, and no signature
      // for a time before 1970 is useful.
      if (ts === undefined || ts < 0n || ts >= 2n ** 63n)
        throw operandError(3, 'could not convert time_ns value into a unix timestamp');
      validateRequest(req);
      const headersV = req.getStr('headers');
      if (headersV !== undefined && !(headersV instanceof ObjectValue))
        throw operandError(0, `must be object but got ${typeof headersV}`);
      const badParams = ['method', 'url'].filter((k) => typeof req.getStr(k) !== 'string');
      if (badParams.length > 0)
        throw operandError(1, `invalid values for required request parameters(s): ${setText(badParams)}`);
      let disablePayloadSigning = false;
      const dps = cfg.getStr('disable_payload_signing');
      if (dps !== undefined) {
        if (typeof dps !== 'boolean')
          throw operandError(2, "invalid value for 'disable_payload_signing' in AWS config");
        disablePayloadSigning = dps;
      }
      let url: URL;
      try {
        url = new URL(str(req.getStr('url')));
      } catch (e) {
        throw new BuiltinError((e as Error).message);
      }
      const method = str(req.getStr('method'));
      const rawBody = req.getStr('raw_body');
      const body = req.getStr('body');
      const bodyBytes = rawBody !== undefined ? str(rawBody) : body !== undefined ? toJSONText(body) : '';

      const service = str(cfg.getStr('aws_service'));
      const region = str(cfg.getStr('aws_region'));
      const accessKey = str(cfg.getStr('aws_access_key'));
      const secretKey = str(cfg.getStr('aws_secret_access_key'));
      const sessionToken = str(cfg.getStr('aws_session_token'));

      const reqHeaders = new Map<string, string>();
      if (headersV instanceof ObjectValue)
        for (const [k, v] of headersV.entries()) reqHeaders.set(str(k), str(v));

      const d = new Date(Number(ts / 1_000_000n));
      const iso = d
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
      const date = iso.slice(0, 8);
      const payloadHash = disablePayloadSigning
        ? 'UNSIGNED-PAYLOAD'
        : sha256hex(Buffer.from(bodyBytes, 'utf8'));

      const awsHeaders = new Map<string, string>([
        ['host', url.host],
        ['x-amz-date', iso],
      ]);
      if (service === 's3' || service === 'glacier') awsHeaders.set('x-amz-content-sha256', payloadHash);
      if (sessionToken !== '') awsHeaders.set('x-amz-security-token', sessionToken);

      // Like OPA: a header the caller set is signed with the caller's value, even where the aws header replaces it.
      const toSign = new Map<string, string>(awsHeaders);
      for (const [k, v] of reqHeaders) {
        const lk = k.toLowerCase();
        if (!IGNORED_HEADERS.has(lk)) toSign.set(lk, v);
      }
      const keys = [...toSign.keys()].sort();
      const canonical =
        `${method}\n${escapedPath(str(req.getStr('url')))}\n${url.search.replace(/^\?/, '')}\n` +
        keys.map((k) => `${k}:${toSign.get(k)!}\n`).join('') +
        `\n${keys.join(';')}\n${payloadHash}`;
      const scope = `${date}/${region}/${service}/aws4_request`;
      const stringToSign = `AWS4-HMAC-SHA256\n${iso}\n${scope}\n${sha256hex(canonical)}`;
      let key = hmac('AWS4' + secretKey, date);
      key = hmac(key, region);
      key = hmac(key, service);
      key = hmac(key, 'aws4_request');
      const signature = hmac(key, stringToSign).toString('hex');

      const out = req.clone();
      const headers = new ObjectValue();
      for (const [k, v] of reqHeaders) headers.set(k, v);
      headers.set(
        'Authorization',
        `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope},SignedHeaders=${keys.join(';')},Signature=${signature}`,
      );
      for (const [k, v] of awsHeaders) headers.set(k, v);
      out.set('headers', headers);
      return out;
    },
  });
}
