import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  McpGateway,
  MCP_DENIED,
  newGatewayKey,
  redactArguments,
  type ServerProcess,
} from '../../src/mcp-gateway/index.js';
import { quietLogger as quiet } from '../support/quiet-logger.js';

/** An in-process MCP server: answers initialize, tools/list and tools/call; records what reached it. */
function fakeServer(seen: unknown[]): ServerProcess {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let resolveExit: (code: number) => void = () => undefined;
  const exit = new Promise<number>((r) => (resolveExit = r));
  let buf = '';
  stdin.setEncoding('utf8');
  stdin.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i)) as { id: number; method: string; params?: { name?: string } };
      buf = buf.slice(i + 1);
      seen.push(msg);
      const result =
        msg.method === 'initialize'
          ? { serverInfo: { name: 'fake', version: '1' }, capabilities: { tools: {} } }
          : msg.method === 'tools/list'
            ? { tools: [{ name: 'read_file' }, { name: 'write_file' }] }
            : { content: [{ type: 'text', text: `ran ${msg.params?.name}` }] };
      stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })}\n`);
    }
  });
  stdin.on('end', () => {
    stdout.end();
    resolveExit(0);
  });
  return { stdin, stdout, exit, signal: async () => void stdin.end() };
}

/** Connects like the launcher does, sends the lines, half-closes, and returns every line the gateway answered. */
async function session(port: number, lines: string[]): Promise<unknown[]> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (text += c));
  for (const l of lines) socket.write(`${l}\n`);
  socket.end();
  await new Promise((r) => socket.once('close', r));
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

const rpc = (id: number, method: string, params: unknown = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

describe('the MCP gateway', () => {
  const gateways: McpGateway[] = [];
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.close();
  });

  async function start(opts: { enabled?: string[] } = {}) {
    const seen: unknown[] = [];
    const audits: { data: Record<string, unknown> }[] = [];
    const spawned: string[][] = [];
    const gateway = new McpGateway({
      bindHost: '127.0.0.1',
      logger: quiet,
      serverArgv: async (id, server) =>
        id === 'sbx_1' && (opts.enabled ?? ['mcp-filesystem']).includes(server)
          ? ['node', `/srv/${server}.js`]
          : undefined,
      spawn: async (_sandbox, argv) => {
        spawned.push(argv);
        return fakeServer(seen);
      },
      decide: async (_sandbox, server, tool) =>
        tool === 'write_file'
          ? {
              allowed: false,
              id: 'dec_0123abcd',
              reason: `org: MCP tool ${server}/${tool} is not in org's packs.tools`,
            }
          : { allowed: true, id: 'dec_allow01', reason: 'allowed' },
      audit: async (e) => void audits.push(e),
    });
    gateways.push(gateway);
    const key = newGatewayKey();
    const port = await gateway.openFor({ sandboxId: 'sbx_1', sandbox: 'web', key });
    return { gateway, port, key, seen, audits, spawned };
  }

  it('relays initialize and tools/list, forwards an allowed call, refuses a denied one with the decision id, audits both redacted', async () => {
    const { port, key, seen, audits, spawned } = await start();
    const answers = (await session(port, [
      JSON.stringify({ key, server: 'mcp-filesystem' }),
      rpc(1, 'initialize', { protocolVersion: '2024-11-05', capabilities: {} }),
      rpc(2, 'tools/list'),
      rpc(3, 'tools/call', { name: 'read_file', arguments: { path: '/workspace/secret.txt' } }),
      rpc(4, 'tools/call', { name: 'write_file', arguments: { path: '/workspace/a', content: 'TOKEN=abc' } }),
    ])) as {
      id: number;
      result?: unknown;
      error?: { code: number; message: string; data: { decision: string } };
    }[];
    expect(spawned).toEqual([['node', '/srv/mcp-filesystem.js']]);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(1)?.result).toMatchObject({ serverInfo: { name: 'fake' } });
    expect(byId.get(2)?.result).toMatchObject({ tools: [{ name: 'read_file' }, { name: 'write_file' }] });
    expect(byId.get(3)?.result).toMatchObject({ content: [{ text: 'ran read_file' }] });
    expect(byId.get(4)?.error?.code).toBe(MCP_DENIED);
    expect(byId.get(4)?.error?.data.decision).toBe('dec_0123abcd');
    expect(byId.get(4)?.error?.message).toContain('aibox policy explain --log-entry dec_0123abcd');
    // The denied call never reached the server.
    expect((seen as { id: number }[]).map((m) => m.id)).toEqual([1, 2, 3]);
    expect(audits.map((a) => [a.data['tool'], a.data['outcome'], a.data['decision']])).toEqual([
      ['read_file', 'allow', 'dec_allow01'],
      ['write_file', 'deny', 'dec_0123abcd'],
    ]);
    expect(audits[1]!.data['arguments']).toEqual({
      path: '<string, 12 chars>',
      content: '<string, 9 chars>',
    });
    expect(JSON.stringify(audits)).not.toContain('TOKEN=abc');
    expect(JSON.stringify(audits)).not.toContain('secret.txt');
  });

  it('refuses a connection without the sandbox key (nothing started) and a server not enabled there', async () => {
    const { port, spawned } = await start();
    expect(
      await session(port, [
        JSON.stringify({ key: 'x'.repeat(48), server: 'mcp-filesystem' }),
        rpc(1, 'initialize'),
      ]),
    ).toEqual([]);
    expect(await session(port, ['not json', rpc(1, 'initialize')])).toEqual([]);
    const { key } = await start();
    const other = gateways.at(-1)!;
    const notEnabled = (await session(other.portOf('sbx_1')!, [
      JSON.stringify({ key, server: 'mcp-git' }),
    ])) as {
      error: { code: number; message: string };
    }[];
    expect(notEnabled[0]!.error.code).toBe(-32601);
    expect(notEnabled[0]!.error.message).toContain('not enabled');
    expect(spawned).toEqual([]);
  });

  it('answers a line that is not JSON, refuses a batch holding a tool call, and re-serializes what it forwards', async () => {
    const { port, key, seen } = await start();
    const answers = await session(port, [
      JSON.stringify({ key, server: 'mcp-filesystem' }),
      '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"',
      `[${rpc(2, 'tools/call', { name: 'read_file' })}, ${rpc(3, 'tools/list')}]`,
      // Duplicate keys: the gateway decides on what JSON.parse keeps, and forwards exactly that.
      '{"jsonrpc": "2.0", "id": 4, "method": "tools/list", "method": "tools/call", "params": {"name": "write_file"}}',
    ]);
    expect(answers[0]).toMatchObject({ id: null, error: { code: -32700 } });
    expect(answers[1]).toEqual([
      expect.objectContaining({ id: 2, error: expect.objectContaining({ code: -32600 }) }),
      expect.objectContaining({ id: 3, error: expect.objectContaining({ code: -32600 }) }),
    ]);
    expect(answers[2]).toMatchObject({ id: 4, error: { code: MCP_DENIED } });
    expect(seen).toEqual([]);
  });

  it('closes a sandbox listener with its connections', async () => {
    const { gateway, port } = await start();
    await gateway.closeFor('sbx_1');
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('connect', () => resolve('connected'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('redacting tool arguments', () => {
  it('keeps keys and shapes, never values, bounded in depth and width', () => {
    expect(redactArguments({ a: 'xyz', n: 3, b: true, z: null, list: [1, 'ab'] })).toEqual({
      a: '<string, 3 chars>',
      n: '<number>',
      b: '<boolean>',
      z: null,
      list: ['<number>', '<string, 2 chars>'],
    });
    expect(redactArguments({ a: { b: { c: { d: 'deep' } } } })).toEqual({ a: { b: { c: '<object>' } } });
    expect((redactArguments(Array.from({ length: 15 }, () => 'v')) as unknown[]).at(-1)).toBe('<5 more>');
  });
});
