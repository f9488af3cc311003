/* trawl's dashboard: plain JavaScript, no build step, served by trawl serve itself.
 *
 * It signs in with an API token (kept in sessionStorage, sent as a bearer token), reads the API,
 * and stays live over GET /v1/events, read with fetch() so the token goes in a header (an
 * EventSource cannot send one). Views re-read what they show when an event says it changed, at
 * most once a second (a job's chain, twice): no polling loop, but for the schedules' countdowns.
 * Everything from the server is put in the page as text, never as HTML; a fetched page is shown
 * in a sandboxed frame with no scripts and an origin of its own. A job's chain graph is in
 * chain.js, the schedules view in schedules.js, the imports views in imports.js (all loaded before
 * this file). */
'use strict';

const state = {
  token: sessionStorage.getItem('trawl.token'),
  workspace: null,
  lastEventId: null,
  listeners: new Set(),
  alerts: [],
  stream: null,
  cleanup: [],
};

/* ---- small helpers ---- */

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '—';
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  if (isNaN(d)) return String(v);
  return d.toLocaleString(undefined, { hour12: false });
}

function num(v, digits) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number' && digits !== undefined) return v.toFixed(digits);
  return Number(v).toLocaleString();
}

/* Every job status, in the order a job meets them; waiting and blocked are chain stages' (waiting
 * for the stage before them; blocked by one that failed for good). */
const STATUSES = ['pending', 'waiting', 'processing', 'retrying', 'completed', 'failed', 'blocked', 'cancelled'];

function statusOptions(id, current) {
  return h('select', { id }, ['', ...STATUSES].map((s) => h('option', { value: s, text: s || 'any', selected: s === current })));
}

function statusBadge(s) {
  return h('span', { class: 'status s-' + s, text: s });
}

function bar(pct, label, bad) {
  const p = Math.max(0, Math.min(100, Number(pct) || 0));
  const fill = h('span', { class: bad ? 'bad' : '' });
  fill.style.width = p + '%'; /* through the CSSOM: the page's policy allows no style attributes */
  return h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': p.toFixed(0), 'aria-label': label || 'progress' }, fill);
}

function shortId(id) {
  return id ? id.slice(0, 8) + '…' + id.slice(-4) : '';
}

function params(hash) {
  const i = hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
}

function banner(msg) {
  const b = document.getElementById('banner');
  if (!msg) { b.hidden = true; b.textContent = ''; return; }
  b.textContent = msg;
  b.hidden = false;
}

/* Run fn at most once per ms (trailing call kept): views re-read on events without a flood. */
function throttle(fn, ms) {
  let timer = null, again = false;
  return function run() {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(() => { timer = null; if (again) { again = false; run(); } }, ms);
  };
}

/* ---- the API ---- */

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + state.token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'the server cannot be reached (' + e.message + ')');
  }
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 401) {
    if (state.workspace) signOut('The token was refused: sign in again.');
    throw new ApiError(401, 'unauthorized');
  }
  if (!r.ok) {
    const e = j && j.error;
    throw new ApiError(r.status, e ? (typeof e === 'string' ? e : e.message) : r.status + ' ' + r.statusText);
  }
  return j;
}

/* A file from the API, saved through the browser (a link cannot carry the token). */
async function download(path, name) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + state.token } });
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try { const j = await r.json(); msg = j.error.message; } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, msg);
  }
  const blob = await r.blob();
  const a = h('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

/* ---- live events ---- */

function onEvent(fn) {
  state.listeners.add(fn);
  state.cleanup.push(() => state.listeners.delete(fn));
}

function setLive(on, text) {
  const el = document.getElementById('live');
  el.className = 'live ' + (on ? 'on' : 'off');
  el.textContent = text;
}

function dispatch(ev) {
  if (ev.id) state.lastEventId = ev.id;
  let data = null;
  try { data = JSON.parse(ev.data); } catch (e) { return; }
  if (ev.event === 'alert') {
    state.alerts.unshift(data);
    state.alerts.length = Math.min(state.alerts.length, 50);
  }
  for (const fn of [...state.listeners]) {
    try { fn(ev.event, data); } catch (e) { console.error(e); }
  }
}

async function streamEvents() {
  if (state.stream) return;
  const ctl = new AbortController();
  state.stream = ctl;
  while (!ctl.signal.aborted && state.token) {
    try {
      const headers = { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' };
      if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
      const r = await fetch('/v1/events', { headers, signal: ctl.signal });
      if (r.status === 401) { signOut('The token was refused: sign in again.'); return; }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      setLive(true, 'live');
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '', ev = { data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
          if (line === '') {
            if (ev.data.length) dispatch({ id: ev.id, event: ev.event || 'message', data: ev.data.join('\n') });
            ev = { data: [] };
            continue;
          }
          if (line[0] === ':') continue;
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          let value2 = c < 0 ? '' : line.slice(c + 1);
          if (value2[0] === ' ') value2 = value2.slice(1);
          if (field === 'data') ev.data.push(value2);
          else if (field === 'event') ev.event = value2;
          else if (field === 'id') ev.id = value2;
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    setLive(false, 'reconnecting');
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/* ---- signing in ---- */

function signOut(why) {
  sessionStorage.removeItem('trawl.token');
  state.token = null;
  state.workspace = null;
  if (state.stream) { state.stream.abort(); state.stream = null; }
  document.getElementById('signout').hidden = true;
  document.getElementById('workspace').textContent = '';
  setLive(false, 'offline');
  showSignIn(why);
}

function showSignIn(why) {
  const main = document.getElementById('main');
  main.replaceChildren(document.getElementById('signin').content.cloneNode(true));
  const err = document.getElementById('signin-error');
  if (why) err.textContent = why;
  document.getElementById('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const tok = document.getElementById('token').value.trim();
    if (!tok) return;
    state.token = tok;
    try {
      await api('GET', '/v1/metrics?window=5m');
    } catch (x) {
      state.token = null;
      err.textContent = x.status === 401 ? 'That token is not valid (or was revoked).' : x.message;
      return;
    }
    sessionStorage.setItem('trawl.token', tok);
    start();
  });
  document.getElementById('token').focus();
}

async function start() {
  try {
    const m = await api('GET', '/v1/metrics?window=5m');
    state.workspace = m.workspace;
  } catch (e) {
    if (e.status !== 401) banner(e.message);
    return;
  }
  document.getElementById('workspace').textContent = 'workspace ' + state.workspace;
  document.getElementById('signout').hidden = false;
  streamEvents();
  route();
}

/* ---- views ---- */

function page(title, ...kids) {
  const main = document.getElementById('main');
  const h1 = h('h1', { text: title, tabindex: -1 });
  main.replaceChildren(h1, ...kids);
  document.title = title + ' — trawl';
  return main;
}

function table(head, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted', text: empty || 'Nothing here.' });
  return h('div', { class: 'table-wrap' },
    h('table', {}, h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows)));
}

function pager(offset, limit, hasNext, go) {
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'secondary', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, 'Previous'),
    h('span', { class: 'muted', text: 'from ' + (offset + 1) }),
    h('button', { type: 'button', class: 'secondary', disabled: !hasNext, onclick: () => go(offset + limit) }, 'Next'));
}

async function guarded(fn) {
  try { banner(null); await fn(); } catch (e) { if (e.status !== 401) banner(e.message); }
}

/* Overview: the figures, a chart per type of the last hour, breakers, stuck jobs, alerts. */
async function viewOverview() {
  const cards = h('div', { class: 'cards', 'aria-live': 'polite' });
  const charts = h('div', { class: 'charts' });
  const breakers = h('div');
  const stuck = h('div');
  const alerts = h('div');
  page('Overview', cards,
    h('h2', { text: 'Last hour, per job type' }), charts,
    h('h2', { text: 'Circuit breakers' }), breakers,
    h('h2', { text: 'Stuck jobs' }), stuck,
    h('h2', { text: 'Recent alerts' }), alerts);
  const load = async () => {
    const [m, series, br, running] = await Promise.all([
      api('GET', '/v1/metrics?window=1h'),
      api('GET', '/v1/metrics/series?window=1h'),
      api('GET', '/v1/breakers'),
      api('GET', '/v1/jobs?status=processing&limit=200'),
    ]);
    const card = (k, v, hint) => h('div', { class: 'card' }, h('div', { class: 'k', text: k }), h('div', { class: 'v', text: v, title: hint || null }));
    cards.replaceChildren(
      card('Queued', num(m.queuedJobs)), card('Processing', num(m.processingJobs)),
      card('Completed', num(m.completedJobs)), card('Failed', num(m.failedJobs)),
      card('Retrying', num(m.retryingJobs)),
      card('Waiting', num(m.waitingJobs), 'stages of chains waiting for the stage before them'),
      card('Blocked', num(m.blockedJobs), 'stages of chains blocked by one that failed: retry that one'),
      card('Throughput / min', num(m.throughputPerMinute, 1), 'jobs completed per minute, last hour'),
      card('Error rate', (100 * m.errorRate).toFixed(1) + '%', 'failed for good over ended, last hour'),
      card('Avg. processing', num(m.averageProcessingTime, 0) + ' ms'));
    const types = Object.keys(series.byType).sort();
    charts.replaceChildren(...(types.length ? types.map((t) => chart(t, series.byType[t], m.byType[t])) : [h('p', { class: 'muted', text: 'No job ended in the last hour.' })]));
    breakers.replaceChildren(table(['Service', 'State', 'Failures', 'Retry at'],
      br.breakers.map((b) => h('tr', {}, h('td', { text: b.service }), h('td', {}, statusBadge(b.state)),
        h('td', { text: b.failures }), h('td', { text: fmtTime(b.retry_at) }))), 'Every breaker is closed.'));
    const now = Date.now();
    const old = running.jobs.filter((j) => j.last_heartbeat && now - Date.parse(j.last_heartbeat) > 60000);
    stuck.replaceChildren(table(['Job', 'Type', 'Stage', 'Last heartbeat'],
      old.map((j) => h('tr', {}, h('td', {}, h('a', { href: '#/jobs/' + j.id, text: shortId(j.id) })),
        h('td', { text: j.type }), h('td', { text: j.stage || '—' }), h('td', { text: fmtTime(j.last_heartbeat) }))),
      'No running job has gone a minute without a heartbeat.'));
    alerts.replaceChildren(table(['When', 'Kind', 'Message'],
      state.alerts.map((a) => h('tr', {}, h('td', { text: fmtTime(a.at) }), h('td', { text: a.kind }),
        h('td', { class: 'err', text: a.message }))), 'No alert since this page was opened.'));
  };
  const refresh = throttle(() => guarded(load), 1000);
  onEvent((kind) => { if (kind !== 'progress') refresh(); });
  await guarded(load);
}

function chart(type, s, fig) {
  const w = 240, hgt = 60;
  const done = s.completed, bad = s.failed;
  const max = Math.max(1, ...done, ...bad);
  const pts = (arr) => arr.map((v, i) => (i * w / Math.max(1, arr.length - 1)).toFixed(1) + ',' + (hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)).join(' ');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + hgt);
  svg.setAttribute('role', 'img');
  const total = done.reduce((a, b) => a + b, 0), failed = bad.reduce((a, b) => a + b, 0);
  svg.setAttribute('aria-label', type + ': ' + total + ' completed and ' + failed + ' failed in the last hour, per minute');
  for (const [arr, cls] of [[done, 'line-ok'], [bad, 'line-bad']]) {
    const p = document.createElementNS(ns, 'polyline');
    p.setAttribute('points', pts(arr));
    p.setAttribute('class', cls);
    svg.append(p);
  }
  return h('div', { class: 'panel chart' }, h('strong', { text: type }),
    h('div', { class: 'muted', text: num(total) + ' completed, ' + num(failed) + ' failed' + (fig ? ', ' + num(fig.queuedJobs) + ' queued' : '') }), svg);
}

/* Submit: one URL, a list of URLs as a batch, a scraping session. */
async function viewSubmit() {
  const out = h('p', { role: 'status', 'aria-live': 'polite' });
  const url = h('input', { id: 'one-url', type: 'url', required: true, placeholder: 'https://example.com/', size: 50 });
  const one = h('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); guarded(async () => {
    const r = await api('POST', '/v1/crawl-jobs', { url: url.value.trim() });
    location.hash = '#/jobs/' + r.jobId;
  }); } },
  h('h2', { text: 'One URL' }), h('label', { for: 'one-url', text: 'URL to crawl' }),
  h('div', { class: 'row' }, url, h('button', { type: 'submit' }, 'Submit')));

  const urls = h('textarea', { id: 'batch-urls', placeholder: 'One URL per line', spellcheck: 'false' });
  const file = h('input', { id: 'batch-file', type: 'file', accept: '.txt,.csv,text/plain' });
  file.addEventListener('change', async () => {
    if (file.files[0]) urls.value = await file.files[0].text();
  });
  const bid = h('input', { id: 'batch-id', placeholder: 'optional', maxlength: 128 });
  const batch = h('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); guarded(async () => {
    const list = urls.value.split(/\r?\n/).map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
    if (!list.length) { banner('Paste or upload at least one URL.'); return; }
    const body = { urls: list };
    if (bid.value.trim()) body.batchId = bid.value.trim();
    const r = await api('POST', '/v1/crawl-jobs/batch', body);
    out.textContent = r.successCount + ' jobs made' + (r.failedCount ? ', ' + r.failedCount + ' URLs refused' : '') + '.';
    location.hash = '#/batches/' + encodeURIComponent(r.batchId);
  }); } },
  h('h2', { text: 'A batch of URLs' }),
  h('label', { for: 'batch-urls', text: 'URLs, one per line' }), urls,
  h('div', { class: 'row' },
    h('div', {}, h('label', { for: 'batch-file', text: 'or a file of URLs' }), file),
    h('div', {}, h('label', { for: 'batch-id', text: 'Batch id' }), bid),
    h('button', { type: 'submit' }, 'Submit batch')));

  const src = h('input', { id: 'session-url', type: 'url', required: true, placeholder: 'https://shop.example/', size: 40 });
  const mode = h('select', { id: 'session-mode' }, ['both', 'sitemap', 'crawl'].map((m) => h('option', { value: m, text: m })));
  const maxp = h('input', { id: 'session-max', type: 'number', min: 1, max: 1000000, value: 1000 });
  const conc = h('input', { id: 'session-conc', type: 'number', min: 1, max: 32, value: 4 });
  const session = h('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); guarded(async () => {
    const r = await api('POST', '/v1/scraping-sessions', {
      source_url: src.value.trim(), mode: mode.value, max_pages: Number(maxp.value), concurrency: Number(conc.value) });
    location.hash = '#/sessions/' + r.session.id;
  }); } },
  h('h2', { text: 'A scraping session' }),
  h('div', { class: 'row' },
    h('div', {}, h('label', { for: 'session-url', text: 'Start page' }), src),
    h('div', {}, h('label', { for: 'session-mode', text: 'Pages from' }), mode),
    h('div', {}, h('label', { for: 'session-max', text: 'Most pages' }), maxp),
    h('div', {}, h('label', { for: 'session-conc', text: 'At once' }), conc),
    h('button', { type: 'submit' }, 'Start session')));
  page('Submit', one, batch, session, out);
}

/* Batches, newest first, with live progress. */
async function viewBatches(hash) {
  const p = params(hash);
  const offset = Number(p.get('offset') || 0), limit = 20;
  const body = h('div');
  page('Batches', body);
  const rows = new Map(); /* batch id -> {tr, created_at} */
  const load = async () => {
    const r = await api('GET', '/v1/batches?limit=' + limit + '&offset=' + offset);
    rows.clear();
    const trs = r.batches.map((b) => {
      const tr = batchRow(b);
      rows.set(b.batchId, { tr, created_at: b.created_at });
      return tr;
    });
    body.replaceChildren(table(['Batch', 'Progress', 'Jobs', 'Completed', 'Failed', 'Created'], trs, 'No batch yet: submit one.'),
      pager(offset, limit, r.batches.length === limit && offset + limit < r.total, (o) => { location.hash = '#/batches?offset=' + o; }));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind, d) => {
    if (kind !== 'batch') return;
    const row = rows.get(d.batchId);
    if (row) {
      const tr = batchRow(Object.assign({ created_at: row.created_at }, d));
      row.tr.replaceWith(tr);
      row.tr = tr;
    } else if (offset === 0) {
      reload();
    }
  });
  await guarded(load);
}

function batchRow(b) {
  const c = b.counts || b;
  const pct = b.progress !== undefined ? b.progress : 0;
  return h('tr', { 'data-batch': b.batchId },
    h('td', {}, h('a', { href: '#/batches/' + encodeURIComponent(b.batchId), text: b.batchId })),
    h('td', {}, bar(pct, 'batch ' + b.batchId + ' progress', false), h('span', { class: 'muted', text: ' ' + Number(pct).toFixed(0) + '%' })),
    h('td', { text: num(b.total) }), h('td', { text: num(c.completed) }), h('td', { text: num(c.failed) }),
    h('td', { text: fmtTime(b.created_at) }));
}

/* One batch: live progress, its jobs by status, retry its failed jobs. */
async function viewBatch(hash, id) {
  id = decodeURIComponent(id);
  const p = params(hash);
  const status = p.get('status') || '';
  const offset = Number(p.get('offset') || 0), limit = 50;
  const head = h('div', { class: 'panel' });
  const jobs = h('div');
  const sel = statusOptions('batch-status', status);
  sel.addEventListener('change', () => { location.hash = '#/batches/' + encodeURIComponent(id) + (sel.value ? '?status=' + sel.value : ''); });
  const retry = h('button', { type: 'button', class: 'secondary', onclick: () => guarded(async () => {
    const r = await api('POST', '/v1/batches/' + encodeURIComponent(id) + '/retry-failed', {});
    banner(null);
    retry.textContent = 'Retried ' + r.count + ' jobs';
    await load();
  }) }, 'Retry failed jobs');
  page('Batch ' + id, head, h('div', { class: 'row' }, h('div', {}, h('label', { for: 'batch-status', text: 'Jobs with status' }), sel), retry), jobs);
  const showHead = (b) => {
    const c = b.counts || b;
    head.replaceChildren(bar(b.progress, 'batch progress', c.failed > 0 && b.progress >= 100),
      h('p', { id: 'batch-progress', 'aria-live': 'polite' },
        h('strong', { text: Number(b.progress).toFixed(0) + '%' }), ' of ' + num(b.total) + ' jobs ended: ' +
        num(c.completed) + ' completed, ' + num(c.failed) + ' failed, ' + num(c.processing) + ' processing, ' +
        num(c.pending) + ' pending, ' + num(c.retrying) + ' retrying, ' + num(c.cancelled) + ' cancelled'));
    retry.disabled = !c.failed;
  };
  const load = async () => {
    const q = '?limit=' + limit + '&offset=' + offset + (status ? '&status=' + status : '');
    const r = await api('GET', '/v1/batches/' + encodeURIComponent(id) + q);
    showHead(r);
    jobs.replaceChildren(table(['Job', 'URL', 'Status', 'Attempt', 'Error'],
      r.jobs.map((j) => h('tr', {}, h('td', {}, h('a', { href: '#/jobs/' + j.id, text: shortId(j.id) })),
        h('td', { class: 'url', text: j.url || '' }), h('td', {}, statusBadge(j.status)), h('td', { text: j.attempt }),
        h('td', { class: 'err', text: j.error || '' }))), 'No job here.'),
    pager(offset, limit, r.nextOffset !== null, (o) => { location.hash = '#/batches/' + encodeURIComponent(id) + '?offset=' + o + (status ? '&status=' + status : ''); }));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind, d) => {
    if (kind === 'batch' && d.batchId === id) { showHead(d); reload(); }
  });
  await guarded(load);
}

/* Jobs: filter by type, status, batch. */
async function viewJobs(hash) {
  const p = params(hash);
  const f = { type: p.get('type') || '', status: p.get('status') || '', batch: p.get('batch') || '' };
  const cursor = p.get('cursor') || '';
  const list = h('div');
  const type = h('input', { id: 'f-type', value: f.type, placeholder: 'any', size: 12 });
  const status = statusOptions('f-status', f.status);
  const batch = h('input', { id: 'f-batch', value: f.batch, placeholder: 'any', size: 16 });
  const form = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (type.value.trim()) q.set('type', type.value.trim());
    if (status.value) q.set('status', status.value);
    if (batch.value.trim()) q.set('batch', batch.value.trim());
    location.hash = '#/jobs' + (q.toString() ? '?' + q : '');
  } },
  h('div', {}, h('label', { for: 'f-type', text: 'Type' }), type),
  h('div', {}, h('label', { for: 'f-status', text: 'Status' }), status),
  h('div', {}, h('label', { for: 'f-batch', text: 'Batch' }), batch),
  h('div', {}, h('label', { text: 'Workspace' }), h('span', { text: state.workspace })),
  h('button', { type: 'submit' }, 'Filter'));
  page('Jobs', form, list);
  const load = async () => {
    const q = new URLSearchParams({ limit: 50 });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    const r = await api('GET', '/v1/jobs?' + q);
    const next = () => { const n = new URLSearchParams(q); n.delete('limit'); n.set('cursor', r.nextCursor); location.hash = '#/jobs?' + n; };
    list.replaceChildren(table(['Job', 'Type', 'Status', 'Progress', 'Attempt', 'Batch', 'Created'],
      r.jobs.map((j) => h('tr', {}, h('td', {}, h('a', { href: '#/jobs/' + j.id, text: shortId(j.id) })),
        h('td', { text: j.type }), h('td', {}, statusBadge(j.status)), h('td', { text: j.progress + '%' }),
        h('td', { text: j.attempt + ' / ' + j.max_attempts }),
        h('td', {}, j.batch_id ? h('a', { href: '#/batches/' + encodeURIComponent(j.batch_id), text: j.batch_id }) : '—'),
        h('td', { text: fmtTime(j.created_at) }))), 'No job matches.'),
    h('div', { class: 'pager' },
      cursor ? h('a', { href: '#/jobs' + firstPage(q), text: 'First page' }) : null,
      r.nextCursor ? h('button', { type: 'button', class: 'secondary', onclick: next }, 'Next') : null));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind, d) => { if (kind === 'job' && !cursor && (!f.batch || d.batchId === f.batch)) reload(); });
  await guarded(load);
}

/* The query of the jobs list's first page: the filters, without the cursor. */
function firstPage(q) {
  const n = new URLSearchParams(q);
  n.delete('cursor');
  n.delete('limit');
  return n.toString() ? '?' + n : '';
}

/* One job: its fields, progress, history, error; the page of a crawl job; cancel and retry. */
async function viewJob(hash, id) {
  const head = h('div', { class: 'panel' });
  const fields = h('div', { class: 'panel' });
  const hist = h('div', { class: 'panel' });
  const pagebox = h('div');
  const actions = h('div', { class: 'row' });
  const chain = chainSection(id);
  page('Job ' + shortId(id), actions, head, chain.section, fields, h('h2', { text: 'History' }), hist, pagebox);
  let shownPage = false, found = false;
  const load = async () => {
    const r = await api('GET', '/v1/jobs/' + id);
    found = true;
    const j = r.job;
    const live = ['pending', 'processing', 'retrying', 'waiting', 'blocked'].includes(j.status);
    actions.replaceChildren(
      h('button', { type: 'button', class: 'danger', disabled: !live, onclick: () => guarded(async () => { await api('POST', '/v1/jobs/' + id + '/cancel', {}); await load(); }) }, 'Cancel job'),
      h('button', { type: 'button', class: 'secondary', disabled: !['failed', 'cancelled'].includes(j.status), onclick: () => guarded(async () => { await api('POST', '/v1/jobs/' + id + '/retry', {}); await load(); }) }, 'Retry job'));
    /* (filtered: replaceChildren would write a null as the text "null") */
    head.replaceChildren(...[h('p', { id: 'job-status', 'aria-live': 'polite' }, statusBadge(j.status), ' ', j.type, ' · attempt ' + j.attempt + ' of ' + j.max_attempts + ' · stage ' + (j.stage || '—')),
      bar(j.progress, 'job progress', j.status === 'failed'), h('p', { class: 'muted', text: j.progress + '%' }),
      j.error ? h('p', { class: 'error', id: 'job-error' }, h('strong', { text: 'Error: ' }), j.error) : null,
      j.status === 'blocked' ? h('p', { class: 'muted', id: 'job-blocked' }, 'A stage before it failed for good: retry that stage (in the chain below) and this one runs after it.') : null,
      j.status === 'waiting' ? h('p', { class: 'muted' }, 'It runs once the stage before it has completed.') : null].filter(Boolean));
    const dl = h('dl', { class: 'fields' });
    const add = (k, v) => dl.append(h('dt', { text: k }), h('dd', {}, v));
    add('id', j.id); add('type', j.type); add('queue', j.queue); add('workspace', j.workspace);
    add('batch', j.batch_id ? h('a', { href: '#/batches/' + encodeURIComponent(j.batch_id), text: j.batch_id }) : '—');
    add('parent', j.parent_id ? h('a', { href: '#/jobs/' + j.parent_id, text: j.parent_id }) : '—');
    if (j.root_id) add('chain root', h('a', { href: '#/jobs/' + j.root_id, text: j.root_id }));
    add('priority', j.priority);
    add('created', fmtTime(j.created_at)); add('run at', fmtTime(j.run_at)); add('started', fmtTime(j.started_at));
    add('completed', fmtTime(j.completed_at)); add('failed', fmtTime(j.failed_at)); add('last heartbeat', fmtTime(j.last_heartbeat));
    add('lease', j.lease_owner ? j.lease_owner + ' until ' + fmtTime(j.lease_expires_at) : '—');
    add('args', h('pre', { text: JSON.stringify(j.args, null, 2) }));
    add('checkpoint', j.checkpoint ? h('pre', { text: JSON.stringify(j.checkpoint, null, 2) }) : '—');
    add('result', j.result ? h('pre', { text: JSON.stringify(j.result, null, 2) }) : '—');
    fields.replaceChildren(dl);
    hist.replaceChildren(r.events.length ? h('ol', { class: 'timeline', id: 'job-history' }, r.events.map((e) => h('li', {},
      h('time', { text: fmtTime(e.at) }), h('span', {}, statusBadge(e.from), ' → ', statusBadge(e.to)),
      ' attempt ' + e.attempt, e.message ? h('div', { class: 'muted', text: e.message }) : null))) : h('p', { class: 'muted', text: 'Not claimed yet.' }));
    if (j.type === 'crawl' && !shownPage && !live) { shownPage = true; showPage(pagebox, id); }
  };
  const reload = throttle(() => guarded(load), 500);
  onEvent((kind, d) => { if ((kind === 'job' || kind === 'progress') && d.id === id) reload(); });
  await guarded(load);
  if (found) await chain.start();
}

async function showPage(box, id) {
  const r = await api('GET', '/v1/crawl-jobs/' + id);
  if (r.html === null || r.html === undefined) {
    box.replaceChildren(h('h2', { text: 'Fetched page' }), h('p', { class: 'muted', text: r.job.html_expired ? 'The stored page was dropped by the retention policy.' : 'No page was stored.' }));
    return;
  }
  /* sandbox with no permissions: no scripts, no forms, an opaque origin of its own */
  const frame = h('iframe', { class: 'page', sandbox: '', title: 'the fetched page, rendered without scripts', referrerpolicy: 'no-referrer' });
  frame.srcdoc = r.html;
  const src = h('pre', { class: 'source', text: r.html });
  const tabPage = h('button', { type: 'button', role: 'tab', 'aria-selected': 'true' }, 'Rendered');
  const tabSrc = h('button', { type: 'button', role: 'tab', 'aria-selected': 'false' }, 'Source');
  const panel = h('div', { role: 'tabpanel' }, frame);
  tabPage.addEventListener('click', () => { tabPage.setAttribute('aria-selected', 'true'); tabSrc.setAttribute('aria-selected', 'false'); panel.replaceChildren(frame); });
  tabSrc.addEventListener('click', () => { tabSrc.setAttribute('aria-selected', 'true'); tabPage.setAttribute('aria-selected', 'false'); panel.replaceChildren(src); });
  box.replaceChildren(h('h2', { text: 'Fetched page' }),
    h('p', { class: 'muted', text: 'HTTP ' + r.job.http_status + ' · ' + (r.job.content_type || '') + ' · ' + num(r.job.html_length) + ' bytes · ' + (r.job.final_url || '') }),
    h('div', { class: 'tabs', role: 'tablist' }, tabPage, tabSrc), panel);
}

/* The dead-letter queue, grouped by error. */
async function viewFailed() {
  const body = h('div');
  page('Failed jobs', h('p', { class: 'muted', text: 'Jobs that failed for good, grouped by their error (numbers made alike). Retrying gives them fresh attempts.' }), body);
  const load = async () => {
    const r = await api('GET', '/v1/jobs?status=failed&limit=1000');
    const groups = new Map();
    for (const j of r.jobs) {
      const key = (j.type + ': ' + (j.error || 'no error')).replace(/\d+/g, '#').slice(0, 300);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(j);
    }
    const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
    body.replaceChildren(...(sorted.length ? sorted.map(([key, jobs]) => {
      const retryAll = h('button', { type: 'button', class: 'secondary', onclick: () => guarded(async () => {
        retryAll.disabled = true;
        for (const j of jobs) await api('POST', '/v1/jobs/' + j.id + '/retry', {});
        await load();
      }) }, 'Retry all ' + jobs.length);
      return h('section', { class: 'group' }, h('h2', { text: jobs.length + ' × ' + key }), retryAll,
        table(['Job', 'Error', 'Failed at', ''], jobs.slice(0, 20).map((j) => h('tr', {},
          h('td', {}, h('a', { href: '#/jobs/' + j.id, text: shortId(j.id) })), h('td', { class: 'err', text: j.error || '' }),
          h('td', { text: fmtTime(j.failed_at || j.updated_at) }),
          h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => guarded(async () => { await api('POST', '/v1/jobs/' + j.id + '/retry', {}); await load(); }) }, 'Retry'))))),
        jobs.length > 20 ? h('p', { class: 'muted', text: (jobs.length - 20) + ' more' }) : null);
    }) : [h('p', { class: 'muted', text: 'No failed job.' })]),
    r.nextCursor ? h('p', { class: 'muted', text: 'Showing the newest 1,000 failed jobs.' }) : '');
  };
  const reload = throttle(() => guarded(load), 2000);
  onEvent((kind, d) => { if (kind === 'job' && (d.to === 'failed' || d.from === 'failed')) reload(); });
  await guarded(load);
}

/* Scraping sessions. */
async function viewSessions(hash) {
  const p = params(hash);
  const offset = Number(p.get('offset') || 0), limit = 20;
  const body = h('div');
  page('Scraping sessions', body);
  const load = async () => {
    const r = await api('GET', '/v1/scraping-sessions?limit=' + limit + '&offset=' + offset);
    body.replaceChildren(table(['Session', 'Site', 'Status', 'Progress', 'Pages', 'Records', 'Created'],
      r.sessions.map((s) => h('tr', {}, h('td', {}, h('a', { href: '#/sessions/' + s.id, text: shortId(s.id) })),
        h('td', { class: 'url', text: s.source_url }), h('td', {}, statusBadge(s.status)),
        h('td', {}, bar(s.progress_percentage, 'session progress')), h('td', { text: num(s.completed_pages) + ' / ' + num(s.total_pages) }),
        h('td', { text: num(s.materials_processed) }), h('td', { text: fmtTime(s.created_at) }))), 'No session yet: start one under Submit.'),
    pager(offset, limit, offset + limit < r.total, (o) => { location.hash = '#/sessions?offset=' + o; }));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind) => { if (kind === 'session') reload(); });
  await guarded(load);
}

async function viewSession(hash, id) {
  const p = params(hash);
  const pstatus = p.get('pages') || '';
  const head = h('div', { class: 'panel' });
  const pages = h('div');
  const sel = h('select', { id: 'pages-status' }, ['', 'pending', 'fetching', 'done', 'failed', 'skipped']
    .map((s) => h('option', { value: s, text: s || 'any', selected: s === pstatus })));
  sel.addEventListener('change', () => { location.hash = '#/sessions/' + id + (sel.value ? '?pages=' + sel.value : ''); });
  const exp = (fmt) => h('button', { type: 'button', class: 'secondary', onclick: () => guarded(() =>
    download('/v1/scraping-sessions/' + id + '/records?format=' + fmt, 'records-' + id + '.' + fmt)) }, 'Export ' + fmt.toUpperCase());
  page('Session ' + shortId(id), head, h('div', { class: 'row' }, exp('jsonl'), exp('csv'), exp('json')),
    h('h2', { text: 'Pages' }), h('div', { class: 'row' }, h('div', {}, h('label', { for: 'pages-status', text: 'Pages with status' }), sel)), pages);
  const load = async () => {
    const [r, pg] = await Promise.all([
      api('GET', '/v1/scraping-sessions/' + id),
      api('GET', '/v1/scraping-sessions/' + id + '/pages?limit=100' + (pstatus ? '&status=' + pstatus : '')),
    ]);
    const s = r.session;
    head.replaceChildren(...[h('p', { id: 'session-status', 'aria-live': 'polite' }, statusBadge(s.status), ' ', s.source_url, ' · stage ' + (s.stage || '—')),
      bar(s.progress_percentage, 'session progress'),
      h('p', { text: num(s.completed_pages) + ' pages read, ' + num(s.failed_pages) + ' failed, ' + num(s.pending_pages) + ' to do, ' +
        num(s.skipped_pages) + ' skipped · ' }, h('strong', { id: 'session-records', text: num(s.materials_processed) + ' records' })),
      s.error_message ? h('p', { class: 'error', text: s.error_message }) : null,
      h('p', { id: 'session-stages' }, 'Its stages: ', sessionStages(s.stages),
        ' · the chain: ', h('a', { href: '#/jobs/' + s.background_job_id, text: shortId(s.background_job_id) }))].filter(Boolean));
    pages.replaceChildren(table(['URL', 'Status', 'HTTP', 'Records', 'Error'],
      pg.pages.map((x) => h('tr', {}, h('td', { class: 'url', text: x.url }), h('td', {}, statusBadge(x.status)),
        h('td', { text: x.http_status || '—' }), h('td', { text: x.records }), h('td', { class: 'err', text: x.error || '' }))), 'No page here.'));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind, d) => { if (kind === 'session' && d.sessionId === id) reload(); });
  await guarded(load);
}

/* A session's three stage jobs (ingest, extract, sync), each a link with its status. */
function sessionStages(stages) {
  const list = Array.isArray(stages) ? stages : Object.entries(stages || {}).map(([name, st]) => Object.assign({ name }, st));
  if (!list.length) return '—';
  return list.map((st, i) => [i ? ' → ' : '', st.job_id ? h('a', { href: '#/jobs/' + st.job_id, 'data-stage': st.name || '', text: st.name || st.type || 'stage' }) : (st.name || 'stage'),
    ' ', statusBadge(st.status)]).flat();
}

/* ---- the router ---- */

const routes = [
  [/^#?\/?$/, viewOverview, 'overview'],
  [/^#\/submit$/, viewSubmit, 'submit'],
  [/^#\/batches(\?.*)?$/, viewBatches, 'batches'],
  [/^#\/batches\/([^?]+)(\?.*)?$/, viewBatch, 'batches'],
  [/^#\/jobs(\?.*)?$/, viewJobs, 'jobs'],
  [/^#\/jobs\/([0-9a-f-]{36})$/, viewJob, 'jobs'],
  [/^#\/failed$/, viewFailed, 'failed'],
  [/^#\/sessions(\?.*)?$/, viewSessions, 'sessions'],
  [/^#\/sessions\/([0-9a-f-]{36})(\?.*)?$/, viewSession, 'sessions'],
  [/^#\/imports(\?.*)?$/, viewImports, 'imports'],
  [/^#\/imports\/([0-9a-f-]{36})(\?.*)?$/, viewImport, 'imports'],
  [/^#\/schedules$/, viewSchedules, 'schedules'],
];

/* Show the view of the location's hash. After a navigation (not on the first load, where Tab
 * should start at the skip link) the view's heading takes the focus, for screen readers. */
function route(ev) {
  if (!state.token) { showSignIn(); return; }
  for (const fn of state.cleanup) fn();
  state.cleanup = [];
  banner(null);
  const hash = location.hash || '#/';
  for (const [re, view, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    view(hash, m[1]).then(() => {
      const h1 = document.querySelector('main h1');
      if (h1 && ev && ev.type === 'hashchange') h1.focus({ preventScroll: true });
    });
    return;
  }
  page('Not found', h('p', { text: 'No such page. ' }, h('a', { href: '#/', text: 'Overview' })));
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signout').addEventListener('click', () => signOut());
  if (state.token) start(); else showSignIn();
});
