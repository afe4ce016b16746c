/**
 * Headless Chromium for the dashboard's browser tests: Debian's `chromium` package driven by playwright-core (no
 * browser download). Screenshots go to dist/test-artifacts/dashboard/ (or $AIBOX_TEST_ARTIFACTS/dashboard).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostSupport } from '../../support/host.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export const ARTIFACTS = path.join(
  process.env['AIBOX_TEST_ARTIFACTS'] ?? path.join(ROOT, 'dist/test-artifacts'),
  'dashboard',
);

export function chromiumPath(): string | undefined {
  return process.env['CHROMIUM_PATH'] ?? CANDIDATES.find((p) => existsSync(p));
}

export function browserSupport(): HostSupport {
  if (!chromiumPath())
    return { ok: false, reason: 'chromium is not installed (apt-get install -y chromium)' };
  if (!existsSync(path.join(ROOT, 'dist/web/index.html')))
    return { ok: false, reason: 'the dashboard is not built (npm run build:web)' };
  return { ok: true, reason: '' };
}

export async function launch(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath()!,
    headless: true,
    // Root in a container has no user namespace sandbox for Chromium; the page only ever loads our loopback server.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export async function shot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
