/**
 * Every dashboard screen in headless Chromium against a stand-in daemon (test/web/support/fake-backend.ts: the real
 * dashboard server — login, session cookie, CSRF — in front of scripted API answers). Looks at what a reviewer
 * sees, in light and dark schemes and on a phone-sized screen; screenshots land in dist/test-artifacts/dashboard/.
 * The same flows against a real aiboxd with real sandboxes: dashboard.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { requireHost } from '../support/host.js';
import { browserSupport, launch, shot } from '../web/support/browser.js';
import { contrastFailures, unlabeledControls } from '../web/support/a11y.js';
import { FAKE_TOKEN, startFakeBackend, type FakeBackend } from '../web/support/fake-backend.js';

const run = requireHost(browserSupport(), 'dashboard-ui');

describe.skipIf(!run)('dashboard screens in Chromium', () => {
  let backend: FakeBackend;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    backend = await startFakeBackend();
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/401|403|409/.test(m.text())) errors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.close();
  });

  it('logs in with a token, refusing a wrong one, and keeps the token out of reach of scripts', async () => {
    await page.goto(backend.url);
    await page.getByLabel('API token').fill('aibox_tok_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('TOKEN_INVALID');
    await shot(page, '00-login-refused');
    await page.getByLabel('API token').fill(FAKE_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'alpha' }).waitFor();
    expect(await page.evaluate('document.cookie')).toBe(''); // HttpOnly: scripts cannot read the session
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    expect(await page.content()).not.toContain(FAKE_TOKEN);
    const cookies = await context.cookies();
    expect(cookies).toEqual([
      expect.objectContaining({ name: 'aibox_session', httpOnly: true, sameSite: 'Strict' }),
    ]);
    expect(cookies[0]!.value).not.toContain(FAKE_TOKEN);
  });

  it('lists sandboxes with state and protections, live', async () => {
    await page.getByText('● live').waitFor();
    const row = page.getByRole('row', { name: /alpha/ });
    expect(await row.textContent()).toContain('running');
    expect(await page.getByRole('row', { name: /beta/ }).textContent()).toContain('stopped');
    await shot(page, '01-sandboxes');
  });

  it('shows a sandbox: endpoints, packs and the effective policy per door', async () => {
    await page.getByRole('link', { name: 'alpha' }).click();
    await page.getByRole('heading', { name: 'Sandbox alpha' }).waitFor();
    await page.getByText('github-mcp').waitFor();
    await page.locator('details.door summary', { hasText: /^egress$/ }).click();
    await page.getByText('registry.npmjs.org').first().waitFor();
    expect(await page.getByText('org → team:platform → project').count()).toBe(1);
    await shot(page, '02-sandbox');
  });

  it('opens a terminal, types a command and reads its output', async () => {
    await page.getByRole('link', { name: 'Open terminal' }).click();
    await page.getByText('Connected.').waitFor();
    await page.locator('.xterm').click();
    await page.keyboard.type('echo hello-from-the-browser');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('.xterm-rows').textContent())
      .toMatch(/hello-from-the-browser[\s\S]*hello-from-the-browser/);
    await shot(page, '03-terminal');
    // No keyboard trap: Tab goes to the shell, F6 leaves the terminal.
    await page.keyboard.press('F6');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Reconnect');
  });

  it('reviews a push: highlighted diff, approve bound to the commit shown', async () => {
    await page.getByRole('link', { name: 'Pushes' }).click();
    await page.getByRole('link', { name: 'push_0a1b2c3d4e5f' }).click();
    await page.getByText('greet: optional excitement').waitFor();
    expect(await page.locator('.diff-add .hljs-keyword').count()).toBeGreaterThan(0);
    await shot(page, '04-push');
    await page.getByRole('button', { name: /^Approve 9f3c2b1a0e9d/ }).click();
    await page.getByText('This push is approved').waitFor();
    expect(backend.approvals).toEqual([{ commit: '9f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b' }]);
  });

  it('lists refusals and explains one layer by layer', async () => {
    await page.getByRole('link', { name: 'Decisions' }).click();
    await page.getByText('pastebin.com is not in the egress allowlist').waitFor();
    expect(await page.getByText('registry.npmjs.org is allowlisted').count()).toBe(0);
    await shot(page, '05-decisions');
    await page.getByText('pastebin.com is not in the egress allowlist').click();
    await page.getByText('org/egress.rego:18').waitFor();
    await shot(page, '06-decision-explain');
  });

  it('shows the audit timeline and verifies the chain', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('list', { name: /Audit records of alpha/ }).waitFor();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/Chain verified: \d+ records/).waitFor();
    await shot(page, '07-audit');
  });

  it('charts LLM usage and lists egress requests, allowed and refused', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('img', { name: /tokens per time bucket/ }).waitFor();
    expect(await page.locator('.chart rect').count()).toBeGreaterThan(5);
    const requests = page.getByRole('table', { name: 'Egress requests', exact: true });
    await requests.waitFor();
    expect(await requests.textContent()).toContain('GET https://registry.npmjs.org/left-pad');
    await page.getByLabel('Verdict').selectOption('deny');
    expect(await requests.getByRole('row').count()).toBe(3);
    await shot(page, '08-usage');
  });

  it('reads well in the dark scheme and on a phone', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${backend.url}/#/pushes/push_0a1b2c3d4e5f`);
    await page.getByText('greet: optional excitement').waitFor();
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(bg).toBe('rgb(13, 17, 23)');
    await shot(page, '09-push-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${backend.url}/#/sandboxes`);
    await page.getByRole('link', { name: 'alpha' }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, '10-sandboxes-phone-dark');
  });

  it('every screen reads well in the light and the dark scheme (WCAG contrast), every control labelled', async () => {
    await page.setViewportSize({ width: 1280, height: 860 });
    const screens: [string, string, () => Promise<unknown>][] = [
      ['sandboxes', '#/sandboxes', () => page.getByRole('link', { name: 'alpha' }).waitFor()],
      ['sandbox', '#/sandboxes/alpha', () => page.getByText('github-mcp').waitFor()],
      [
        'pushes',
        '#/pushes',
        // Approved by an earlier test: none pending any more.
        () =>
          page
            .getByText(/No pending pushes\.|push_0a1b2c3d4e5f/)
            .first()
            .waitFor(),
      ],
      ['push', '#/pushes/push_0a1b2c3d4e5f', () => page.getByText('greet: optional excitement').waitFor()],
      [
        'decisions',
        '#/decisions',
        () => page.getByText('pastebin.com is not in the egress allowlist').waitFor(),
      ],
      ['explain', '#/decisions/dec_0e1f2a3b', () => page.getByText('org/egress.rego:18').waitFor()],
      ['audit', '#/audit', () => page.getByRole('list', { name: /Audit records of alpha/ }).waitFor()],
      ['usage', '#/usage', () => page.getByRole('table', { name: 'Egress requests', exact: true }).waitFor()],
    ];
    const failures: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [label, hash, ready] of screens) {
        await page.goto(`${backend.url}/${hash}`);
        await ready();
        await shot(page, `scheme-${scheme}-${label}`);
        for (const f of await contrastFailures(page))
          failures.push(
            `${scheme} ${label}: "${f.text}" ${f.ratio}:1 < ${f.needed}:1 (${f.color} on ${f.background})`,
          );
        for (const c of await unlabeledControls(page)) failures.push(`${scheme} ${label}: no label for ${c}`);
      }
    }
    // The login form, logged out, in both schemes.
    const anonymous = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const login = await anonymous.newPage();
    for (const scheme of ['light', 'dark'] as const) {
      await login.emulateMedia({ colorScheme: scheme });
      await login.goto(backend.url);
      await login.getByLabel('API token').waitFor();
      await shot(login, `scheme-${scheme}-login`);
      for (const f of await contrastFailures(login))
        failures.push(
          `${scheme} login: "${f.text}" ${f.ratio}:1 < ${f.needed}:1 (${f.color} on ${f.background})`,
        );
      for (const c of await unlabeledControls(login)) failures.push(`${scheme} login: no label for ${c}`);
    }
    await anonymous.close();
    expect(failures).toEqual([]);
  });

  it('is usable from the keyboard: focus on the new screen, skip link, then the navigation in order', async () => {
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(`${backend.url}/#/sandboxes`);
    await page.getByRole('link', { name: 'alpha' }).waitFor();
    const focused = () =>
      page.evaluate('`${document.activeElement?.tagName} ${document.activeElement?.textContent}`');
    // A new screen puts focus on its heading, where a screen reader starts reading.
    expect(await focused()).toBe('H1 Sandboxes');
    // A fresh load leaves focus at the start of the page: the first Tab reaches the skip link.
    await page.reload();
    await page.getByRole('link', { name: 'alpha' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('A Skip to content');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('A Sandboxes');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Pushes' }).waitFor();
    expect(await focused()).toBe('H1 Pushes');
  });

  it('logged no script errors', () => {
    expect(errors).toEqual([]);
  });
});
