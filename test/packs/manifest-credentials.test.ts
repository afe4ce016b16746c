import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PackRegistry, parseManifest } from '../../src/packs/index.js';

const REGISTRY = fileURLToPath(new URL('../../pack-registry', import.meta.url));

const pack = (credentials: string, extra = '') => `name: demo
description: a demo pack
default: "1"
versions:
  "1":
    sources:
      debian:
        packages: [jq]
    egress: [registry.example.com, mirror.example.com:8443]
${extra}    credentials:
${credentials}    smoke: [jq, --version]
`;

describe('pack manifests: credential bindings', () => {
  it('accepts a binding toward one of the egress needs and fills header, format and required', () => {
    const { manifest, problems } = parseManifest(
      'demo.yaml',
      pack('      - secret: demo-token\n        host: mirror.example.com\n        env: DEMO_TOKEN\n'),
    );
    expect(problems).toEqual([]);
    expect(manifest?.versions['1']?.credentials).toEqual([
      {
        secret: 'demo-token',
        host: 'mirror.example.com',
        header: 'Authorization',
        format: 'Bearer {value}',
        env: 'DEMO_TOKEN',
        required: false,
      },
    ]);
  });

  it('refuses a host the pack does not reach, at the line of the host', () => {
    const { manifest, problems } = parseManifest(
      'demo.yaml',
      pack('      - secret: demo-token\n        host: evil.example.org\n        env: DEMO_TOKEN\n'),
    );
    expect(manifest).toBeUndefined();
    expect(problems).toEqual([
      {
        file: 'demo.yaml',
        line: 12,
        message: expect.stringMatching(
          /credentials\.0\.host: evil\.example\.org is not one of this version's egress needs/,
        ),
      },
    ]);
  });

  it('refuses a wildcard host, a format without {value} or with a line break, and a bad path glob', () => {
    const bad = [
      '      - secret: a\n        host: "*.example.com"\n        env: A\n',
      '      - secret: a\n        host: registry.example.com\n        env: A\n        format: "Bearer"\n',
      '      - secret: a\n        host: registry.example.com\n        env: A\n        format: "x\\n{value}"\n',
      '      - secret: a\n        host: registry.example.com\n        env: A\n        paths: ["/a/../b"]\n',
      '      - secret: "a b"\n        host: registry.example.com\n        env: A\n',
      '      - secret: a\n        host: registry.example.com\n        env: lower\n',
      '      - secret: a\n        host: registry.example.com\n        env: A\n        value: plain\n',
    ];
    for (const c of bad) {
      const { manifest, problems } = parseManifest('demo.yaml', pack(c));
      expect(manifest, c).toBeUndefined();
      expect(problems[0]?.message, c).toMatch(/^versions\.1\.credentials\.0/);
      expect(problems[0]?.line, c).toBeGreaterThanOrEqual(11);
    }
  });

  it("refuses a placeholder variable used twice or shadowing the pack's env", () => {
    const twice = parseManifest(
      'demo.yaml',
      pack(
        '      - secret: a\n        host: registry.example.com\n        env: T\n' +
          '      - secret: b\n        host: mirror.example.com\n        env: T\n',
      ),
    );
    expect(twice.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      expect.stringMatching(/^16: versions\.1\.credentials\.1\.env: T is used twice/),
    ]);
    const shadow = parseManifest(
      'demo.yaml',
      pack(
        '      - secret: a\n        host: registry.example.com\n        env: DEMO_HOME\n',
        '    env: {DEMO_HOME: /x}\n',
      ),
    );
    expect(shadow.problems[0]?.message).toContain('DEMO_HOME is used twice');
  });

  it('the shipped maven pack declares its mirror token as a binding toward its repository host', async () => {
    const registry = await PackRegistry.load(REGISTRY);
    expect(registry.problems.filter((p) => path.basename(p.file) === 'maven.yaml')).toEqual([]);
    const maven = registry.resolve('maven');
    expect(maven.spec.credentials).toEqual([
      {
        secret: 'maven-mirror-token',
        host: 'repo.maven.apache.org',
        header: 'Authorization',
        format: 'Bearer {value}',
        env: 'MAVEN_MIRROR_TOKEN',
        required: false,
      },
    ]);
    expect(maven.spec.egress).toContain('repo.maven.apache.org');
  });
});
