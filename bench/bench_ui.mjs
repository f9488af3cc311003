// The dashboard with a batch of 100,000 jobs: how long the calls its batch view makes take, and
// how long Chromium takes from opening the batch (or its last page) to the jobs shown. Prints one
// line per figure.
// usage: node bench/bench_ui.mjs BUILD_DIR [--jobs N]   (after `npm ci` in tests/browser)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const build = resolve(process.argv[2] || 'build');
const ji = process.argv.indexOf('--jobs');
const n = ji > 0 ? Number(process.argv[ji + 1]) : 100000;
const trawl = join(build, 'trawl');
const dir = mkdtempSync(join(tmpdir(), 'trawl-bench-ui-'));
/* playwright-core is installed for the browser tests, in tests/browser */
const { chromium } = createRequire(new URL('../tests/browser/package.json', import.meta.url))('playwright-core');

function start() {
  return new Promise((res, rej) => {
    const db = join(dir, 'ui.db');
    const tok = execFileSync(trawl, ['token', 'create', '--workspace', 'bench', '--db', db]).toString().trim();
    const p = spawn(trawl, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--crawl-workers', '0', '--workers', '0',
      '--body-max', String(64 << 20)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on port (\d+)/);
      if (m) res({ proc: p, base: 'http://127.0.0.1:' + m[1], tok });
    });
    p.on('exit', (c) => rej(new Error('serve exited ' + c)));
  });
}

async function timed(base, tok, path, rounds) {
  const ms = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await fetch(base + path, { headers: { Authorization: 'Bearer ' + tok } });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(path + ': ' + r.status);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(rounds / 2)], max: ms[rounds - 1] };
}

const srv = await start();
try {
  const urls = [];
  for (let i = 0; i < n; i++) urls.push('http://127.0.0.2:9/p/' + i);
  let t0 = performance.now();
  const r = await fetch(srv.base + '/v1/crawl-jobs/batch', { method: 'POST',
    headers: { Authorization: 'Bearer ' + srv.tok, 'Content-Type': 'application/json' },
    body: JSON.stringify({ batchId: 'big', urls }) });
  const j = await r.json();
  if (j.successCount !== n) throw new Error('batch: ' + JSON.stringify(j).slice(0, 300));
  console.log(`ui_batch_made jobs=${n} seconds=${((performance.now() - t0) / 1000).toFixed(2)}`);
  for (const [name, path] of [
    ['batch_first_page', '/v1/batches/big?limit=50&offset=0'],
    ['batch_last_page', `/v1/batches/big?limit=50&offset=${n - 50}`],
    ['batch_by_status', '/v1/batches/big?limit=50&offset=0&status=failed'],
    ['batches_list', '/v1/batches?limit=20&offset=0'],
    ['jobs_list', '/v1/jobs?limit=50'],
    ['overview_metrics', '/v1/metrics?window=1h'],
  ]) {
    const t = await timed(srv.base, srv.tok, path, 20);
    console.log(`ui_api call=${name} jobs=${n} p50_ms=${t.p50.toFixed(2)} max_ms=${t.max.toFixed(2)}`);
  }
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(srv.base + '/');
  await page.getByLabel('API token').fill(srv.tok);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#live.on').waitFor();
  for (const [name, hash] of [['batch_view', '#/batches/big'], ['batch_view_last_page', `#/batches/big?offset=${n - 50}`]]) {
    t0 = performance.now();
    await page.goto(srv.base + '/' + hash);
    await page.locator('tbody tr').nth(49).waitFor();
    console.log(`ui_view view=${name} jobs=${n} ms=${(performance.now() - t0).toFixed(0)}`);
  }
  await browser.close();
} finally {
  srv.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
