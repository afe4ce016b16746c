/**
 * The dashboard end to end: headless Chromium against a real aiboxd with a real gVisor sandbox and a real git
 * upstream. The reviewer logs in, sees the sandbox, types in its terminal and reads the output, approves a staged
 * push (and the upstream branch moves to exactly that commit), opens a refusal's explanation and verifies the audit
 * chain. Screenshots of each screen land in dist/test-artifacts/dashboard/e2e-*.png.
 *
 * The browser talks to the daemon's own network listener (`sessions.listener.dashboard`) with an admin token made by
 * `aibox token create`; the last test logs in on the dashboard's own loopback port (`dashboard.enabled`) too.
 */
import net from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startUpstream, type Upstream } from '../git-gate/helpers/upstream.js';
import { browserSupport, launch, shot } from '../web/support/browser.js';

const GIT_TOKEN = 'ghp_DashboardE2EtokenNeverShown0000';
const host = sandboxHostSupport();
const browser = browserSupport();
const run = requireHost(
  { ok: host.ok && browser.ok, reason: [host.reason, browser.reason].filter(Boolean).join('; ') },
  'dashboard',
);
const name = 'dashbox';
const ident =
  'export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@example.invalid GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@example.invalid';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!run)('dashboard against a real aiboxd', () => {
  let upstream: Upstream;
  let daemon: TestDaemon;
  let project: string | undefined;
  let url: string;
  let ownPortUrl: string;
  let token: string;
  let chromium: Browser;
  let page: Page;
  let pushId: string;
  let staged: string;
  let refusal: string;
  const pageErrors: string[] = [];

  const sh = async (script: string) => {
    const r = await daemon.exec(name, ['sh', '-c', `${ident}; ${script}`]);
    return { ...r, all: `${r.stdout}\n${r.stderr}` };
  };

  beforeAll(async () => {
    upstream = await startUpstream(GIT_TOKEN);
    await upstream.create('acme/widgets', {
      'greet.ts': "export const greet = (n: string) => 'Hello ' + n;\n",
    });
    const [listenerPort, dashboardPort] = [await freePort(), await freePort()];
    url = `http://127.0.0.1:${listenerPort}`;
    ownPortUrl = `http://127.0.0.1:${dashboardPort}`;
    daemon = await startTestDaemon({
      name: 'dash',
      config: {
        sessions: { listener: { enabled: true, host: '127.0.0.1', port: listenerPort, dashboard: true } },
        dashboard: { enabled: true, host: '127.0.0.1', port: dashboardPort },
        git: {
          repos: [{ name: 'acme/widgets', upstream: upstream.url('acme/widgets'), credential: 'git-token' }],
        },
      },
    });
    expect((await daemon.cli(['secret', 'set', 'git-token'], { input: `${GIT_TOKEN}\n` })).exitCode).toBe(0);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    // Push decisions come from the policy push door: the org protects main (approval), the project denies releases.
    project = await makeProject('dash');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(path.join(project, 'aibox', 'policy.yaml'), 'push:\n  deny:\n    - release/**\n');
    await execa('chown', ['-R', '--reference', project, path.join(project, 'aibox')]);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    // The agent's work: a staged push to main, and a push the policy refuses.
    const pushed = await sh(
      `git clone -q ${upstream.url('acme/widgets')} /tmp/w && cd /tmp/w && ` +
        `printf "export const greet = (n: string, excited = false) => 'Hello ' + n + (excited ? '!' : '');\\n" > greet.ts && ` +
        'git commit -qam "greet: optional excitement" && git push origin HEAD:main 2>&1; git rev-parse HEAD',
    );
    pushId = /push (push_[0-9a-f]+)/.exec(pushed.stdout)?.[1] ?? '';
    expect(pushId, pushed.all).not.toBe('');
    staged = pushed.stdout.trim().split('\n').at(-1)!;
    const denied = await sh('cd /tmp/w && git push origin HEAD:refs/heads/release/1.0 2>&1');
    refusal = /decision (dec_[0-9a-f]+)/.exec(denied.stdout)?.[1] ?? '';
    expect(refusal, denied.all).not.toBe('');

    const issued = await daemon.cli(['token', 'create', 'reviewer', '--scope', 'admin', '--json']);
    expect(issued.exitCode, issued.stderr).toBe(0);
    token = (JSON.parse(issued.stdout) as { token: string }).token;
    chromium = await launch();
    page = await (await chromium.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  beforeEach(({ task }) => {
    onTestFailed(async () => {
      await shot(page, `e2e-failed-${task.name.replace(/\W+/g, '-').slice(0, 40)}`);
    });
  });

  afterAll(async () => {
    await chromium?.close();
    await daemon?.stop();
    await upstream?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('logs in with a token and shows the running sandbox', async () => {
    await page.goto(url);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    const row = page.getByRole('row', { name: new RegExp(name) });
    await row.waitFor();
    expect(await row.textContent()).toContain('running');
    // Created by root on the unix socket: the owner column names the user.
    expect(await row.locator('td').nth(2).textContent()).toBe('root');
    expect(await page.content()).not.toContain(token);
    await shot(page, 'e2e-01-sandboxes');
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name: `Sandbox ${name}` }).waitFor();
    await page.getByRole('heading', { name: 'Effective policy' }).waitFor();
    await page.locator('details.door').first().waitFor();
    await shot(page, 'e2e-02-sandbox');
  });

  it('types in the terminal and reads the output', async () => {
    await page.getByRole('link', { name: 'Open terminal' }).click();
    await page.getByText('Connected.').waitFor();
    await page.locator('.xterm').click();
    await page.keyboard.type('echo "answer=$((6*7))" && uname -s');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('.xterm-rows').textContent(), { timeout: 20_000 })
      .toMatch(/answer=42\s*Linux/);
    await shot(page, 'e2e-03-terminal');
  });

  it('approves the staged push, and the upstream branch moves to the commit shown', async () => {
    await page.getByRole('link', { name: 'Pushes' }).click();
    await page.getByRole('link', { name: pushId }).click();
    await page.getByText('greet: optional excitement').waitFor();
    expect(await page.getByTestId('shown-commit').textContent()).toBe(staged);
    expect(await page.locator('.diff-add').count()).toBeGreaterThan(0);
    await shot(page, 'e2e-04-push');
    expect(await upstream.refValue('acme/widgets', 'main')).not.toBe(staged);
    await page.getByRole('button', { name: new RegExp(`^Approve ${staged.slice(0, 12)}`) }).click();
    await page.getByText('This push is approved').waitFor({ timeout: 30_000 });
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(staged);
  });

  it("opens a refusal's explanation", async () => {
    await page.getByRole('link', { name: 'Decisions' }).click();
    const link = page.locator(`a[href="#/decisions/${refusal}"]`);
    await link.waitFor();
    await shot(page, 'e2e-05-decisions');
    await link.click();
    await page.getByRole('heading', { name: `Decision ${refusal}` }).waitFor();
    await page.getByRole('heading', { name: 'Layers' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('push');
    await shot(page, 'e2e-06-decision-explain');
  });

  it('verifies the audit chain', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('list', { name: new RegExp(`Audit records of ${name}`) }).waitFor();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/Chain verified: \d+ records/).waitFor();
    await shot(page, 'e2e-07-audit');
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: /LLM/ }).waitFor();
    await shot(page, 'e2e-08-usage');
    expect(pageErrors).toEqual([]);
  });

  it('keeps the reviewer logged in across a daemon crash and restart, and logs out', async () => {
    await daemon.crash();
    await daemon.restart();
    // The socket answers first; the network listener follows within moments.
    await expect
      .poll(() =>
        fetch(`${url}/`).then(
          (r) => r.status,
          () => 0,
        ),
      )
      .toBe(200);
    await page.goto(`${url}/#/sandboxes`);
    const row = page.getByRole('row', { name: new RegExp(name) });
    await row.waitFor({ timeout: 30_000 });
    expect(await page.getByLabel('API token').count()).toBe(0);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    await page.goto(`${url}/#/sandboxes`);
    await page.getByLabel('API token').waitFor();
  });

  it("serves the dashboard on its own loopback port, and no program's token there", async () => {
    // A program with the admin token: served by the network listener, refused on the dashboard's port.
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${url}/v1/sandboxes`, { headers: auth })).status).toBe(200);
    const refused = await fetch(`${ownPortUrl}/v1/sandboxes`, { headers: auth });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'DASHBOARD_SESSION_INVALID',
    );
    const own = await (await chromium.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    own.on('pageerror', (e) => pageErrors.push(e.message));
    await own.goto(ownPortUrl);
    await own.getByLabel('API token').fill(token);
    await own.getByRole('button', { name: 'Log in' }).click();
    await own.getByRole('row', { name: new RegExp(name) }).waitFor();
    await own.getByRole('button', { name: 'Log out' }).click();
    await own.getByLabel('API token').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
