import { describe, expect, it } from 'vitest';
import {
  LearnRecorder,
  proposeProjectPolicy,
  unifiedDiff,
  type LearnedHost,
} from '../../src/proposals/index.js';

const host = (h: string, more: Partial<LearnedHost> = {}): LearnedHost => ({
  host: h,
  ports: [443],
  methods: [],
  paths: [],
  count: 1,
  allowedBefore: false,
  ...more,
});

describe('proposeProjectPolicy', () => {
  it('creates network.allow with exactly the hosts used when the project file has none', () => {
    const { proposed, diff } = proposeProjectPolicy('# mine\ncommands:\n  deny: [rm]\n', [
      host('registry.npmjs.org'),
      host('evil.example', { forbiddenBy: 'org: no' }),
    ]);
    expect(proposed).toBe('# mine\ncommands:\n  deny: [rm]\nnetwork:\n  allow:\n    - registry.npmjs.org\n');
    expect(diff).toContain('+network:');
    expect(diff).not.toContain('evil.example');
  });

  it('writes a new file when there is none, and nothing when nothing was used', () => {
    expect(proposeProjectPolicy(undefined, [host('a.example')]).proposed).toBe(
      'network:\n  allow:\n    - a.example\n',
    );
    expect(proposeProjectPolicy('network:\n  allow: [a.example]\n', []).diff).toBe('');
  });

  it('adds missing hosts and ports to existing lists, keeping what covers the rest', () => {
    const current = 'network:\n  allow:\n    - "*.example.org" # all of it\n  ports: [443]\n';
    const { proposed, diff } = proposeProjectPolicy(current, [
      host('api.example.org'),
      host('b.example', { ports: [443, 8443] }),
    ]);
    expect(proposed).toBe(
      'network:\n  allow:\n    - "*.example.org" # all of it\n    - b.example\n  ports: [443, 8443]\n',
    );
    expect(diff).toBe(
      [
        '--- a/aibox/policy.yaml',
        '+++ b/aibox/policy.yaml',
        '@@ -1,4 +1,5 @@',
        ' network:',
        '   allow:',
        '     - "*.example.org" # all of it',
        '-  ports: [443]',
        '+    - b.example',
        '+  ports: [443, 8443]',
        '',
      ].join('\n'),
    );
  });

  it('adds a rule per method with the exact paths used where network.http narrows a host, and only there', () => {
    const current = [
      'network:',
      '  allow: [api.example, plain.example]',
      '  http:',
      '    - {host: api.example, methods: [GET], paths: ["/repos/**"]}',
      '',
    ].join('\n');
    const requests = new Map([
      [
        'api.example',
        [
          { method: 'GET', path: '/repos/a' }, // already allowed
          { method: 'GET', path: '/user' },
          { method: 'POST', path: '/repos/a/issues' },
          { method: 'POST', path: '/repos/b/issues' },
          { method: 'GET', path: '/odd*path' }, // a literal * would be a glob: left out
        ],
      ],
      ['plain.example', [{ method: 'DELETE', path: '/x' }]], // no rules for it: every method already allowed
    ]);
    const { proposed } = proposeProjectPolicy(
      current,
      [host('api.example'), host('plain.example')],
      requests,
    );
    expect(proposed).toBe(
      [
        'network:',
        '  allow: [api.example, plain.example]',
        '  http:',
        '    - {host: api.example, methods: [GET], paths: ["/repos/**"]}',
        '    - {host: api.example, methods: [GET], paths: [/user]}',
        '    - {host: api.example, methods: [POST], paths: [/repos/a/issues, /repos/b/issues]}',
        '',
      ].join('\n'),
    );
    expect(proposeProjectPolicy(current, [host('api.example')], new Map()).diff).toBe('');
  });

  it('refuses a current file that does not parse', () => {
    expect(() => proposeProjectPolicy('network: [', [host('a.example')])).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_PROJECT_INVALID' }),
    );
  });
});

describe('LearnRecorder', () => {
  it('keeps host names only, per host the ports, methods and paths, and says which refusal is new', () => {
    const r = new LearnRecorder('sbx_1');
    const d = (
      target: string,
      verdict: 'allow' | 'deny',
      kind = 'GET',
      layer: 'dns' | 'proxy' = 'proxy',
    ) => ({
      sandboxId: 'sbx_1',
      layer,
      verdict,
      target,
      kind,
    });
    expect(r.record(d('a.example', 'deny', 'A', 'dns'))).toBeUndefined();
    expect(r.record(d('http://a.example/x?q=1', 'deny'))).toEqual({ host: 'a.example', port: 80 });
    expect(r.record(d('http://a.example/y', 'deny'))).toBeUndefined();
    expect(r.record(d('a.example:8443', 'allow', 'CONNECT'))).toBeUndefined();
    expect(r.record(d('a.example', 'deny', 'TXT', 'dns'))).toBeUndefined();
    expect(r.record(d('http://127.0.0.1/', 'deny'))).toBeUndefined();
    expect(r.record(d('http://[::1]/', 'deny'))).toBeUndefined();
    expect(r.record({ ...d('http://b.example/', 'deny'), sandboxId: 'sbx_2' })).toBeUndefined();
    expect(r.requests()).toEqual(new Map([['a.example', []]]));
    expect(r.report(() => undefined)).toEqual([
      {
        host: 'a.example',
        ports: [80, 8443],
        methods: ['CONNECT', 'GET'],
        paths: ['/x', '/y'],
        count: 4,
        allowedBefore: false,
      },
    ]);
  });

  it('keeps the allowed requests that carry a method and a path, for network.http rules', () => {
    const r = new LearnRecorder('sbx_1');
    const d = (target: string, verdict: 'allow' | 'deny', kind: string) => ({
      sandboxId: 'sbx_1',
      layer: 'proxy' as const,
      verdict,
      target,
      kind,
    });
    r.record(d('a.example:8443', 'allow', 'CONNECT'));
    r.record(d('https://a.example:8443/api/v1?x=1', 'allow', 'POST'));
    r.record(d('https://a.example:8443/api/v1', 'allow', 'POST'));
    r.record(d('https://a.example:8443/api/v2', 'deny', 'PUT'));
    // Not the tunnel, not the refusal, each request once.
    expect(r.requests().get('a.example')).toEqual([{ method: 'POST', path: '/api/v1' }]);
  });
});

describe('unifiedDiff', () => {
  it('is empty for equal texts and shows separate hunks for distant changes', () => {
    expect(unifiedDiff('a\n', 'a\n', 'f')).toBe('');
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n';
    const b = a.replace('l1\n', 'L1\n').replace('l18\n', 'L18\n');
    const diff = unifiedDiff(a, b, 'f');
    expect(diff.match(/^@@/gm)).toHaveLength(2);
    expect(diff).toContain('-l1\n+L1\n');
    expect(diff).toContain('-l18\n+L18\n');
  });
});
