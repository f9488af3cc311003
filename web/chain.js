/* trawl's dashboard: a job's chain (GET /v1/jobs/:id/chain) drawn as a graph on the job page.
 *
 * Stages are boxes in columns by depth, an edge from each parent to what it released; a join
 * sits one column after the children it waits for, with an edge from each of them. A parent's
 * fanned-out children past CHAIN_FANOUT_SHOWN are folded into one "+N more" box (its counts from
 * the API's summary when the API itself showed only some), which unfolds on a click. The graph
 * is drawn anew on every read of the chain; the job page reads it again when an event of the
 * chain arrives (by its rootId or id), at most every 500 ms (less often for a chain slow to read).
 * Needs app.js (h, api, statusBadge, state). */
'use strict';

const CHAIN_FANOUT_SHOWN = 20;
const CHAIN_BOX = { w: 168, h: 54, gapX: 56, gapY: 12, pad: 10 };

/* The chain's tree laid out: {nodes: [{key, col, row, job | more}], edges: [[fromKey, toKey, kind]]}.
 * unfolded: the ids of the parents whose fanned-out children are all shown. */
function chainLayout(tree, unfolded) {
  const nodes = new Map(); /* key -> node */
  const edges = [];
  const add = (key, col, node) => { node.key = key; node.col = col; nodes.set(key, node); return node; };
  /* columns: a stage after its parent, a join after the children it waits for */
  const place = (job, col) => {
    add(job.id, col, { job });
    const kids = job.children || [];
    const children = kids.filter((k) => k.role === 'child');
    const others = kids.filter((k) => k.role !== 'child' && k.role !== 'join');
    const joins = kids.filter((k) => k.role === 'join');
    const shown = unfolded.has(job.id) ? children : children.slice(0, CHAIN_FANOUT_SHOWN);
    for (const k of others) { edges.push([job.id, k.id, 'next']); place(k, col + 1); }
    /* the folded box first, so what it sums up is at the top of the column, by its parent */
    let moreKey = null;
    const hidden = children.length - shown.length + (job.more_children || 0);
    if (hidden > 0) {
      moreKey = 'more:' + job.id;
      add(moreKey, col + 1, { more: { parent: job.id, count: hidden, counts: hiddenCounts(job, children, shown) } });
      edges.push([job.id, moreKey, 'child']);
    }
    for (const k of shown) { edges.push([job.id, k.id, 'child']); place(k, col + 1); }
    for (const jn of joins) {
      const srcs = shown.filter((k) => !k.join_id || k.join_id === jn.id).map((k) => k.id);
      if (moreKey) srcs.push(moreKey);
      const jcol = srcs.length ? Math.max(...srcs.map((s) => nodes.get(s).col)) + 1 : col + 1;
      if (srcs.length) for (const s of srcs) edges.push([s, jn.id, 'join']);
      else edges.push([job.id, jn.id, 'join-wait']); /* no child yet: it waits on its parent */
      place(jn, jcol);
    }
  };
  place(tree, 0);
  /* rows: depth first, each box at its parent's row or the next free one in its column */
  const free = [];
  const seen = new Set();
  const row = (key, want) => {
    if (seen.has(key)) return;
    seen.add(key);
    const n = nodes.get(key);
    n.row = Math.max(want, free[n.col] || 0);
    free[n.col] = n.row + 1;
    for (const [a, b] of edges) if (a === key) row(b, n.row);
  };
  row(tree.id, 0);
  return { nodes: [...nodes.values()], edges };
}

/* How the children folded away stand: from the API's summary (which counts every child of the
 * parent) less the ones shown, or from the folded ones themselves when the API showed them all. */
function hiddenCounts(job, children, shown) {
  const c = {};
  if (job.children_counts) {
    Object.assign(c, job.children_counts);
    for (const k of shown) c[k.status] = (c[k.status] || 0) - 1;
  } else {
    for (const k of children.slice(shown.length)) c[k.status] = (c[k.status] || 0) + 1;
  }
  return c;
}

function chainMoreText(m) {
  const bad = (m.counts.failed || 0) + (m.counts.blocked || 0);
  const parts = [];
  if (m.counts.failed) parts.push(num(m.counts.failed) + ' failed');
  if (m.counts.blocked) parts.push(num(m.counts.blocked) + ' blocked');
  if (!bad && m.counts.completed) parts.push(num(m.counts.completed) + ' completed');
  return '+' + num(m.count) + ' more' + (parts.length ? ' (' + parts.join(', ') + ')' : '');
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return ms + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  return Math.round(ms / 60000) + ' min';
}

/* The chain as a graph into box; current: the id of the job whose page it is. */
function drawChain(box, chain, current, unfolded, redraw) {
  const L = chainLayout(chain.tree, unfolded);
  const B = CHAIN_BOX;
  const cols = Math.max(...L.nodes.map((n) => n.col)) + 1;
  const rows = Math.max(...L.nodes.map((n) => n.row)) + 1;
  const width = B.pad * 2 + cols * B.w + (cols - 1) * B.gapX;
  const height = B.pad * 2 + rows * B.h + (rows - 1) * B.gapY;
  const x = (n) => B.pad + n.col * (B.w + B.gapX);
  const y = (n) => B.pad + n.row * (B.h + B.gapY);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('aria-hidden', 'true');
  const byKey = new Map(L.nodes.map((n) => [n.key, n]));
  for (const [a, b, kind] of L.edges) {
    const s = byKey.get(a), t = byKey.get(b);
    const x1 = x(s) + B.w, y1 = y(s) + B.h / 2, x2 = x(t), y2 = y(t) + B.h / 2;
    const mx = (x1 + x2) / 2;
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2);
    const st = t.job ? t.job.status : 'pending';
    p.setAttribute('class', 'edge e-' + kind + (st === 'blocked' ? ' e-blocked' : ''));
    p.dataset.from = a;
    p.dataset.to = b;
    svg.append(p);
  }
  const area = h('div', { class: 'chain-area' }, svg);
  area.style.width = width + 'px'; /* through the CSSOM: the page's policy allows no style attributes */
  area.style.height = height + 'px';
  for (const n of L.nodes) {
    let el;
    if (n.more) {
      const bad = (n.more.counts.failed || 0) + (n.more.counts.blocked || 0) > 0;
      el = h('button', { type: 'button', class: 'node more' + (bad ? ' has-failed' : ''), 'data-parent': n.more.parent,
        title: 'show every child the chain read holds', onclick: () => { unfolded.add(n.more.parent); redraw(); } },
      h('span', { class: 'n-type', text: chainMoreText(n.more) }), h('span', { class: 'n-meta', text: 'children, folded' }));
    } else {
      const j = n.job;
      const meta = ['attempt ' + j.attempt + '/' + j.max_attempts];
      if (j.role === 'join') meta.unshift('join');
      if (j.duration_ms !== undefined) meta.push(fmtMs(j.duration_ms));
      else if (j.status === 'processing') meta.push(j.progress + '%');
      el = h('a', { href: '#/jobs/' + j.id, class: 'node s-' + j.status + (j.id === current ? ' current' : ''),
        'data-job': j.id, 'data-status': j.status, 'data-role': j.role,
        'aria-current': j.id === current ? 'page' : null,
        'aria-label': j.type + ', ' + j.status + (j.role === 'join' ? ', the join' : '') + (j.error ? ': ' + j.error : ''),
        title: j.error ? j.error : j.id },
      h('span', { class: 'n-type', text: j.type }),
      h('span', { class: 'n-status', text: j.status }),
      h('span', { class: 'n-meta', text: meta.join(' · ') }));
    }
    el.style.left = x(n) + 'px';
    el.style.top = y(n) + 'px';
    area.append(el);
  }
  const c = chain.counts || {};
  const summary = Object.keys(c).filter((k) => c[k] > 0).map((k) => num(c[k]) + ' ' + k).join(', ');
  box.replaceChildren(
    h('p', { id: 'chain-summary', class: 'muted', 'aria-live': 'polite' },
      num(chain.jobs) + ' jobs in the chain: ' + summary + (chain.truncated ? ' · only the first ' + num(chain.shown) + ' are drawn' : '')),
    h('div', { class: 'chain-scroll', role: 'group', 'aria-label': 'the chain, as a graph' }, area));
}

/* The job page's chain section: {section, start}; start() reads and draws the chain of job id
 * (the section stays hidden unless it has more than one job), and again on the chain's events. */
function chainSection(id) {
  const box = h('div', { class: 'panel chain', id: 'chain' });
  const section = h('section', { hidden: true }, h('h2', { text: 'Chain' }), box);
  const unfolded = new Set();
  let rootId = null, ids = new Set(), last = null;
  const redraw = () => { if (last) drawChain(box, last, id, unfolded, redraw); };
  const load = async () => {
    const r = await api('GET', '/v1/jobs/' + id + '/chain');
    last = r.chain;
    rootId = r.chain.root_id;
    ids = new Set();
    const walk = (n) => { ids.add(n.id); for (const k of n.children || []) walk(k); };
    walk(r.chain.tree);
    if (r.chain.jobs <= 1) { section.hidden = true; return; }
    section.hidden = false;
    redraw();
  };
  /* at most every 500 ms, and for a chain that takes long to read (thousands of jobs), no more
   * often than four times as long as the last read took, so that an open page costs the server
   * a fifth of its time at most */
  let readMs = 0, timer = null, lastAt = 0, again = false;
  const reload = () => {
    if (timer) { again = true; return; } /* an event during a read: read once more after it */
    const wait = Math.max(0, lastAt + Math.max(500, 4 * readMs) - Date.now());
    timer = setTimeout(async () => {
      again = false;
      const t0 = Date.now();
      await guarded(load);
      lastAt = Date.now();
      readMs = lastAt - t0;
      timer = null;
      if (again) reload();
    }, wait);
  };
  state.cleanup.push(() => clearTimeout(timer));
  onEvent((kind, d) => {
    if (kind !== 'job' && kind !== 'progress') return;
    if (ids.has(d.id) || (rootId && (d.rootId === rootId || d.id === rootId))) reload();
  });
  return { section, start: async () => { const t0 = Date.now(); await guarded(load); lastAt = Date.now(); readMs = lastAt - t0; } };
}
