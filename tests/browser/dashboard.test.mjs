// The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real `trawl serve` and the tests' own origin servers (tests/e2e/origin.c, shop.c).
// It submits a batch and watches it reach 100% live, opens a failed job and retries it, cancels a
// running job, starts a scraping session and exports its records, and checks that one workspace's
// token does not see another's jobs. Screenshots of the main views go to BUILD/screenshots.
//
// usage: node dashboard.test.mjs BUILD_DIR      prints one line per test and "N passed, N failed"
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const build = resolve(process.argv[2] || 'build');
const trawl = join(build, 'trawl');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = join(build, 'screenshots');
const dir = mkdtempSync(join(tmpdir(), 'trawl-browser-'));
const children = [];

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/* Start a program and wait for the line that says its port. */
function startServer(bin, args, re, what) {
  return new Promise((res, rej) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    const timer = setTimeout(() => rej(new Error(what + ' did not start: ' + out)), 15000);
    const on = (d) => {
      out += d.toString();
      const m = out.match(re);
      if (m) { clearTimeout(timer); res({ proc: p, port: Number(m[1]) }); }
    };
    p.stdout.on('data', on);
    p.stderr.on('data', (d) => { out += d.toString(); });
    p.on('exit', (code) => { clearTimeout(timer); rej(new Error(what + ' exited (' + code + '): ' + out)); });
  });
}

function token(db, workspace) {
  return execFileSync(trawl, ['token', 'create', '--workspace', workspace, '--db', db]).toString().trim();
}

async function apiCall(base, tok, method, path, body) {
  const r = await fetch(base + path, { method, headers: { Authorization: 'Bearer ' + tok, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, json: await r.json().catch(() => null), headers: r.headers };
}

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

let env;

async function setup() {
  mkdirSync(shots, { recursive: true });
  const origin = await startServer(join(build, 'tests', 'origin'), ['--host', '127.0.0.2', '--portfile', join(dir, 'origin.port')], /^(\d+)$/m, 'origin');
  const shop = await startServer(join(build, 'tests', 'shop'), ['--host', '127.0.0.2', '--products', '24', '--portfile', join(dir, 'shop.port')], /^(\d+)$/m, 'shop');
  const db = join(dir, 'trawl.db');
  const alpha = token(db, 'alpha');
  const beta = token(db, 'beta');
  const serve = await startServer(trawl, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--allow-private', '127.0.0.2/32',
    '--workers', '2', '--crawl-workers', '4', '--breaker-failures', '1000', '--first-byte-timeout', '30000'],
  /listening on port (\d+)/, 'trawl serve');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  env = {
    base: 'http://127.0.0.1:' + serve.port,
    origin: 'http://127.0.0.2:' + origin.port,
    shop: 'http://127.0.0.2:' + shop.port,
    alpha, beta, browser, serve: serve.proc,
  };
}

async function signedIn(tok, viewport) {
  const context = await env.browser.newContext({ viewport: viewport || { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  /* a fetched page's own styles are refused in its sandboxed frame, which the browser logs: those
   * are the fetched page's, not the dashboard's */
  page.on('console', (m) => { if (m.type() === 'error' && !/^about:srcdoc/.test(m.location().url)) errors.push(m.text()); });
  await page.goto(env.base + '/');
  await page.getByLabel('API token').fill(tok);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#live.on').waitFor({ timeout: 10000 });
  return { context, page, errors };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
}

test('the page is served by trawl serve, cannot be framed, and refuses a bad token', async () => {
  const r = await fetch(env.base + '/');
  expect(r.status === 200, 'GET / answered ' + r.status);
  expect(r.headers.get('x-frame-options') === 'DENY', 'X-Frame-Options: ' + r.headers.get('x-frame-options'));
  expect(/frame-ancestors 'none'/.test(r.headers.get('content-security-policy')), 'no frame-ancestors in the CSP');
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.base + '/');
  await shot(page, 'sign-in');
  await page.getByLabel('API token').fill('trawl_not_a_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('not valid').waitFor({ timeout: 5000 });
  /* another site framing it gets nothing: the frame stays empty */
  const framer = await context.newPage();
  await framer.setContent('<iframe id="f" src="' + env.base + '/"></iframe>');
  await sleep(1000);
  const framed = framer.frames().find((f) => f.url().startsWith(env.base));
  const text = framed ? await framed.evaluate(() => document.body ? document.body.innerText : '').catch(() => '') : '';
  expect(!/Sign in/.test(text), 'the dashboard rendered inside another page\'s frame');
  await context.close();
});

test('submit a batch and watch its progress reach 100% live', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Submit' }).click();
  const urls = [];
  for (let i = 1; i <= 8; i++) urls.push(env.origin + '/page?id=' + i);
  urls.push(env.origin + '/status?code=404');
  /* the list comes as an uploaded file */
  await page.getByLabel('or a file of URLs').setInputFiles({ name: 'urls.txt', mimeType: 'text/plain', buffer: Buffer.from(urls.join('\n') + '\n') });
  await page.waitForFunction(() => document.getElementById('batch-urls').value.includes('status?code=404'));
  await page.getByLabel('Batch id').fill('ui-batch-1');
  await page.getByRole('button', { name: 'Submit batch' }).click();
  await page.waitForURL(/#\/batches\/ui-batch-1/);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.locator('#batch-progress', { hasText: '100%' }).waitFor({ timeout: 30000 });
  expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  const txt = await page.locator('#batch-progress').innerText();
  expect(/8 completed, 1 failed/.test(txt), 'counts: ' + txt);
  await shot(page, 'batch');
  await page.getByRole('link', { name: 'Batches' }).click();
  await page.locator('tr[data-batch="ui-batch-1"]').waitFor();
  await shot(page, 'batches');
  /* its failed job, again, with one click; then it is failed again, live */
  await page.locator('tr[data-batch="ui-batch-1"] a').click();
  await page.getByLabel('Jobs with status').selectOption('failed');
  await page.locator('tbody .status', { hasText: 'failed' }).first().waitFor();
  const failedId = (await page.locator('tbody a').first().getAttribute('href')).split('/').pop();
  await page.getByRole('button', { name: 'Retry failed jobs' }).click();
  await page.getByRole('button', { name: 'Retried 1 jobs' }).waitFor({ timeout: 5000 });
  const ev = (await apiCall(env.base, env.alpha, 'GET', '/v1/jobs/' + failedId)).json.events;
  expect(ev.some((e) => e.message === 'retried with its batch'), 'the batch retry is not in the job history');
  await page.locator('#batch-progress', { hasText: '8 completed, 1 failed' }).waitFor({ timeout: 30000 });
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByText('Throughput / min').waitFor();
  await page.locator('.chart').first().waitFor({ timeout: 10000 });
  await shot(page, 'overview');
  await page.setViewportSize({ width: 380, height: 800 });
  await shot(page, 'overview-narrow');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('open a failed job, see its error and page, and retry it', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Failed' }).click();
  const group = page.locator('section.group', { hasText: '404' });
  await group.waitFor({ timeout: 10000 });
  await shot(page, 'failed');
  await group.locator('tbody a').first().click();
  await page.locator('#job-error', { hasText: '404' }).waitFor();
  /* the fetched page: in a frame sandboxed with no permissions at all */
  const frame = page.locator('iframe.page');
  await frame.waitFor();
  expect((await frame.getAttribute('sandbox')) === '', 'the frame is not fully sandboxed');
  await page.getByRole('tab', { name: 'Source' }).click();
  await page.locator('pre.source', { hasText: '404 Not Found' }).waitFor();
  await shot(page, 'job-failed');
  await page.getByRole('button', { name: 'Retry job' }).click();
  await page.locator('#job-history', { hasText: 'retried by hand' }).waitFor({ timeout: 10000 });
  /* it runs again (and fails again: the page is still gone), live */
  await page.locator('#job-history li', { hasText: 'attempt 2' }).last().waitFor({ timeout: 20000 });
  await page.locator('#job-status .status', { hasText: 'failed' }).waitFor({ timeout: 20000 });
  const id = page.url().split('/').pop();
  const retried = async () => (await apiCall(env.base, env.alpha, 'GET', '/v1/jobs/' + id)).json.events
    .filter((e) => e.message === 'retried by hand').length;
  const before = await retried();
  /* the dead-letter queue: retry the whole group at once */
  await page.getByRole('link', { name: 'Failed' }).click();
  await page.locator('section.group', { hasText: '404' }).getByRole('button', { name: /^Retry all/ }).click();
  for (let t = 0; t < 50 && (await retried()) === before; t++) await sleep(100);
  expect((await retried()) === before + 1, 'Retry all did not retry the job');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('cancel a running job', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Submit' }).click();
  await page.getByLabel('URL to crawl').fill(env.origin + '/slow-first-byte?ms=25000');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  await page.locator('#job-status .status', { hasText: 'processing' }).waitFor({ timeout: 15000 });
  await shot(page, 'job-running');
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await page.locator('#job-status .status', { hasText: 'cancelled' }).waitFor({ timeout: 10000 });
  expect(await page.getByRole('button', { name: 'Cancel job' }).isDisabled(), 'cancel still enabled');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('start a scraping session and export its records', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Submit' }).click();
  await page.getByLabel('Start page').fill(env.shop + '/');
  await page.getByRole('button', { name: 'Start session' }).click();
  await page.waitForURL(/#\/sessions\/[0-9a-f-]{36}$/);
  await page.locator('#session-status .status', { hasText: 'completed' }).waitFor({ timeout: 90000 });
  const records = await page.locator('#session-records').innerText();
  expect(/^24 records$/.test(records), 'records: ' + records);
  await shot(page, 'session');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const file = join(dir, 'records.csv');
  await dl.saveAs(file);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  expect(lines[0].startsWith('url,name,sku'), 'CSV header: ' + lines[0]);
  expect(lines.length === 25, 'CSV lines: ' + lines.length);
  await page.getByRole('link', { name: 'Sessions' }).click();
  await page.locator('tbody tr').first().waitFor();
  await shot(page, 'sessions');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('one workspace\'s token does not see another\'s jobs', async () => {
  const mine = await apiCall(env.base, env.alpha, 'GET', '/v1/jobs?limit=1');
  const alphaJob = mine.json.jobs[0].id;
  const { context, page, errors } = await signedIn(env.beta);
  expect((await page.locator('#workspace').innerText()) === 'workspace beta', 'workspace shown');
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.getByText('No job matches.').waitFor();
  await page.getByRole('link', { name: 'Batches' }).click();
  await page.getByText('No batch yet').waitFor();
  await page.goto(env.base + '/#/jobs/' + alphaJob);
  await page.locator('#banner', { hasText: 'not found' }).waitFor({ timeout: 5000 });
  await shot(page, 'other-workspace');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').waitFor();
  expect(errors.length <= 1, 'errors in the page: ' + errors.join('; ')); // the 404 is logged by the browser
  await context.close();
});

test('the jobs list filters, and the keyboard reaches every section', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.getByLabel('Status').selectOption('completed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=completed/);
  await page.locator('tbody tr').first().waitFor();
  const statuses = await page.locator('tbody .status').allInnerTexts();
  expect(statuses.length > 0 && statuses.every((s) => s === 'completed'), 'statuses: ' + statuses.join(','));
  await shot(page, 'jobs');
  /* from the top of a freshly loaded page, Tab reaches the skip link, then every section */
  await page.reload();
  await page.locator('tbody tr').first().waitFor();
  await page.keyboard.press('Tab');
  expect((await page.evaluate(() => document.activeElement.textContent)) === 'Skip to content', 'first Tab stop');
  const reached = [];
  for (let i = 0; i < 12 && reached[reached.length - 1] !== 'Sessions'; i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => document.activeElement.textContent));
  }
  for (const name of ['Overview', 'Submit', 'Batches', 'Jobs', 'Failed', 'Sessions'])
    expect(reached.includes(name), 'Tab did not reach ' + name + ': ' + reached.join(', '));
  await page.keyboard.press('Enter'); /* Sessions, by the keyboard */
  await page.getByRole('heading', { name: 'Scraping sessions' }).waitFor();
  await page.waitForFunction(() => document.activeElement.tagName === 'H1', null, { timeout: 5000 });
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

let passed = 0, failed = 0;
try {
  await setup();
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      console.log('ok   ' + t.name + ' (' + (Date.now() - t0) + ' ms)');
    } catch (e) {
      failed++;
      console.log('FAIL ' + t.name + ': ' + (e && e.stack ? e.stack : e));
    }
  }
} catch (e) {
  failed++;
  console.log('FAIL setup: ' + (e && e.stack ? e.stack : e));
} finally {
  if (env && env.browser) await env.browser.close().catch(() => {});
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGTERM');
  }
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}
if (existsSync(shots)) console.log('screenshots in ' + shots);
console.log(passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
