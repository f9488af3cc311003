/* trawl's dashboard: schedules (GET/POST /v1/schedules, pause, resume, delete).
 *
 * A table of the workspace's schedules with their next run as a countdown and their last run's
 * job, and a form to add one, which shows the API's 400 next to the field it is about (a bad cron
 * expression next to the cron field). The table is read again on job events (a slot that ran
 * made a job), at most every 2 s, and every 10 s for the countdowns. Needs app.js. */
'use strict';

/* t (an ISO time) from now, as "in 4 min" or "3 h ago"; "—" for none. */
function fmtRel(t, now) {
  if (t === null || t === undefined) return '—';
  const ms = Date.parse(t) - (now || Date.now());
  if (isNaN(ms)) return String(t);
  const a = Math.abs(ms);
  let v;
  if (a < 45000) v = Math.max(1, Math.round(a / 1000)) + ' s';
  else if (a < 90 * 60000) v = Math.round(a / 60000) + ' min';
  else if (a < 36 * 3600000) v = Math.round(a / 3600000) + ' h';
  else v = Math.round(a / 86400000) + ' days';
  return ms >= 0 ? 'in ' + v : v + ' ago';
}

/* The form field a 400 of POST /v1/schedules is about, by the name its message gives (the API's
 * messages name the request's fields); a message naming none is about the cron expression, the
 * one field the server checks beyond its type. */
function scheduleErrorField(msg) {
  const m = String(msg || '').toLowerCase();
  if (/\bcron\b/.test(m)) return 'cron';
  if (/\btimezone\b|time zone/.test(m)) return 'timezone';
  if (/\bmissed\b/.test(m)) return 'missed';
  if (/\bargs\b/.test(m)) return 'args';
  if (/\bjob\b|\btype\b/.test(m)) return 'type';
  if (/\bname\b/.test(m)) return 'name';
  return 'cron';
}

async function viewSchedules() {
  const list = h('div', { class: 'schedules' });
  const out = h('p', { role: 'status', 'aria-live': 'polite', id: 'sched-out' });
  const fields = {};
  const field = (key, label, input, hint) => {
    const err = h('p', { class: 'error field-error', id: 'sched-' + key + '-error', role: 'alert' });
    input.id = 'sched-' + key;
    input.setAttribute('aria-describedby', err.id);
    fields[key] = { input, err };
    return h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input,
      hint ? h('div', { class: 'muted hint', text: hint }) : null, err);
  };
  const tz = (Intl.DateTimeFormat().resolvedOptions().timeZone) || 'UTC';
  const name = h('input', { required: true, maxlength: 128, size: 20, spellcheck: 'false' });
  const cron = h('input', { required: true, size: 16, spellcheck: 'false', placeholder: '*/5 * * * *' });
  const zone = h('input', { size: 18, value: tz, spellcheck: 'false' });
  const type = h('input', { required: true, size: 14, value: 'noop', spellcheck: 'false' });
  const args = h('textarea', { rows: 3, spellcheck: 'false', placeholder: '{}' });
  args.classList.add('short');
  const missed = h('select', {}, [['skip', 'skip them'], ['once', 'run once'], ['all', 'run each']]
    .map(([v, t]) => h('option', { value: v, text: t })));
  const clearErrors = () => {
    for (const f of Object.values(fields)) { f.err.textContent = ''; f.input.removeAttribute('aria-invalid'); }
  };
  const showError = (key, msg) => {
    const f = fields[key];
    f.err.textContent = msg;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
  };
  const form = h('form', { class: 'panel', id: 'schedule-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    clearErrors();
    out.textContent = '';
    let a = {};
    if (args.value.trim()) {
      try { a = JSON.parse(args.value); } catch (x) { showError('args', 'args is not JSON: ' + x.message); return; }
      if (a === null || typeof a !== 'object' || Array.isArray(a)) { showError('args', 'args must be a JSON object'); return; }
    }
    for (const [k, el] of [['name', name], ['cron', cron], ['type', type]]) {
      if (!el.value.trim()) { showError(k, k + ' is required'); return; }
    }
    guarded(async () => {
      const body = { name: name.value.trim(), cron: cron.value.trim(), timezone: zone.value.trim() || 'UTC',
        job: { type: type.value.trim(), args: a }, missed: missed.value };
      try {
        const r = await api('POST', '/v1/schedules', body);
        const s = r.schedule || r; /* the schedule, bare or under "schedule" */
        out.textContent = 'Schedule ' + s.name + ' added; next run ' + fmtRel(s.nextRunAt) + '.';
        name.value = '';
        cron.value = '';
        await load();
      } catch (x) {
        if (x.status === 400) { showError(scheduleErrorField(x.message), x.message); return; }
        if (x.status === 409) { showError('name', x.message); return; }
        throw x;
      }
    });
  } },
  h('h2', { text: 'Add a schedule' }),
  h('div', { class: 'row top' },
    field('name', 'Name', name),
    field('cron', 'Cron', cron, '5 fields, @hourly, @every 30s'),
    field('timezone', 'Timezone', zone),
    field('missed', 'Missed slots', missed)),
  h('div', { class: 'row top' },
    field('type', 'Job type', type),
    h('div', { class: 'grow' }, field('args', 'Job args (JSON)', args)),
    h('button', { type: 'submit', class: 'after-label' }, 'Add schedule')));
  page('Schedules', list, form, out);

  const act = (s, path, method) => guarded(async () => {
    await api(method || 'POST', '/v1/schedules/' + encodeURIComponent(s.id) + path, method ? undefined : {});
    await load();
  });
  const armed = new Set(); /* ids whose Delete was clicked once: kept across reads of the table */
  const row = (s, now) => {
    const del = h('button', { type: 'button', class: 'danger', onclick: () => {
      if (!armed.has(s.id)) { armed.add(s.id); del.textContent = 'Really delete?'; return; }
      armed.delete(s.id);
      act(s, '', 'DELETE');
    } }, armed.has(s.id) ? 'Really delete?' : 'Delete');
    return h('tr', { 'data-schedule': s.name },
      h('td', { text: s.name }), h('td', {}, h('code', { text: s.cron })), h('td', { text: s.timezone }),
      h('td', { class: 'next-run', title: fmtTime(s.nextRunAt), text: s.paused ? '— (paused)' : fmtRel(s.nextRunAt, now) }),
      h('td', { class: 'last-run', title: fmtTime(s.lastRunAt) }, fmtRel(s.lastRunAt, now),
        s.lastJobId ? [' · ', h('a', { href: '#/jobs/' + s.lastJobId, text: shortId(s.lastJobId) })] : null),
      h('td', {}, statusBadge(s.paused ? 'paused' : 'active')),
      h('td', { class: 'actions' },
        s.paused ? h('button', { type: 'button', class: 'secondary', onclick: () => act(s, '/resume') }, 'Resume')
          : h('button', { type: 'button', class: 'secondary', onclick: () => act(s, '/pause') }, 'Pause'),
        ' ', del));
  };
  const load = async () => {
    let r;
    try {
      r = await api('GET', '/v1/schedules');
    } catch (x) {
      if (x.status !== 404) throw x;
      list.replaceChildren(h('p', { class: 'muted', id: 'no-schedules-api', text: 'This server has no schedules (GET /v1/schedules answered 404).' }));
      return;
    }
    const now = Date.now();
    const ss = (r.schedules || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    list.replaceChildren(table(['Name', 'Cron', 'Timezone', 'Next run', 'Last run', 'State', ''],
      ss.map((s) => row(s, now)), 'No schedule yet: add one below.'));
  };
  const reload = throttle(() => guarded(load), 2000);
  onEvent((kind) => { if (kind === 'job') reload(); });
  const tick = setInterval(() => guarded(load), 10000);
  state.cleanup.push(() => clearInterval(tick));
  await guarded(load);
}
