import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/** The engine layer over the fake runtime (no network): the door decides, and nothing is made when it is off. */
describe('the engine layer', () => {
  let d: TestDaemon | undefined;
  let repo: string | undefined;

  afterEach(async () => {
    await d?.close();
    d = undefined;
    if (repo) await rm(repo, { recursive: true, force: true });
    repo = undefined;
  });

  it('adds no engine, no DOCKER_HOST and no state when the containers door is off (the default)', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject();
    const res = await d.api('POST', '/v1/sandboxes', { path: project, name: 'box' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const spec = d.runtime.containerOf('box')!.spec;
    expect(spec.env.DOCKER_HOST).toBeUndefined();
    expect(spec.env.CONTAINER_HOST).toBeUndefined();
    const report = await d.api<{ endpoints: Record<string, string> }>('GET', '/v1/sandboxes/box');
    expect(report.body.endpoints.engine).toBeUndefined();
    expect(d.services.hooks.some((h) => h.layer === 'engine')).toBe(true);
  });

  it('fails the start, naming the engine, when the door is on but the daemon enforces no egress', async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-engine-layer-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/containers.rego'),
      'package aibox.org.containers\n\nimport rego.v1\n\nengine := true\n',
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    d = await startTestDaemon({ config: { policy: { repo } } });
    const project = await d.makeProject();
    const res = await d.api<{ error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'box',
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).toContain('needs egress enforcement');
    expect(JSON.stringify(res.body)).toContain('engine');
    expect(d.runtime.calls.some((c) => c.startsWith('createContainer'))).toBe(false);
  });
});
