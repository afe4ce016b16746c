import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { ExitWatcher, type ContainerExit } from '../../src/runtime/exit-watcher.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;

function fakeDocker(streams: PassThrough[]): { docker: Docker; calls: object[] } {
  const calls: object[] = [];
  const docker = {
    getEvents(opts: object) {
      calls.push(opts);
      const s = new PassThrough();
      streams.push(s);
      return Promise.resolve(s);
    },
  } as unknown as Docker;
  return { docker, calls };
}

function event(action: string, daemon: string, extra: Record<string, string> = {}) {
  return `${JSON.stringify({
    Type: 'container',
    Action: action,
    Actor: {
      ID: 'c1',
      Attributes: { 'io.aibox.daemon': daemon, 'io.aibox.sandbox.id': 'sbx_1', ...extra },
    },
  })}\n`;
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('ExitWatcher', () => {
  it('reports its own containers exits with the exit code and a preceding OOM event, nobody else’s', async () => {
    const streams: PassThrough[] = [];
    const { docker, calls } = fakeDocker(streams);
    const exits: ContainerExit[] = [];
    const w = new ExitWatcher(docker, 'd1', (e) => exits.push(e), silent);
    w.start();
    await tick();
    expect(JSON.parse((calls[0] as { filters: string }).filters)).toEqual({
      type: ['container'],
      label: ['io.aibox.daemon=d1'],
    });
    const s = streams[0]!;
    s.write(event('died', 'other', { exitCode: '1' }));
    s.write(event('start', 'd1'));
    s.write(event('oom', 'd1'));
    // A line split across chunks still parses.
    const line = event('died', 'd1', { containerExitCode: '137' });
    s.write(line.slice(0, 20));
    s.write(line.slice(20));
    s.write(event('die', 'd1', { exitCode: '0' }));
    s.write('not json\n');
    await tick();
    expect(exits).toEqual([
      { containerId: 'c1', sandboxId: 'sbx_1', exitCode: 137, oom: true },
      { containerId: 'c1', sandboxId: 'sbx_1', exitCode: 0, oom: false },
    ]);
    w.close();
  });

  it('reconnects when the stream ends, and stops for good when closed', async () => {
    const streams: PassThrough[] = [];
    const { docker, calls } = fakeDocker(streams);
    const w = new ExitWatcher(docker, 'd1', () => undefined, silent);
    w.start();
    await tick();
    streams[0]!.end();
    await new Promise((r) => setTimeout(r, 1200));
    expect(calls.length).toBe(2);
    w.close();
    streams[1]!.end();
    await new Promise((r) => setTimeout(r, 1200));
    expect(calls.length).toBe(2);
  });
});
