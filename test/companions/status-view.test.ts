import { describe, expect, it } from 'vitest';
import { renderSandbox } from '../../src/cli/render/sandbox.js';
import { readSandboxReport } from '../../src/shared/api/light.js';
import { SandboxReport } from '../../src/shared/api/sandboxes.js';

const base = {
  id: 'sbx_1',
  name: 'box',
  path: '/home/u/p',
  profile: 'default',
  state: 'running',
  image: 'aibox-base',
  runtime: 'runsc (gVisor)',
  mode: 'rootless',
  createdAt: '2026-12-05T12:00:00Z',
  protections: [],
  endpoints: { 'service cache': 'tcp://cache:6379 (redis)' },
};
const services = [
  { service: 'cache', pack: 'redis', port: 6379, state: 'running', restarts: 1, lastExitCode: 137 },
  {
    service: 'db',
    pack: 'postgresql',
    port: 5432,
    state: 'failed',
    restarts: 0,
    lastExitCode: 137,
    reason: 'its command exited with code 137 (restart: no)',
  },
];

describe('companion services in the sandbox view', () => {
  it('the API schema and the CLI reader keep each service’s health; aibox status prints one line each', () => {
    expect(SandboxReport.parse({ ...base, services }).services).toEqual(services);
    const read = readSandboxReport({ ...base, services });
    expect(read?.services).toEqual(services);
    expect(renderSandbox(read!).split('\n')).toEqual(
      expect.arrayContaining([
        '  service cache: running (restarts 1, last exit 137)',
        '  service db: failed (restarts 0, last exit 137) — its command exited with code 137 (restart: no)',
      ]),
    );
  });

  it('the CLI reader drops a malformed services list rather than the report; none prints nothing', () => {
    const read = readSandboxReport({ ...base, services: [{ service: 'db', state: 'exploded' }] });
    expect(read).toBeDefined();
    expect(read!.services).toBeUndefined();
    expect(renderSandbox(readSandboxReport(base)!)).not.toContain('service cache:');
  });
});
