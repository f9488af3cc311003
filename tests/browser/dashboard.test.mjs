// The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real `trawl serve` and the tests' own origin servers (tests/e2e/origin.c, shop.c).
// It submits a batch and watches it reach 100% live, opens a failed job and retries it, cancels a
// running job, starts a scraping session and exports its records, and checks that one workspace's
// token does not see another's jobs; draws chains as graphs that move live (a pipeline of sleep
// stages; a stage failed for good, its next blocked, retried from its page to completion, the test
// being the external worker; a fan-out of 120 folded past 20, its join's edges), lists and counts
// waiting and blocked stages, and adds, pauses, resumes and deletes a schedule (against a stand-in
// for the schedules API when the server has none, said in the output); uploads a product feed,
// watches it deliver to the tests' webhook receiver (tests/e2e/hookrx.c) live, redelivers a call,
// and confirms a preview's mappings. Screenshots of the main
// views go to BUILD/screenshots.
//
// usage: node dashboard.test.mjs BUILD_DIR      prints one line per test and "N passed, N failed"
//        ONLY=REGEX node dashboard.test.mjs BUILD_DIR     only the tests whose names match
//        ONLY=REGEX node dashboard.test.mjs BUILD_DIR    only the tests whose names match
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
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
const HOOK_SECRET = 'whsec_dHJhd2wtaW1wb3J0LXRlc3Qta2V5';

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
  const hook = await startServer(join(build, 'tests', 'hookrx'), ['--secret', HOOK_SECRET, '--host', '127.0.0.2'], /^(\d+)$/m, 'hookrx');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  env = {
    base: 'http://127.0.0.1:' + serve.port,
    origin: 'http://127.0.0.2:' + origin.port,
    shop: 'http://127.0.0.2:' + shop.port,
    hook: 'http://127.0.0.2:' + hook.port,
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
  page.on('console', (m) => { if (m.type() === 'error' && !/^about:srcdoc/.test(m.location().url)) errors.push(m.text() + ' (' + m.location().url + ')'); });
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
  /* its three stages, each a job of its own, all completed */
  const stages = await page.locator('#session-stages a[data-stage]').allInnerTexts();
  expect(stages.join(',') === 'ingest,extract,sync', 'stages: ' + stages.join(','));
  await page.locator('#session-stages .status', { hasText: 'completed' }).nth(2).waitFor({ timeout: 10000 });
  expect(!/\bnull\b/.test(await page.locator('main').innerText()), 'the page says "null"');
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
  for (let i = 0; i < 12 && reached[reached.length - 1] !== 'Schedules'; i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => document.activeElement.textContent));
  }
  for (const name of ['Overview', 'Submit', 'Batches', 'Jobs', 'Failed', 'Sessions', 'Schedules'])
    expect(reached.includes(name), 'Tab did not reach ' + name + ': ' + reached.join(', '));
  await page.keyboard.press('Enter'); /* Schedules, by the keyboard */
  await page.getByRole('heading', { name: 'Schedules' }).waitFor();
  await page.waitForFunction(() => document.activeElement.tagName === 'H1', null, { timeout: 5000 });
  /* a server without schedules answers their list with 404, which the browser logs */
  const noSchedules = (await apiCall(env.base, env.alpha, 'GET', '/v1/schedules')).status === 404;
  const unexpected = errors.filter((e) => !(noSchedules && /404.*\/v1\/schedules\)$/.test(e)));
  expect(unexpected.length === 0, 'errors in the page: ' + unexpected.join('; '));
  await context.close();
});

/* ---- chains: the job page's graph, live; waiting and blocked stages ---- */

/* An external worker's claim of one job of type (the test runs that type itself), waiting for one
 * to be due. */
async function claim(type, limit) {
  for (let t = 0; t < 100; t++) {
    const r = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs/claim', { types: [type], worker: 'ui-worker', limit: limit || 1 });
    expect(r.status === 200, 'claim: ' + r.status + ' ' + JSON.stringify(r.json));
    if (r.json.jobs.length) return limit ? r.json.jobs : r.json.jobs[0];
    await sleep(100);
  }
  throw new Error('no ' + type + ' job was due');
}

async function finish(job, how, body) {
  const r = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs/' + job.id + '/' + how,
    Object.assign({ worker: 'ui-worker', leaseToken: job.leaseToken }, body));
  expect(r.status === 200, how + ': ' + r.status + ' ' + JSON.stringify(r.json));
  return r.json;
}

const node = (page, sel) => page.locator('#chain .node' + (sel || '[data-job]'));

test('a pipeline\'s job page draws its chain as a graph whose stages move live', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  const r = await apiCall(env.base, env.alpha, 'POST', '/v1/pipelines', { name: 'ui-three', stages: [
    { type: 'sleep', args: { ms: 2500 } }, { type: 'sleep', args: { ms: 2500 } }, { type: 'noop' }] });
  expect(r.status === 201, 'pipeline: ' + r.status + ' ' + JSON.stringify(r.json));
  const root = r.json.rootId;
  await page.evaluate((id) => { window.__sameDocument = true; location.hash = '#/jobs/' + id; }, root);
  await node(page).nth(2).waitFor({ timeout: 10000 });
  expect((await node(page).count()) === 3, 'nodes: ' + (await node(page).count()));
  expect((await page.locator('#chain path.edge').count()) === 2, 'edges: ' + (await page.locator('#chain path.edge').count()));
  const ids = await node(page).evaluateAll((els) => els.map((e) => e.dataset.job));
  expect(ids[0] === root, 'the root is not the first node');
  expect(await node(page, '[data-job="' + root + '"]').evaluate((e) => e.classList.contains('current')), 'the root is not marked as this page\'s job');
  /* the last stage waits while the first runs; then the second runs; then all completed */
  await node(page, '[data-job="' + ids[2] + '"][data-status="waiting"]').waitFor({ timeout: 5000 });
  await node(page, '[data-job="' + ids[1] + '"][data-status="processing"]').waitFor({ timeout: 10000 });
  expect((await node(page, '[data-job="' + ids[0] + '"]').getAttribute('data-status')) === 'completed', 'the first stage is not completed');
  await shot(page, 'chain-running');
  await node(page, '[data-status="completed"]').nth(2).waitFor({ timeout: 15000 });
  await page.locator('#chain-summary', { hasText: '3 completed' }).waitFor({ timeout: 5000 });
  expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  /* a node is a link to its job's page, which draws the same chain */
  await node(page, '[data-job="' + ids[1] + '"]').click();
  await page.waitForURL(new RegExp('#/jobs/' + ids[1] + '$'));
  await node(page, '.current[data-job="' + ids[1] + '"]').waitFor({ timeout: 5000 });
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('a stage that failed for good blocks the next; retried from its page, the chain completes', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  const r = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs',
    { type: 'noop', next: { type: 'ui-load', maxAttempts: 1, next: { type: 'noop' } } });
  expect(r.status === 201, 'submit: ' + r.status);
  const root = r.json.jobId;
  const load1 = await claim('ui-load');
  await finish(load1, 'fail', { error: 'the warehouse is down', retryable: false });
  await page.evaluate((id) => { location.hash = '#/jobs/' + id; }, root);
  await node(page, '[data-status="blocked"]').waitFor({ timeout: 10000 });
  const failedNode = node(page, '[data-status="failed"]');
  expect((await failedNode.getAttribute('data-job')) === load1.id, 'the failed node is not the failed stage');
  expect(/warehouse is down/.test(await failedNode.getAttribute('aria-label')), 'the failed node does not say why');
  expect((await page.locator('#chain path.e-blocked').count()) === 1, 'the edge to the blocked stage is not marked');
  expect(!/\bnull\b/.test(await page.locator('main').innerText()), 'the page says "null"');
  await shot(page, 'chain-blocked');
  await failedNode.click();
  await page.waitForURL(new RegExp('#/jobs/' + load1.id + '$'));
  await page.locator('#job-error', { hasText: 'warehouse is down' }).waitFor();
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.getByRole('button', { name: 'Retry job' }).click();
  /* the blocked stage waits again, live; the worker (this test) now succeeds */
  await node(page, '[data-status="waiting"]').waitFor({ timeout: 10000 });
  expect((await node(page, '[data-status="blocked"]').count()) === 0, 'a stage is still blocked after the retry');
  const load2 = await claim('ui-load');
  expect(load2.id === load1.id && load2.attempt === 2, 'the retried stage was not claimed again');
  await node(page, '[data-job="' + load1.id + '"][data-status="processing"]').waitFor({ timeout: 10000 });
  await finish(load2, 'complete', { result: { rows: 3 } });
  await node(page, '[data-status="completed"]').nth(2).waitFor({ timeout: 15000 });
  await page.locator('#job-status .status', { hasText: 'completed' }).waitFor({ timeout: 5000 });
  expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  const ev = (await apiCall(env.base, env.alpha, 'GET', '/v1/jobs/' + root)).json.events;
  expect(ev.filter((e) => e.to === 'processing').length === 1, 'the completed root ran again');
  await shot(page, 'chain-retried');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('a fan-out of 120 children folds past 20 into one box, and its join has an edge from each', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  const r = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs', { type: 'ui-split', join: { type: 'noop' } });
  expect(r.status === 201, 'submit: ' + r.status);
  const root = r.json.jobId;
  const split = await claim('ui-split');
  const children = [];
  for (let i = 0; i < 120; i++) children.push({ type: 'ui-page', args: { n: i } });
  await finish(split, 'complete', { children });
  /* the API shows 100 of them and sums up the rest; the 20 the graph shows are its first 20 */
  const tree = (await apiCall(env.base, env.alpha, 'GET', '/v1/jobs/' + root + '/chain')).json.chain.tree;
  const listed = tree.children.filter((k) => k.role === 'child').map((k) => k.id);
  const join = tree.children.find((k) => k.role === 'join').id;
  expect(listed.length === 100 && tree.more_children === 20, 'the API listed ' + listed.length + ', more ' + tree.more_children);
  const pages = await claim('ui-page', 1000);
  expect(pages.length === 120, 'claimed ' + pages.length + ' pages');
  const shownIds = new Set(listed.slice(0, 20));
  const doomed = pages.filter((p) => !shownIds.has(p.id)).slice(0, 12);
  const doomedIds = new Set(doomed.map((p) => p.id));
  const ends = pages.map((p) => doomedIds.has(p.id) ? finish(p, 'fail', { error: 'gone', retryable: false }) : finish(p, 'complete', { result: { n: 1 } }));
  await Promise.all(ends);
  await page.evaluate((id) => { location.hash = '#/jobs/' + id; }, root);
  const more = page.locator('#chain .node.more');
  await more.waitFor({ timeout: 10000 });
  await node(page, '[data-job="' + join + '"][data-status="completed"]').waitFor({ timeout: 15000 });
  const moreText = await more.innerText();
  expect(/\+100 more \(12 failed\)/.test(moreText), 'the folded box says: ' + moreText);
  expect((await node(page, '[data-role="child"]').count()) === 20, 'children drawn: ' + (await node(page, '[data-role="child"]').count()));
  expect((await page.locator('#chain path[data-to="' + join + '"]').count()) === 21, 'edges into the join: ' + (await page.locator('#chain path[data-to="' + join + '"]').count()));
  const box = await page.locator('#chain .chain-area').boundingBox();
  expect(box.height < 1700, 'the folded graph is ' + box.height + ' px high');
  await shot(page, 'chain-fanout');
  /* unfolded: every child the API listed */
  await more.click();
  await node(page, '[data-role="child"]').nth(99).waitFor({ timeout: 5000 });
  expect((await page.locator('#chain .node.more').innerText()).startsWith('+20 more'), 'after unfolding: ' + (await page.locator('#chain .node.more').innerText()));
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

test('lists, filters and counters know waiting and blocked stages', async () => {
  const waitR = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs', { type: 'ui-hold', next: { type: 'noop' } });
  const blockR = await apiCall(env.base, env.alpha, 'POST', '/v1/jobs', { type: 'ui-doom', maxAttempts: 1, next: { type: 'noop' } });
  expect(waitR.status === 201 && blockR.status === 201, 'submits');
  const doom = await claim('ui-doom');
  await finish(doom, 'fail', { error: 'doomed', retryable: false });
  const stageOf = async (id) => (await apiCall(env.base, env.alpha, 'GET', '/v1/jobs/' + id + '/children')).json.jobs[0];
  const waiting = await stageOf(waitR.json.jobId), blocked = await stageOf(blockR.json.jobId);
  expect(waiting.status === 'waiting' && blocked.status === 'blocked', 'statuses: ' + waiting.status + ', ' + blocked.status);
  const { context, page, errors } = await signedIn(env.alpha);
  for (const [status, job] of [['waiting', waiting], ['blocked', blocked]]) {
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByLabel('Status').selectOption(status);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(new RegExp('status=' + status));
    await page.locator('tbody a[href="#/jobs/' + job.id + '"]').waitFor({ timeout: 5000 });
    const statuses = await page.locator('tbody .status').allInnerTexts();
    expect(statuses.every((s) => s === status), status + ': ' + statuses.join(','));
  }
  await shot(page, 'jobs-blocked');
  await page.locator('tbody a[href="#/jobs/' + blocked.id + '"]').click();
  await page.locator('#job-blocked').waitFor();
  expect(await page.getByRole('button', { name: 'Retry job' }).isDisabled(), 'a blocked stage offers a retry');
  await page.getByRole('link', { name: 'Overview' }).click();
  const m = (await apiCall(env.base, env.alpha, 'GET', '/v1/metrics?window=1h')).json;
  expect(m.waitingJobs >= 1 && m.blockedJobs >= 1, 'metrics: ' + m.waitingJobs + ' waiting, ' + m.blockedJobs + ' blocked');
  const card = (k) => page.locator('.card', { has: page.locator('.k', { hasText: new RegExp('^' + k + '$') }) }).locator('.v');
  await card('Blocked').filter({ hasText: String(m.blockedJobs) }).waitFor({ timeout: 5000 });
  await card('Waiting').filter({ hasText: String(m.waitingJobs) }).waitFor({ timeout: 5000 });
  /* a batch's filter has them too */
  await page.goto(env.base + '/#/batches/ui-batch-1');
  const opts = await page.getByLabel('Jobs with status').locator('option').allInnerTexts();
  expect(opts.includes('waiting') && opts.includes('blocked'), 'batch filter: ' + opts.join(','));
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

/* ---- schedules ---- */

/* A stand-in for the schedules API, to the contract of GET/POST /v1/schedules, pause, resume and
 * DELETE, in front of the real server (every other path goes through to it, the event stream
 * too). Used only when the server answers 404 to GET /v1/schedules (a build without schedules). */
function scheduleStandIn() {
  const list = new Map();
  let n = 0;
  const fieldOk = (f) => /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/.test(f);
  const send = (res, status, body) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)); };
  const bad = (res, status, code, message) => send(res, status, { success: false, error: { code, message } });
  const handle = (req, res, body) => {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/v1\/schedules(?:\/([^/]+))?(?:\/(pause|resume))?$/);
    const s = m && m[1] ? list.get(m[1]) : null;
    if (m && m[1] && !s) return bad(res, 404, 'not_found', 'schedule ' + m[1] + ' not found');
    if (req.method === 'GET' && !m[1]) return send(res, 200, { success: true, schedules: [...list.values()] });
    if (req.method === 'GET') return send(res, 200, s);
    if (req.method === 'DELETE' && s && !m[2]) { list.delete(s.id); return send(res, 200, { deleted: true }); }
    if (req.method === 'POST' && s && m[2]) { s.paused = m[2] === 'pause'; return send(res, 200, s); }
    if (req.method !== 'POST' || m[1]) return bad(res, 405, 'method_not_allowed', req.method + ' is not allowed');
    let b;
    try { b = JSON.parse(body); } catch (e) { return bad(res, 400, 'bad_request', 'the body is not valid JSON'); }
    if (!b.name) return bad(res, 400, 'bad_request', 'name is required');
    if ([...list.values()].some((x) => x.name === b.name)) return bad(res, 409, 'conflict', 'a schedule named ' + b.name + ' exists');
    const f = String(b.cron || '').trim().split(/\s+/);
    const names = ['minute', 'hour', 'day of month', 'month', 'day of week'];
    if (!/^@(hourly|daily|every \d+[smh])$/.test(b.cron || '')) {
      if (f.length !== 5) return bad(res, 400, 'bad_request', 'cron: expected 5 fields, got ' + f.length);
      for (let i = 0; i < 5; i++) if (!fieldOk(f[i]) || (i === 0 && Number(f[i]) > 59)) return bad(res, 400, 'bad_request', 'cron: field ' + (i + 1) + ' (' + names[i] + ') "' + f[i] + '" is not valid');
    }
    const id = '01a2' + String(++n).padStart(4, '0') + '-0000-7000-8000-000000000000';
    const step = /^\*\/(\d+)$/.test(f[0]) ? Number(f[0].slice(2)) : 60;
    const next = Math.ceil((Date.now() + 1) / (step * 60000)) * step * 60000;
    const sc = { id, name: b.name, cron: b.cron, timezone: b.timezone || 'UTC', missed: b.missed || 'skip', job: b.job, paused: false,
      nextRunAt: new Date(next).toISOString(), lastRunAt: null, lastJobId: null, createdAt: new Date().toISOString() };
    list.set(id, sc);
    return send(res, 201, sc);
  };
  const target = new URL(env.base);
  const server = http.createServer((req, res) => {
    if (/^\/v1\/schedules(\/|$|\?)/.test(req.url)) {
      if (!req.headers.authorization) return bad(res, 401, 'unauthorized', 'unauthorized');
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => handle(req, res, body));
      return;
    }
    const p = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (pr) => {
      res.writeHead(pr.statusCode, pr.headers);
      pr.pipe(res);
    });
    p.on('error', () => res.destroy());
    req.pipe(p);
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, base: 'http://127.0.0.1:' + server.address().port })));
}

test('schedules: add one with the form (a bad cron told at the field), see its next run, pause, resume, delete', async () => {
  const real = await apiCall(env.base, env.alpha, 'GET', '/v1/schedules');
  let standIn = null;
  if (real.status === 404) {
    standIn = await scheduleStandIn();
    console.log('note this server has no GET /v1/schedules (404): the schedules view is tested against the test\'s stand-in for that API');
  } else {
    expect(real.status === 200, 'GET /v1/schedules: ' + real.status);
  }
  const saved = env.base;
  if (standIn) env.base = standIn.base;
  try {
    const { context, page, errors } = await signedIn(env.alpha);
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('heading', { name: 'Schedules' }).waitFor();
    await page.getByText('No schedule yet').waitFor({ timeout: 5000 });
    const name = 'ui-every-5-' + Date.now();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Cron').fill('61 * * * *');
    await page.getByLabel('Timezone').fill('Europe/Paris');
    await page.getByLabel('Job type').fill('noop');
    await page.getByLabel('Job args (JSON)').fill('{"from": "schedule"}');
    await page.getByLabel('Missed slots').selectOption('once');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    const cronErr = page.locator('#sched-cron-error');
    await cronErr.filter({ hasText: /\S/ }).waitFor({ timeout: 5000 });
    expect((await page.getByLabel('Cron').getAttribute('aria-invalid')) === 'true', 'the cron field is not marked invalid');
    expect((await page.locator('tr[data-schedule]').count()) === 0, 'a bad schedule was listed');
    await shot(page, 'schedules-bad-cron');
    await page.getByLabel('Cron').fill('*/5 * * * *');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    const row = page.locator('tr[data-schedule="' + name + '"]');
    await row.waitFor({ timeout: 5000 });
    expect((await cronErr.innerText()) === '', 'the cron error stayed');
    const next = await row.locator('td.next-run').innerText();
    expect(/^in \d+ (s|min)$/.test(next), 'next run: ' + next);
    expect((await row.locator('.status').innerText()) === 'active', 'state: ' + (await row.locator('.status').innerText()));
    const listed = (await apiCall(env.base, env.alpha, 'GET', '/v1/schedules')).json.schedules.find((x) => x.name === name);
    expect(listed && listed.timezone === 'Europe/Paris' && listed.missed === 'once' && listed.job.type === 'noop' && listed.job.args.from === 'schedule',
      'as stored: ' + JSON.stringify(listed));
    /* the same name again: the 409 is told at the name */
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Cron').fill('@hourly');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    await page.locator('#sched-name-error').filter({ hasText: /\S/ }).waitFor({ timeout: 5000 });
    await shot(page, 'schedules');
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.locator('.status', { hasText: 'paused' }).waitFor({ timeout: 5000 });
    const one = (await apiCall(env.base, env.alpha, 'GET', '/v1/schedules/' + listed.id)).json;
    expect((one.schedule || one).paused === true, 'not paused in the API: ' + JSON.stringify(one));
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.locator('.status', { hasText: 'active' }).waitFor({ timeout: 5000 });
    await row.getByRole('button', { name: 'Delete' }).click();
    await row.getByRole('button', { name: 'Really delete?' }).click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    expect((await apiCall(env.base, env.alpha, 'GET', '/v1/schedules/' + listed.id)).status === 404, 'still there after delete');
    /* the browser logs the 400 and the 409 it was answered */
    const unexpected = errors.filter((e) => !/status of (400|409)/.test(e));
    expect(unexpected.length === 0, 'errors in the page: ' + unexpected.join('; '));
    await context.close();
  } finally {
    env.base = saved;
    if (standIn) standIn.server.close();
  }
});

/* ---- imports ---- */

test('imports: upload a feed, watch it deliver live, redeliver a call, confirm a preview\'s mappings', async () => {
  const { context, page, errors } = await signedIn(env.alpha);
  await page.getByRole('link', { name: 'Imports' }).click();
  await page.getByRole('heading', { name: 'Imports' }).waitFor();
  let csv = 'sku;title;price\n';
  for (let i = 1; i <= 3000; i++) csv += 'U' + i + ';Mug ' + i + ';' + (i % 30 + 1) + ',50\n';
  csv += 'U9999;;not a price\n';
  await page.getByLabel('Feed file').setInputFiles({ name: 'mugs.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByLabel('Webhook URL').fill(env.hook + '/hook');
  await page.getByLabel('Signing secret').fill(HOOK_SECRET);
  await page.getByRole('button', { name: 'Upload and import' }).click();
  await page.waitForURL(/#\/imports\/[0-9a-f-]{36}$/);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.locator('#import-status .status', { hasText: 'completed' }).waitFor({ timeout: 30000 });
  expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  const counts = await page.locator('#import-counts').innerText();
  expect(/^3.?000 products, 1 failed rows, 3.?000 delivered/.test(counts), 'counts: ' + counts);
  await page.getByText('is not a number').first().waitFor();
  await page.locator('tr[data-call]').first().waitFor();
  expect((await page.locator('tr[data-call]').count()) === 6, 'calls: ' + (await page.locator('tr[data-call]').count()));
  const received = async () => (await (await fetch(env.hook + '/received?deliveries=0')).json());
  let rx = await received();
  expect(rx.products === 3000 && rx.bad_signatures === 0 && rx.duplicates === 0, 'received: ' + JSON.stringify(rx));
  await page.locator('tr[data-call]').first().getByRole('button', { name: 'Redeliver' }).click();
  await page.locator('#import-action-out', { hasText: 'sent again' }).waitFor({ timeout: 5000 });
  for (let t = 0; t < 100 && (rx = await received()).duplicates < 1; t++) await sleep(100);
  expect(rx.duplicates === 1 && rx.products === 3000, 'after the redelivery: ' + JSON.stringify(rx));
  await shot(page, 'import');

  /* a preview: the fields shown, price left unmapped, started */
  await page.getByRole('link', { name: 'Imports' }).click();
  await page.getByLabel('Feed file').setInputFiles({ name: 'mugs-preview.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByLabel('Mode').selectOption('preview');
  await page.getByRole('button', { name: 'Upload and import' }).click();
  await page.waitForURL(/#\/imports\/[0-9a-f-]{36}$/);
  await page.locator('#mapping-form').waitFor({ timeout: 30000 });
  expect((await page.locator('#map-name').inputValue()) === 'title', 'name is suggested from ' + (await page.locator('#map-name').inputValue()));
  await shot(page, 'import-preview');
  await page.locator('#map-price').selectOption('');
  await page.getByRole('button', { name: 'Start import' }).click();
  await page.locator('#import-status .status', { hasText: 'completed' }).waitFor({ timeout: 30000 });
  const c2 = await page.locator('#import-counts').innerText();
  expect(/^3.?001 products, 0 failed rows/.test(c2), 'counts: ' + c2);
  await page.getByRole('link', { name: 'Imports' }).click();
  expect((await page.locator('tr[data-import]').count()) === 2, 'the list');
  await shot(page, 'imports');
  expect(errors.length === 0, 'errors in the page: ' + errors.join('; '));
  await context.close();
});

let passed = 0, failed = 0;
try {
  await setup();
  const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null; /* ONLY=regex: those tests */
  for (const t of tests) {
    if (only && !only.test(t.name)) continue;
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
