import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SquidLogTail, type EgressDecision } from '../../src/egress/index.js';

const quiet = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quiet;
  },
};
const line = (n: number) =>
  `aibox1 sbx_1 dec_abcd1234${n} 1733300000.${String(n).padStart(3, '0')} GET 403 TCP_DENIED ERR_ACCESS_DENIED http://evil.test/\n`;

let dir: string;
let tail: SquidLogTail | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-squidlog-'));
});
afterEach(async () => {
  await tail?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Squid access log tail', () => {
  it('reads new lines on file events, not by fast polling', async () => {
    const file = join(dir, 'access.log');
    await writeFile(file, '');
    const got: EgressDecision[] = [];
    // A safety-net interval far beyond the test: only the file event can deliver the line in time.
    tail = new SquidLogTail(file, (d) => got.push(d), quiet, 60_000, 60_000);
    tail.start();
    await appendFile(file, line(1));
    const deadline = Date.now() + 2000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got.map((d) => d.id)).toEqual(['dec_abcd12341']);
  });

  it('poll() resolves only after every line written before it was read, even during a read', async () => {
    const file = join(dir, 'access.log');
    await writeFile(file, line(1));
    const got: string[] = [];
    tail = new SquidLogTail(file, (d) => got.push(d.id), quiet, 60_000, 60_000);
    const first = tail.poll();
    await appendFile(file, line(2) + line(3));
    await tail.poll();
    await first;
    expect(got).toEqual(['dec_abcd12341', 'dec_abcd12342', 'dec_abcd12343']);
  });
});
