/**
 * The MCP gateway end to end, with a real aiboxd and a real gVisor sandbox: `aibox mcp enable mcp-filesystem`, then
 * an MCP client inside the sandbox starts the launcher the agents' configs name. Through the gateway (a loopback
 * listener of the daemon, reached through the sandbox's egress rules) the server — started by the daemon inside the
 * sandbox — answers `initialize` and `tools/list`; an allowed `tools/call` runs, a denied one is answered with a
 * JSON-RPC error carrying the decision id and never reaches the server; both calls are audited with their
 * arguments redacted. A connection without the sandbox's key gets nothing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'mcp-gateway');

/** An MCP client: starts the launcher, sends the requests one by one, prints every answer as one JSON array. */
const CLIENT = `
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def ask(msg):
    p.stdin.write((json.dumps(msg) + "\\n").encode()); p.stdin.flush()
    if "id" not in msg: return None
    while True:
        line = p.stdout.readline()
        if not line: return {"eof": True}
        m = json.loads(line)
        if m.get("id") == msg["id"]: return m
out = [ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})]
ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
out.append(ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
out.append(ask({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/workspace/README.md"}}}))
out.append(ask({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "write_file", "arguments": {"path": "/workspace/planted.txt", "content": "SECRET-CONTENT-42"}}}))
p.stdin.close(); p.wait(timeout=20)
print(json.dumps(out))
`;

/** Connects to the gateway the launcher names, with a wrong key. */
const NO_KEY = `
import re, socket, sys
src = open(sys.argv[1]).read()
host = re.search(r'create_connection\\(\\("([^"]+)", (\\d+)\\)', src)
s = socket.create_connection((host.group(1), int(host.group(2))), timeout=10)
s.sendall(b'{"key": "${'0'.repeat(48)}", "server": "mcp-filesystem"}\\n{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}\\n')
s.shutdown(socket.SHUT_WR)
print(repr(s.recv(4096)))
`;

describe.skipIf(!run)('the MCP gateway in a real gVisor sandbox', () => {
  let daemon: TestDaemon;
  let repo: string;

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-mcp-gateway-'));
    await mkdir(path.join(repo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego(
      'packs',
      [
        'allowed := ["node", "mcp-*"]',
        '',
        'tools := ["mcp-filesystem/*"]',
        '',
        'deny contains msg if {',
        '  input.tool == "write_file"',
        '  msg := "agents do not write files through MCP here"',
        '}',
      ].join('\n'),
    );
    await rego('egress', 'allow_domains := {"registry.npmjs.org"}');
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({ name: 'mcp-gateway', config: { policy: { repo } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await makeProject('mcp'),
      name: 'mcp1',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('relays initialize and tools/list, runs an allowed tools/call, refuses a denied one with its decision id, audits both redacted', async () => {
    const enable = await daemon.cli(['mcp', 'enable', 'mcp-filesystem', '--sandbox', 'mcp1']);
    expect(enable.exitCode, enable.stderr).toBe(0);
    const r = await daemon.exec('mcp1', [
      'timeout',
      '120',
      'python3',
      '-c',
      CLIENT,
      '/opt/aibox/packs/.aibox/bin/mcp-filesystem',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [init, list, read, write] = JSON.parse(r.stdout) as {
      result?: Record<string, unknown>;
      error?: { code: number; message: string; data: { decision: string } };
    }[];
    expect((init!.result!['serverInfo'] as { name: string }).name).toContain('filesystem');
    const tools = (list!.result!['tools'] as { name: string }[]).map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['read_file', 'write_file']));
    expect(JSON.stringify(read!.result)).toContain('# mcp');
    expect(write!.error?.code).toBe(-32001);
    expect(write!.error?.message).toContain('agents do not write files through MCP here');
    const decision = write!.error!.data.decision;
    expect(decision).toMatch(/^dec_[0-9a-f]+$/);
    // Refused before the server: nothing was written.
    const planted = await daemon.exec('mcp1', ['test', '-e', '/workspace/planted.txt']);
    expect(planted.exitCode).not.toBe(0);

    const audit = (await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"pack.mcp.call"'))
      .map((l) => JSON.parse(l) as { sandbox: string; data: Record<string, unknown> });
    expect(audit.map((a) => [a.sandbox, a.data['tool'], a.data['outcome']])).toEqual([
      ['mcp1', 'read_file', 'allow'],
      ['mcp1', 'write_file', 'deny'],
    ]);
    expect(audit[1]!.data['decision']).toBe(decision);
    expect(audit[1]!.data['arguments']).toEqual({
      path: '<string, 22 chars>',
      content: '<string, 17 chars>',
    });
    expect(JSON.stringify(audit)).not.toContain('SECRET-CONTENT-42');
    // The decision is the policy's own, explainable by id.
    const explained = await daemon.cli(['policy', 'explain', '--log-entry', decision]);
    expect(explained.stdout + explained.stderr).toContain('write_file');
  }, 900_000);

  it('keeps serving after a daemon restart: the same port and key, re-opened when the sandbox is adopted', async () => {
    const before = await daemon.exec('mcp1', ['cat', '/opt/aibox/packs/.aibox/bin/mcp-filesystem']);
    await daemon.crash();
    await daemon.restart();
    const after = await daemon.exec('mcp1', ['cat', '/opt/aibox/packs/.aibox/bin/mcp-filesystem']);
    expect(after.stdout).toBe(before.stdout);
    const r = await daemon.exec('mcp1', [
      'timeout',
      '120',
      'python3',
      '-c',
      CLIENT,
      '/opt/aibox/packs/.aibox/bin/mcp-filesystem',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const answers = JSON.parse(r.stdout) as { result?: unknown; error?: { code: number } }[];
    expect(answers[2]!.result).toBeDefined();
    expect(answers[3]!.error?.code).toBe(-32001);
  }, 300_000);

  it('gives nothing to a connection without the sandbox key', async () => {
    const r = await daemon.exec('mcp1', [
      'python3',
      '-c',
      NO_KEY,
      '/opt/aibox/packs/.aibox/bin/mcp-filesystem',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("b''");
  });
});
