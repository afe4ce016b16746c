/**
 * The in-sandbox exec agent, end to end in a real gVisor sandbox: what a command is (uid, capabilities,
 * no_new_privs, seccomp, RLIMIT_NPROC) and what it cannot do to the agent; the protocol's features through a
 * direct channel (terminals, stdin, backpressure, timeouts, signals, process list/kill); the daemon re-establishing
 * the channel (after another connection took it, after a daemon restart) or failing the sandbox closed when it
 * cannot; and no host process left behind by 1,000 execs or by `rm`.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { AgentChannel } from '../../src/runtime/agent-channel.js';
import type { SpawnRequest } from '../../src/runtime/agent-protocol.js';

const run = requireHost(sandboxHostSupport(), 'exec agent integration');

/**
 * Host processes of this daemon's sandboxes' plumbing: conmon, gVisor (runsc sandbox and gofer), slirp4netns and
 * whatever else names a path in the daemon's own directory. Counted by that directory, not host-wide: other
 * daemons on this host come and go while the test runs.
 */
async function plumbing(dir: string): Promise<{ conmon: number; all: number }> {
  await new Promise((r) => setTimeout(r, 1000));
  let conmon = 0;
  let all = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (!cmdline.includes(dir)) continue;
    all += 1;
    if (cmdline.startsWith('/usr/bin/conmon ')) conmon += 1;
  }
  return { conmon, all };
}

describe.runIf(run)('the exec agent', () => {
  let daemon: TestDaemon;
  let project: string;
  let sandboxId: string;
  let before: { conmon: number; all: number };
  const name = 'agent';
  const socketPath = () => path.join(daemon.stateDir, 'agents', sandboxId, 'agent.sock');
  const spawn = (overrides: Partial<SpawnRequest>): SpawnRequest => ({
    argv: ['true'],
    env: {},
    workdir: '/workspace',
    tty: false,
    stdin: false,
    cols: 80,
    rows: 24,
    timeoutMs: 0,
    uid: 1001,
    gid: 1001,
    maxProcesses: 100,
    ...overrides,
  });
  const collect = (s: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    return () => Buffer.concat(chunks).toString('utf8');
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'exec-agent' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('exec-agent');
    before = await plumbing(daemon.dir);
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: project,
      name,
      profile: 'session',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    sandboxId = created.body.id;
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('runs commands as the sandbox user with no capabilities, no_new_privs, seccomp and RLIMIT_NPROC', async () => {
    const r = await daemon.exec(name, [
      'python3',
      '-c',
      [
        'import ctypes, os, resource',
        'print("ids", os.getuid(), os.geteuid(), os.getgid(), os.getgroups())',
        's = open("/proc/self/status").read()',
        'print([l for l in s.splitlines() if l.startswith(("Cap", "Seccomp"))])',
        'print("nnp", ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))',
        'print("nproc", resource.getrlimit(resource.RLIMIT_NPROC))',
      ].join('\n'),
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('ids 1001 1001 1001 [1001]');
    // (gVisor's /proc/self/status has no CapAmb line.)
    for (const cap of ['CapInh', 'CapPrm', 'CapEff']) {
      expect(r.stdout).toMatch(new RegExp(`${cap}:\\\\t0000000000000000`));
    }
    // The bounding set is the agent's (SETGID, SETUID, KILL: 0xe0); nothing can be gained from it under
    // no_new_privs, and dropping it would need CAP_SETPCAP, which the agent does not have.
    expect(r.stdout).toMatch(/CapBnd:\\t00000000000000e0/);
    expect(r.stdout).toMatch(/Seccomp:\\t2/);
    expect(r.stdout).toContain('nnp 1');
    expect(r.stdout).toContain('nproc (100, 100)');
  });

  it('keeps the agent out of reach: another uid, no signal, no ptrace, no socket', async () => {
    const r = await daemon.exec(name, [
      'python3',
      '-c',
      [
        'import ctypes, os, signal, socket',
        'print("agent uid", [l for l in open("/proc/1/status").read().splitlines() if l.startswith("Uid:")])',
        'for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP, 0):',
        '    try:',
        '        os.kill(1, sig); print("signal", int(sig), "sent")',
        '    except OSError as e:',
        '        print("signal", int(sig), e.errno)',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())',
        'try:',
        '    open("/proc/1/mem", "rb").read(1); print("mem read")',
        'except OSError as e:',
        '    print("mem", e.errno)',
        'try:',
        '    os.listdir("/run/aibox-agent"); print("dir listed")',
        'except OSError as e:',
        '    print("dir", e.errno)',
        's = socket.socket(socket.AF_UNIX)',
        'try:',
        '    s.connect("/run/aibox-agent/agent.sock"); print("connected")',
        'except OSError as e:',
        '    print("connect", e.errno)',
      ].join('\n'),
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/agent uid \['Uid:\\t0\\t0\\t0\\t0'\]/);
    for (const sig of [15, 9, 19, 0]) expect(r.stdout).toContain(`signal ${sig} 1`); // EPERM
    expect(r.stdout).toMatch(/ptrace -1 1\n/); // EPERM (refused by seccomp too)
    expect(r.stdout).not.toContain('mem read');
    expect(r.stdout).toContain('dir 13'); // EACCES
    expect(r.stdout).toContain('connect 13');
    expect(r.stdout).not.toContain('sent');
  });

  it('answers 127 for a command that does not exist, like a shell', async () => {
    const r = await daemon.exec(name, ['no-such-command-here']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('no-such-command-here');
  });

  it('streams stdin, stdout and stderr separately, with backpressure, through a direct channel', async () => {
    const ch = await AgentChannel.connect(socketPath(), 5000);
    try {
      const cmd = await ch.spawn(spawn({ argv: ['sh', '-c', 'wc -c; echo err >&2; exit 3'], stdin: true }));
      const out = collect(cmd.stdout);
      const err = collect(cmd.stderr);
      const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
      cmd.stdin.end(big);
      const exit = await cmd.exit;
      expect(exit).toEqual({ code: 3, signal: undefined, timedOut: false });
      expect(out().trim()).toBe(String(big.length));
      expect(err()).toBe('err\n');

      // A reader that does not read holds the command: it blocks writing once the window is full.
      const slow = await ch.spawn(spawn({ argv: ['sh', '-c', 'head -c 4000000 /dev/zero; echo done >&2'] }));
      const slowErr = collect(slow.stderr);
      await new Promise((r) => setTimeout(r, 1500));
      expect(slowErr()).toBe('');
      expect(slow.stdout.readableLength).toBeLessThanOrEqual(1024 * 1024);
      let total = 0;
      slow.stdout.on('data', (c: Buffer) => (total += c.length));
      expect((await slow.exit).code).toBe(0);
      expect(total).toBe(4_000_000);
      expect(slowErr()).toBe('done\n');
    } finally {
      ch.close();
    }
  });

  it('makes terminals inside, resizes them, and kills the whole process group on timeout or signal', async () => {
    const ch = await AgentChannel.connect(socketPath(), 5000);
    try {
      const tty = await ch.spawn(
        spawn({
          argv: ['sh', '-c', 'tty; stty size; read x; stty size'],
          tty: true,
          stdin: true,
          cols: 100,
          rows: 30,
        }),
      );
      const out = collect(tty.stdout);
      await new Promise((r) => setTimeout(r, 500));
      await tty.resize(120, 40);
      tty.stdin.write('go\n');
      expect((await tty.exit).code).toBe(0);
      expect(out()).toMatch(/\/dev\/pts\/\d+/);
      expect(out()).toContain('30 100');
      expect(out()).toContain('40 120');

      const began = Date.now();
      const slow = await ch.spawn(
        spawn({ argv: ['sh', '-c', 'sleep 60 & sleep 60; echo never'], timeoutMs: 1000 }),
      );
      const slowOut = collect(slow.stdout);
      const timed = await slow.exit;
      expect(timed).toEqual({ code: 137, signal: 'KILL', timedOut: true });
      expect(Date.now() - began).toBeLessThan(10_000);
      expect(slowOut()).toBe('');
      // The background sleep was in the group: nothing of it is left.
      const left = await ch.processes();
      expect(left.filter((p) => p.cmd.startsWith('sleep 60'))).toEqual([]);

      const term = await ch.spawn(spawn({ argv: ['sleep', '60'] }));
      await term.signal('TERM');
      expect(await term.exit).toEqual({ code: 143, signal: 'TERM', timedOut: false });
    } finally {
      ch.close();
    }
  });

  it('lists the sandbox processes and kills one, but never the agent or a root process', async () => {
    const ch = await AgentChannel.connect(socketPath(), 5000);
    try {
      const bg = await ch.spawn(spawn({ argv: ['sleep', '300'] }));
      const pid = await bg.pid;
      // The pid is known as soon as the command is handed over; it becomes `sleep` as the sandbox user a moment later.
      let list = await ch.processes();
      for (let i = 0; i < 40 && list.find((p) => p.pid === pid)?.cmd !== 'sleep 300'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        list = await ch.processes();
      }
      const mine = list.find((p) => p.pid === pid);
      expect(mine).toMatchObject({ uid: 1001, cmd: 'sleep 300' });
      expect(list.some((p) => p.pid === ch.agentPid)).toBe(false);
      await expect(ch.kill(ch.agentPid, 'KILL')).rejects.toThrow(/cannot signal|cannot send/);
      await ch.kill(pid, 'KILL');
      expect((await bg.exit).code).toBe(137);
      await expect(ch.kill(pid, 'KILL')).rejects.toMatchObject({ code: 'RUNTIME_PROCESS_NOT_FOUND' });
    } finally {
      ch.close();
    }
  });

  it('runs 30 commands sent at once to completion, each with its own exit code, and reaps them all', async () => {
    const ch = await AgentChannel.connect(socketPath(), 5000);
    try {
      const started = await Promise.all(
        Array.from({ length: 30 }, (_, i) => ch.spawn(spawn({ argv: ['sh', '-c', `exit ${i % 7}`] }))),
      );
      const codes = await Promise.all(started.map(async (c) => (await c.exit).code));
      expect(codes).toEqual(Array.from({ length: 30 }, (_, i) => i % 7));
      const left = (await ch.processes()).filter((p) => p.state === 'Z');
      expect(left).toEqual([]);
    } finally {
      ch.close();
    }
  }, 60_000);

  it('starts the next warm process once a command has had time to exec, even while it still runs', async () => {
    const ch = await AgentChannel.connect(socketPath(), 5000);
    const warm = async () =>
      (await ch.processes()).filter((p) => p.uid === 0 && p.cmd.includes('aibox-exec --warm')).length;
    const waitForWarm = async (ms: number) => {
      const until = Date.now() + ms;
      let n = await warm();
      while (n === 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 25));
        n = await warm();
      }
      return n;
    };
    try {
      expect(await waitForWarm(5000)).toBe(1); // the idle agent has one ready
      const long = await ch.spawn(spawn({ argv: ['sleep', '300'] }));
      await long.pid; // handed to the warm process: none is left until the refill
      expect(await waitForWarm(5000)).toBe(1); // refilled while `sleep` still runs
      const short = await ch.spawn(spawn({ argv: ['true'] }));
      expect((await short.exit).code).toBe(0);
      expect(await waitForWarm(5000)).toBe(1);
      await ch.kill(await long.pid, 'KILL');
      expect((await long.exit).code).toBe(137);
    } finally {
      ch.close();
    }
  });

  it('re-establishes the daemon channel after another connection took it, and after a daemon restart', async () => {
    // The direct channels above replaced the daemon's connection each time: the daemon reconnected on demand.
    expect((await daemon.exec(name, ['echo', 'back'])).stdout).toBe('back\n');
    await daemon.crash();
    await daemon.restart();
    const r = await daemon.exec(name, ['sh', '-c', 'echo adopted; exit 7']);
    expect(r).toMatchObject({ exitCode: 7, stdout: 'adopted\n' });
  }, 60_000);

  it('leaves no host process behind after 1,000 sequential execs', async () => {
    const start = await plumbing(daemon.dir);
    for (let i = 0; i < 1000; i++) {
      const r = await daemon.exec(name, ['true']);
      if (r.exitCode !== 0) throw new Error(`exec ${i}: ${JSON.stringify(r)}`);
    }
    const end = await plumbing(daemon.dir);
    expect(start.conmon).toBeGreaterThan(0); // the sandbox's own conmon: the count sees what it should
    expect(end.conmon - start.conmon).toBe(0);
    expect(end.all - start.all).toBe(0);
  }, 300_000);

  it('fails the sandbox closed when its agent cannot be reached, with a clear error', async () => {
    // Take the socket away and drop the daemon's connection: the daemon cannot reconnect.
    const ch = await AgentChannel.connect(socketPath(), 5000);
    await rm(socketPath());
    ch.close();
    const a = await daemon.api<{ error: { code: string; message: string } }>(
      'POST',
      `/v1/sandboxes/${name}/exec`,
      { cmd: ['true'] },
    );
    // The agent's error, or (once the daemon has stopped the sandbox) the sandbox's: never a silent fallback.
    expect([503, 409]).toContain(a.status);
    expect(['RUNTIME_AGENT_UNAVAILABLE', 'SANDBOX_NOT_RUNNING']).toContain(a.body.error.code);
    let state = 'running';
    for (let i = 0; i < 50 && state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await daemon.api<{ state: string }>('GET', `/v1/sandboxes/${name}`)).body.state;
    }
    expect(state).toBe('failed');
    const logged = await daemon.log();
    expect(logged).toContain('exec agent unreachable; stopping the sandbox (fail closed)');
  }, 60_000);

  it('leaves no host process behind after rm', async () => {
    const r = await daemon.api('DELETE', `/v1/sandboxes/${name}`);
    expect(r.status).toBeLessThan(300);
    const after = await plumbing(daemon.dir);
    expect(after.conmon - before.conmon).toBe(0);
    expect(after.all - before.all).toBe(0);
  });
});
