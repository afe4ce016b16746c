/**
 * A token's team is the team layer of its sessions' policy (org → token's team → session, tighten-only), in the real
 * composition root over the fake runtime and the shipped policy repo: team `platform` refuses kubectl and narrows
 * egress to its mirrors. A session of a `platform` token gets that layer (kept in its sandbox record, which a restarted
 * daemon re-attaches from); a session of a token without a team does not.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxStore } from '../../src/daemon/state/sandbox-store.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  body: Record<string, any>;
}

describe("a token's team in its sessions' policy", () => {
  let d: TestDaemon;
  let url: string;
  const tokens: Record<string, string> = {};

  const call = async (token: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  /** The sandbox behind a session, and the policy the daemon enforces on it (asked as root on the socket). */
  const policyOf = async (sessionId: string) => {
    const sandboxes = await d.api<{ name: string; id: string }[] | { sandboxes: { name: string }[] }>(
      'GET',
      '/v1/sandboxes',
    );
    const list = Array.isArray(sandboxes.body) ? sandboxes.body : sandboxes.body.sandboxes;
    const record = d.services.sessionApi!.sessions.list({
      owner: 'root',
      admin: true,
      caller: { uid: 0, gid: 0 } as never,
    });
    expect(record.map((s) => s.id)).toContain(sessionId);
    const names = list.map((s) => s.name);
    const shown = await Promise.all(
      names.map(async (n) => ({
        name: n,
        show: (await d.api<{ team?: string; layers: string[]; doors: any }>('GET', `/v1/policy?sandbox=${n}`))
          .body,
      })),
    );
    return shown;
  };

  beforeAll(async () => {
    const port = await freePort();
    d = await startTestDaemon({ config: { sessions: { listener: { enabled: true, port } } } });
    url = `http://127.0.0.1:${port}`;
    for (const [name, team] of [
      ['plat', 'platform'],
      ['plain', undefined],
    ] as const) {
      const r = await d.api<{ token: string }>('POST', '/v1/tokens', {
        name,
        scope: 'sessions',
        ...(team ? { team } : {}),
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      tokens[name] = r.body.token;
    }
  });
  afterAll(async () => {
    for (const token of Object.values(tokens)) {
      const list = await call(token, 'GET', '/v1/sessions').catch(() => undefined);
      for (const s of (list?.body.sessions ?? []) as { id: string }[])
        await call(token, 'DELETE', `/v1/sessions/${s.id}`).catch(() => undefined);
    }
    // The fake runtime does not unmount the workspace tmpfs the sandbox service made for each session: do it here.
    if (d) {
      const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
      for (const m of mounts.filter((m) => m.startsWith(`${d.dir}/`)).reverse())
        await promisify(execFile)('umount', [m]).catch(() => undefined);
    }
    await d?.close();
  });

  it("refuses the team's commands only in sessions of that team's tokens", async () => {
    const plat = await call(tokens.plat!, 'POST', '/v1/sessions', {});
    expect(plat.status, JSON.stringify(plat.body)).toBe(201);
    expect(plat.body.team).toBe('platform');
    const plain = await call(tokens.plain!, 'POST', '/v1/sessions', {});
    expect(plain.status, JSON.stringify(plain.body)).toBe(201);
    expect(plain.body.team).toBeUndefined();

    const refused = await call(tokens.plat!, 'POST', `/v1/sessions/${plat.body.id}/exec`, {
      cmd: ['kubectl', 'version'],
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('POLICY_DENIED');
    expect(refused.body.error.message).toContain('team:platform');

    // Without the team layer the exec door lets kubectl through (it is simply not installed on this host).
    const allowed = await call(tokens.plain!, 'POST', `/v1/sessions/${plain.body.id}/exec`, {
      cmd: ['kubectl', 'version'],
    });
    expect(allowed.body.error?.code).not.toBe('POLICY_DENIED');
    // Both sessions still run what their policy allows.
    for (const [token, id] of [
      [tokens.plat!, plat.body.id],
      [tokens.plain!, plain.body.id],
    ] as const) {
      const ok = await call(token, 'POST', `/v1/sessions/${id}/exec`, { cmd: ['echo', 'hi'] });
      expect([ok.status, ok.body.stdout]).toEqual([200, 'hi\n']);
    }

    // The egress door: the team's mirrors only, for that session alone.
    const shown = await policyOf(plat.body.id);
    const teamed = shown.filter((s) => s.show.team === 'platform');
    expect(teamed).toHaveLength(1);
    expect(teamed[0]!.show.layers).toEqual(['org', 'team:platform', 'project']);
    const domains = teamed[0]!.show.doors.egress.allowDomains as string[];
    expect(domains).toContain('deb.debian.org');
    expect(domains).not.toContain('registry.npmjs.org');
    const others = shown.filter((s) => s.show.team !== 'platform');
    expect(others.length).toBeGreaterThan(0);
    for (const o of others) expect(o.show.layers).not.toContain('team:platform');
    const records = await Promise.all(
      shown.map(async (s) => new SandboxStore(d.stateDir).findByName(s.name).then((r) => r?.team)),
    );
    expect(records.sort()).toEqual(['platform', undefined]);
  });

  it('refuses to start a session whose token names a team the policy repo lacks (fail closed)', async () => {
    const r = await d.api<{ token: string }>('POST', '/v1/tokens', { name: 'ghost', team: 'no-such-team' });
    expect(r.status).toBe(201);
    tokens.ghost = r.body.token;
    const created = await call(r.body.token, 'POST', '/v1/sessions', {});
    expect(created.status).toBeGreaterThanOrEqual(400);
    expect(created.status).toBeLessThan(500);
    expect(JSON.stringify(created.body)).toContain('POLICY_TEAM_MISSING');
    expect((await call(r.body.token, 'GET', '/v1/sessions')).body.sessions).toEqual([]);
  });
});
