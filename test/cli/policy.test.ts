import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aibox, printedError } from './run-cli.js';

// Offline commands: no daemon, no socket (AIBOX_SOCKET points nowhere to prove it is not used).
const socket = '/nonexistent/aiboxd.sock';

describe('aibox policy eval / test (offline, like opa eval / opa test)', () => {
  let root: string;
  let dir: string;
  let inputs: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'aibox-policy-cli-'));
    dir = path.join(root, 'policy');
    inputs = path.join(root, 'inputs');
    await mkdir(dir);
    await mkdir(inputs);
    await writeFile(
      path.join(dir, 'egress.rego'),
      [
        'package aibox.egress',
        'import rego.v1',
        'default allow := false',
        'allow if input.host in data.allowed_hosts',
        'big := 12345678901234567890',
      ].join('\n'),
    );
    await writeFile(path.join(dir, 'data.json'), JSON.stringify({ allowed_hosts: ['registry.npmjs.org'] }));
    await writeFile(
      path.join(dir, 'egress_test.rego'),
      [
        'package aibox.egress_test',
        'import rego.v1',
        'import data.aibox.egress',
        'test_allowed if egress.allow with input as {"host": "registry.npmjs.org"}',
        'test_denied if not egress.allow with input as {"host": "evil.example"}',
      ].join('\n'),
    );
    await writeFile(path.join(inputs, 'input.json'), JSON.stringify({ host: 'registry.npmjs.org' }));
    await writeFile(path.join(inputs, 'input.yaml'), 'host: evil.example\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('eval prints opa-shaped JSON results by default', async () => {
    const run = await aibox(
      ['policy', 'eval', '-d', dir, '-i', path.join(inputs, 'input.json'), 'data.aibox.egress.allow'],
      {
        socket,
      },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      result: [{ expressions: [{ value: true, text: 'data.aibox.egress.allow' }] }],
    });
  });

  it('eval keeps every digit of big numbers and reads YAML input', async () => {
    const big = await aibox(['policy', 'eval', '-d', dir, 'data.aibox.egress.big'], { socket });
    expect(big.stdout).toContain('12345678901234567890');
    const yaml = await aibox(
      [
        'policy',
        'eval',
        '-d',
        dir,
        '-i',
        path.join(inputs, 'input.yaml'),
        '--format',
        'pretty',
        'data.aibox.egress.allow',
      ],
      { socket },
    );
    expect(yaml.stdout).toBe('false\n');
  });

  it('eval --fail exits 1 on an undefined result, --fail-defined on a defined one', async () => {
    const undef = await aibox(
      ['policy', 'eval', '-d', dir, '--format', 'pretty', '--fail', 'data.aibox.nothing'],
      {
        socket,
      },
    );
    expect(undef).toMatchObject({ code: 1, stdout: 'undefined\n' });
    expect((await aibox(['policy', 'eval', '-d', dir, 'data.aibox.nothing'], { socket })).code).toBe(0);
    expect(
      (await aibox(['policy', 'eval', '-d', dir, '--fail-defined', 'data.aibox.egress.big'], { socket }))
        .code,
    ).toBe(1);
  });

  it('eval reports Rego errors with their location and exits 1', async () => {
    const bad = path.join(dir, 'bad');
    await writeFile(`${bad}.rego`, 'package bad\nallow if {\n');
    try {
      const run = await aibox(
        ['policy', 'eval', '-d', `${bad}.rego`, '--format', 'pretty', 'data.bad.allow'],
        { socket },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^1 error occurred:\n.*bad\.rego:\d+:\d+: rego_parse_error: /);
      const json = await aibox(['policy', 'eval', '-d', `${bad}.rego`, 'data.bad.allow'], { socket });
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).errors[0]).toMatchObject({ code: 'rego_parse_error' });
    } finally {
      await rm(`${bad}.rego`);
    }
  });

  it('eval refuses a missing -d path or malformed input with a code and hint', async () => {
    const missing = await aibox(['policy', 'eval', '-d', path.join(dir, 'nope'), 'data'], { socket });
    expect(missing.code).toBe(1);
    expect(printedError(missing.stderr)).toMatchObject({ code: 'POLICY_FILE_UNREADABLE', hasStack: false });
    await writeFile(path.join(inputs, 'broken.json'), '{not json');
    const broken = await aibox(['policy', 'eval', '-i', path.join(inputs, 'broken.json'), 'input'], {
      socket,
    });
    expect(printedError(broken.stderr).code).toBe('POLICY_INPUT_INVALID');
    await rm(path.join(inputs, 'broken.json'));
  });

  it('test runs test_* rules, -v lists each, exit 0 when all pass', async () => {
    const run = await aibox(['policy', 'test', dir, '-v'], { socket });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/data\.aibox\.egress_test\.test_allowed: PASS/);
    expect(run.stdout).toMatch(/data\.aibox\.egress_test\.test_denied: PASS/);
    expect(run.stdout).toContain('PASS: 2/2');
  });

  it('test exits 1 and shows the failing test; --json gives results and a summary', async () => {
    const failing = path.join(dir, 'failing_test.rego');
    await writeFile(failing, 'package aibox.failing_test\nimport rego.v1\ntest_wrong if 1 == 2\n');
    try {
      const run = await aibox(['policy', 'test', dir], { socket });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/data\.aibox\.failing_test\.test_wrong: FAIL/);
      expect(run.stdout).toContain('FAIL: 1/3');
      const json = await aibox(['policy', 'test', dir, '--json'], { socket });
      expect(JSON.parse(json.stdout).summary).toEqual({ total: 3, pass: 2, fail: 1, error: 0 });
    } finally {
      await rm(failing);
    }
  });

  it('passes the shipped policies/ tests', async () => {
    const run = await aibox(['policy', 'test', path.resolve('policies')], { socket });
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });
});
