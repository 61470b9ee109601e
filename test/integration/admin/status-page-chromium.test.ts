// The status page in a real browser against the real daemon: a backend dies while the page is open,
// and the page (no reload) shows the server going down; a click drains a server; a stopped balancer
// is reported. Headless Debian chromium driven by playwright-core.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireOrSkip } from '../../helpers/cli.js';
import { startStack } from '../../helpers/stack.js';
import { startTestAdmin } from '../../unit/admin/fixture.js';

function chromiumPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

test('the status page shows a server going down without a reload', { timeout: 60_000 }, async (t) => {
  const executablePath = chromiumPath();
  if (!requireOrSkip(t, executablePath !== undefined, 'chromium is not installed (apt-get install chromium)')) return;

  const stack = await startStack(['cp-01', 'cp-02', 'cp-03']);
  let daemonStopped = false;
  t.after(async () => { if (!daemonStopped) await stack.close(); else await Promise.all(stack.backends.map((b) => b.close())); await stack.spec.cleanup(); });

  // A fresh profile per run; playwright passes it to chromium as --user-data-dir.
  const userDataDir = await mkdtemp(join(tmpdir(), 'ce-chromium-'));
  let context: BrowserContext | undefined;
  t.after(async () => { await context?.close(); await rm(userDataDir, { recursive: true, force: true }); });
  context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
  const page = context.pages()[0] ?? await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });

  await page.goto(`${stack.daemon.adminUrl}/`);
  const row = (name: string) => page.locator(`section[data-listener="kubernetes"] tr[data-server="${name}"]`);
  assert.equal(await row('cp-02').getAttribute('data-state'), 'up');
  assert.equal((await row('cp-02').locator('td.state').innerText()).trim(), 'up');
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });

  await stack.backends[1].kill();
  await page.locator('section[data-listener="kubernetes"] tr[data-server="cp-02"][data-state="down"]').waitFor({ timeout: 15_000 });
  assert.equal((await row('cp-02').locator('td.state').innerText()).trim(), 'down');
  assert.equal(await row('cp-02').locator('.badge.state-down').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(179, 38, 30)', 'down is red');
  assert.match(await row('cp-02').locator('td.since').innerText(), /ECONNREFUSED|refused|fail/i, 'the reason is shown');
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'updated in place, not reloaded');
  assert.equal(stack.server('cp-02').state, 'down');
  assert.equal((await row('cp-01').locator('td.state').innerText()).trim(), 'up');

  // The page's own buttons use the API (and the CSP lets them).
  await row('cp-03').locator('button[data-admin-state="drain"]').click();
  await page.locator('section[data-listener="kubernetes"] tr[data-server="cp-03"][data-admin="drain"]').waitFor({ timeout: 10_000 });
  assert.equal(stack.server('cp-03').adminState, 'drain');

  if (process.env.CLUSTER_ENDPOINT_SCREENSHOT) await page.screenshot({ path: process.env.CLUSTER_ENDPOINT_SCREENSHOT, fullPage: true });

  // A stopped balancer is said so; the last status stays on screen.
  await stack.daemon.destroy();
  daemonStopped = true;
  const banner = page.locator('#connection');
  await banner.waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await banner.innerText(), /The balancer does not answer since/);
  assert.equal(await row('cp-02').getAttribute('data-state'), 'down');

  const unexpected = problems.filter((p) => !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(p));
  assert.deepEqual(unexpected, [], 'no script errors and no CSP violations');
});

test('with a token, a browser gets in with Basic auth (token as password) and its buttons work', { timeout: 60_000 }, async (t) => {
  const executablePath = chromiumPath();
  if (!requireOrSkip(t, executablePath !== undefined, 'chromium is not installed (apt-get install chromium)')) return;
  const token = 'browser-token-0123456789';
  const { admin, backend } = await startTestAdmin(t, { token });
  const userDataDir = await mkdtemp(join(tmpdir(), 'ce-chromium-'));
  let context: BrowserContext | undefined;
  t.after(async () => { await context?.close(); await rm(userDataDir, { recursive: true, force: true }); });

  context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: ARGS });
  const page = context.pages()[0] ?? await context.newPage();
  // Without credentials the browser is challenged (playwright cancels the login prompt).
  await assert.rejects(page.goto(`${admin.url}/`), /ERR_INVALID_AUTH_CREDENTIALS/);
  await context.close();

  // As if the user typed anything as the name and the token as the password into the prompt.
  context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: ARGS, httpCredentials: { username: 'admin', password: token } });
  const page2 = context.pages()[0] ?? await context.newPage();
  const ok = await page2.goto(`${admin.url}/`);
  assert.equal(ok?.status(), 200);
  await page2.locator('section[data-listener="talos"] tr[data-server="cp-01"] button[data-admin-state="maint"]').click();
  await page2.locator('section[data-listener="talos"] tr[data-server="cp-01"][data-admin="maint"]').waitFor({ timeout: 10_000 });
  assert.deepEqual(backend.calls, [{ target: { server: 'cp-01', listener: 'talos' }, state: 'maint' }]);
});
