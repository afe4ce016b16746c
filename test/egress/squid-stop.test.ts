import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SquidProcess } from '../../src/egress/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A process whose command line looks like a Squid started with this config (bash stays: `; true` keeps it). */
function fakeSquid(argv0: string, confPath: string) {
  return spawn('bash', ['-c', 'sleep 60; true', argv0, '-n', 'x', '-f', confPath], {
    stdio: 'ignore',
  });
}

describe('SquidProcess.stop', () => {
  it('kills a Squid of this config that has not written its pid file yet, and only that one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-squid-stop-'));
    const other = await mkdtemp(path.join(tmpdir(), 'aibox-squid-stop-'));
    dirs.push(dir, other);
    const squid = new SquidProcess(dir, {
      sandboxId: 'sb1',
      squid: '/usr/sbin/squid',
      user: 'proxy',
      logger: pino({ level: 'silent' }),
    });
    const mine = fakeSquid('squid', squid.confPath);
    const theirs = fakeSquid('squid', path.join(other, 'squid.conf'));
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(running(mine.pid!)).toBe(true);
      await squid.stop();
      const exited = await new Promise<boolean>((resolve) => {
        if (mine.exitCode !== null || mine.signalCode !== null) resolve(true);
        mine.once('exit', () => resolve(true));
        setTimeout(() => resolve(false), 2000);
      });
      expect(exited).toBe(true);
      expect(mine.signalCode).toBe('SIGKILL');
      expect(running(theirs.pid!)).toBe(true);
    } finally {
      mine.kill('SIGKILL');
      theirs.kill('SIGKILL');
    }
  });
});
