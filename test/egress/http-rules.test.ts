import { describe, expect, it } from 'vitest';
import { pathGlobProblem, pathGlobRegex } from '../../src/policy/doors/egress.js';
import { buildEgressPolicy, renderSquidConf } from '../../src/egress/index.js';
import { MemorySource, newStore } from '../policy/helpers.js';

const matches = (glob: string, path: string) => new RegExp(pathGlobRegex(glob)).test(path);

describe('method/path rules: path globs', () => {
  it('matches ** across segments, * inside one, and any query string after the path', () => {
    expect(matches('/repos/**', '/repos')).toBe(true);
    expect(matches('/repos/**', '/repos/a/b/c?x=1')).toBe(true);
    expect(matches('/repos/**', '/reposx')).toBe(false);
    expect(matches('/repos/*/issues', '/repos/aibox/issues')).toBe(true);
    expect(matches('/repos/*/issues', '/repos/a/b/issues')).toBe(false);
    expect(matches('/user', '/user?tab=1')).toBe(true);
    expect(matches('/user', '/user/keys')).toBe(false);
    expect(matches('/**', '/anything/at/all')).toBe(true);
    // Regex characters in a glob are literal.
    expect(matches('/v1.0/(x)+', '/v1.0/(x)+')).toBe(true);
    expect(matches('/v1.0/(x)+', '/v1x0/xx')).toBe(false);
  });

  it.each([
    ['repos/**', 'starts with /'],
    ['/a/../b', 'no . or .. segments'],
    ['/a/./b', 'no . or .. segments'],
    ['/a b', 'not allowed'],
    ['/a?b=1', 'not allowed'],
    ['/a#frag', 'not allowed'],
    ['/a\\b', 'not allowed'],
    ['/***', 'at most two *'],
    ['/%zz', 'percent-encoded'],
  ])('refuses the glob %s (%s)', (glob, why) => {
    expect(pathGlobProblem(glob)).toContain(why);
  });
});

describe('method/path rules: loading', () => {
  const ORG = {
    'org/egress.rego': `package aibox.org.egress

import rego.v1

allow_domains := {"api.example", "registry.example"}

allow_http := [{"host": "api.example", "methods": ["GET", "POST"]}]
`,
  };

  const attach = async (project: string) => {
    const store = newStore(new MemorySource(ORG, { '/p': project }));
    expect(await store.reloadRepo()).toEqual({ ok: true });
    return { store, set: await store.attach({ id: 'sbx_1', name: 'p', path: '/p' }) };
  };

  it.each([
    ['a bad method', 'methods: [GET, FETCH]', 'aibox/policy.yaml:4', '"FETCH": not an HTTP method'],
    ['a bad path glob', 'paths: ["/a/../b"]', 'aibox/policy.yaml:4', 'no . or .. segments'],
    ['a bad host pattern', null, 'aibox/policy.yaml:4', '"*"'],
  ])('refuses %s in network.http with file:line', async (_what, extra, where, message) => {
    const text = [
      'network:',
      '  http:',
      '    - host: api.example',
      ...(extra ? [`      ${extra}`] : ['    - host: "*"']),
      ...(extra ? [] : ['']),
      '',
    ].join('\n');
    const err = await attach(text).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_PROJECT_INVALID' });
    expect((err as Error).message).toContain(where);
    expect((err as Error).message).toContain(message);
  });

  it('refuses a malformed allow_http rule in a Rego layer, naming the rule', async () => {
    const store = newStore(
      new MemorySource(
        {
          'org/egress.rego': `package aibox.org.egress

import rego.v1

allow_domains := {"api.example"}

allow_http := [{"host": "api.example", "methods": ["GRAB"]}]
`,
        },
        { '/p': '' },
      ),
    );
    const loaded = await store.reloadRepo();
    const err = loaded.ok
      ? await store.attach({ id: 'sbx_1', name: 'p', path: '/p' }).catch((e: unknown) => e)
      : loaded;
    console.log(JSON.stringify(err), (err as Error).message);
    expect(JSON.stringify(err)).toMatch(/GRAB/);
    expect(JSON.stringify(err)).toMatch(/org\/egress\.rego:7|egress\.allow_http/);
  });

  it('composes layers tighten-only: a request must pass every layer that names its host', async () => {
    const { store, set } = await attach(
      'network:\n  http:\n    - host: api.example\n      methods: [GET]\n      paths: ["/repos/**"]\n',
    );
    expect(set.effective.egress.allowHttp.map((s) => s.layer)).toEqual(['org', 'project']);
    const decide = (method: string, path: string, host = 'api.example') =>
      store.decide('egress', { host, port: 443, method, path }, 'p');
    expect((await decide('GET', '/repos/x')).outcome).toBe('allow');
    // The org allows POST, the project does not.
    const post = await decide('POST', '/repos/x');
    expect(post.outcome).toBe('deny');
    expect(post.layers.find((l) => l.layer === 'project')?.verdict).toBe('deny');
    expect(post.layers.find((l) => l.layer === 'org')?.verdict).toBe('allow');
    // Neither allows HEAD (a project rule wider than the org's is refused at load: test/policy/http-tighten-only.test.ts).
    expect((await decide('HEAD', '/repos/x')).outcome).toBe('deny');
    expect((await decide('GET', '/gists')).outcome).toBe('deny');
    // A host no rule names is not limited by method or path.
    expect((await decide('PUT', '/anything', 'registry.example')).outcome).toBe('allow');
  });
});

describe('method/path rules: the proxy configuration', () => {
  const render = (http: Parameters<typeof buildEgressPolicy>[0]['http']) =>
    renderSquidConf({
      sandboxId: 'sbx_x',
      policy: buildEgressPolicy({ allow: [{ host: 'api.example' }, { host: 'plain.example' }], http }),
      listen: { address: '127.0.0.1', port: 1 },
      dnsServer: '127.53.0.1',
      dir: '/d',
      instanceToken: '00000000',
      hostNets: ['127.0.0.0/8'],
      tls: { caCert: '/t/ca.pem', caKey: '/t/ca.key', certDb: '/t/db', certgen: '/g', upstreamCaFiles: [] },
    });
  const lines = (conf: string, prefix: string) => conf.split('\n').filter((l) => l.startsWith(prefix));

  it('without rules: every CONNECT is peeked and SNI-checked, nothing is bumped', () => {
    const conf = render([]);
    expect(lines(conf, 'ssl_bump ')).toEqual([
      'ssl_bump peek aibox_step1',
      'ssl_bump terminate aibox_step2 !aibox_sni_match',
      'ssl_bump splice all',
    ]);
    expect(conf).toContain('on_unsupported_protocol respond all');
  });

  it('bumps exactly the hosts rules name, and checks their requests before any allow line', () => {
    const conf = render([
      {
        layer: 'project',
        at: 'aibox/policy.yaml:3',
        rules: [{ host: 'api.example', methods: ['GET'], index: 0 }],
      },
    ]);
    expect(conf).toContain('acl aibox_inspect ssl::server_name api.example\n');
    // Inspected hosts are bumped before the peek (client-first); the rest are peeked, SNI-checked and spliced.
    expect(lines(conf, 'ssl_bump ')).toEqual([
      'ssl_bump bump aibox_step1 aibox_inspect',
      'ssl_bump peek aibox_step1',
      'ssl_bump terminate aibox_step2 !aibox_sni_match',
      'ssl_bump splice all',
    ]);
    const access = lines(conf, 'http_access ');
    // Inside a bumped connection, only requests to inspected hosts (TLS is never terminated for another host).
    expect(access).toContain(
      'http_access deny !CONNECT aibox_encrypted !aibox_inspected_host aibox_why_fronting',
    );
    const check = access.indexOf('http_access deny !CONNECT aibox_h0_hosts !aibox_h0_ok aibox_why_http_0');
    const fronting = access.findIndex((l) => l.includes('aibox_why_fronting'));
    const firstAllow = access.findIndex((l) => l.startsWith('http_access allow'));
    expect(fronting).toBeGreaterThan(-1);
    expect(fronting).toBeLessThan(check);
    expect(check).toBeLessThan(firstAllow);
  });
});
