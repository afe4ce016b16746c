import { describe, expect, it } from 'vitest';
import {
  buildEgressPolicy,
  CredentialBinding,
  EgressConfig,
  renderSquidConf,
} from '../../src/egress/index.js';
import { renderCredentialsConf } from '../../src/egress/credentials.js';

const placeholder = `aibox-cred-${'ab'.repeat(16)}`;
const rule = { host: 'api.example', paths: ['/repos/**'], header: 'Authorization', placeholder };

describe('credentials injected at the egress point', () => {
  it('reads bindings from the daemon config, with Bearer in Authorization by default', () => {
    const config = EgressConfig.parse({
      credentials: [{ secret: 'gh', host: 'api.github.com', env: 'GITHUB_TOKEN' }],
    });
    expect(config.credentials[0]).toEqual({
      secret: 'gh',
      host: 'api.github.com',
      env: 'GITHUB_TOKEN',
      header: 'Authorization',
      format: 'Bearer {value}',
    });
  });

  it.each([
    [{ host: '*', env: 'T' }, 'host'],
    [{ host: 'a.example', env: 'T', header: 'Bad Header' }, 'header'],
    [{ host: 'a.example', env: 'T', format: 'token' }, 'format'],
    [{ host: 'a.example', env: 'T', format: 'x {value}\nInjected: 1' }, 'format'],
    [{ host: 'a.example', env: 'lower' }, 'env'],
    [{ host: 'a.example', env: 'T', paths: ['/a/../b'] }, 'paths'],
  ])('refuses a malformed binding %j', (binding, key) => {
    const parsed = CredentialBinding.safeParse({ secret: 's', ...binding });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path[0]).toBe(key);
  });

  it('writes values only into the credentials file, with % doubled, and refuses values that would end the line', () => {
    const conf = renderCredentialsConf([rule], ['tok%en'], ['Bearer {value}']);
    expect(conf).toContain('request_header_access Authorization deny aibox_c0\n');
    expect(conf).toContain('request_header_add Authorization "Bearer tok%%en" aibox_c0\n');
    expect(() => renderCredentialsConf([rule], ['a"b'], ['Bearer {value}'])).toThrow(/quote/);
    expect(() => renderCredentialsConf([rule], ['a\nb'], ['Bearer {value}'])).toThrow(/line break/);
    expect(() => renderCredentialsConf([rule], [], [])).toThrow(/no value/);
  });

  it('squid.conf holds the placeholder checks and includes the values file, never a value', () => {
    const conf = renderSquidConf({
      sandboxId: 'sbx_x',
      policy: buildEgressPolicy({ allow: [{ host: 'api.example' }], credentials: [rule] }),
      listen: { address: '127.0.0.1', port: 1 },
      dnsServer: '127.53.0.1',
      dir: '/d',
      instanceToken: '00000000',
      hostNets: ['127.0.0.0/8'],
      tls: { caCert: '/t/ca.pem', caKey: '/t/ca.key', certDb: '/t/db', certgen: '/g', upstreamCaFiles: [] },
    });
    // The bound host is inspected (its TLS terminated) so the header can be rewritten.
    expect(conf).toContain('acl aibox_inspect ssl::server_name api.example\n');
    expect(conf).toContain(`acl aibox_c0_ph req_header Authorization ${placeholder}\n`);
    expect(conf).toContain('acl aibox_c0 all-of aibox_c0_host aibox_c0_ph aibox_c0_paths\n');
    expect(conf).toContain('acl aibox_ph_url url_regex -i aibox-cred-[0-9a-f]{32}\n');
    expect(conf).toContain(
      'http_access deny !CONNECT aibox_placeholder !aibox_bound aibox_why_placeholder\n',
    );
    expect(conf.trimEnd().endsWith('include /d/credentials.conf')).toBe(true);
    expect(conf).not.toContain('request_header_add');
  });
});
