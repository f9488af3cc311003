/* trawl's dashboard: feed imports (POST /v1/imports and the calls under /v1/imports/{id}).
 *
 * The list of the workspace's imports with their progress, and a form that uploads a feed (with
 * the upload's own progress, through XMLHttpRequest: fetch cannot tell it). An import's page
 * shows where it stands, live on its "import" events; its detected fields, with the suggested
 * mapping of each product field in a select to confirm or change before a preview starts; its
 * failed rows; its webhook calls by status, each with a Redeliver button; and its exports. Needs
 * app.js. */
'use strict';

/* The product record's fields, as field_mappings names them. */
const PRODUCT_FIELDS = ['name', 'sku', 'gtin', 'brand', 'material', 'color', 'dimensions', 'price', 'currency',
  'availability', 'images', 'category', 'url', 'description'];

const IMPORT_ENDED = ['completed', 'failed', 'cancelled'];

/* POST form to path with the token, calling progress(sent, total) as it goes; resolves with the
 * JSON answer or rejects with an ApiError, as api() does. */
function uploadForm(path, form, progress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    x.setRequestHeader('Authorization', 'Bearer ' + state.token);
    x.upload.onprogress = (e) => { if (e.lengthComputable) progress(e.loaded, e.total); };
    x.onerror = () => reject(new ApiError(0, 'the server cannot be reached'));
    x.onload = () => {
      let j = null;
      try { j = JSON.parse(x.responseText); } catch (e) { j = null; }
      if (x.status === 401) { signOut('The token was refused: sign in again.'); reject(new ApiError(401, 'unauthorized')); return; }
      if (x.status < 200 || x.status > 299) {
        const err = j && j.error;
        reject(new ApiError(x.status, err ? (typeof err === 'string' ? err : err.message) : 'HTTP ' + x.status));
        return;
      }
      resolve(j);
    };
    x.send(form);
  });
}

function importProgress(im) {
  const pct = im.status === 'completed' ? 100 : (im.job ? im.job.progress : 0);
  return bar(pct, 'import progress', im.status === 'failed');
}

async function viewImports(hash) {
  const p = params(hash);
  const offset = Number(p.get('offset') || 0), limit = 20;
  const list = h('div');
  const out = h('p', { role: 'status', 'aria-live': 'polite', id: 'import-out' });
  const file = h('input', { type: 'file', id: 'import-file', required: true });
  const source = h('input', { id: 'import-source', size: 20, spellcheck: 'false' });
  const hook = h('input', { id: 'import-webhook', size: 32, type: 'url', placeholder: 'https://…', spellcheck: 'false' });
  const secret = h('input', { id: 'import-secret', size: 24, type: 'password', autocomplete: 'off' });
  const batch = h('input', { id: 'import-batch', type: 'number', min: 1, max: 10000, value: 500, size: 6 });
  const mode = h('select', { id: 'import-mode' }, h('option', { value: 'auto', text: 'import at once' }),
    h('option', { value: 'preview', text: 'show the fields first' }));
  const field = (input, label) => h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input);
  const form = h('form', { class: 'panel', id: 'import-form', onsubmit: (e) => {
    e.preventDefault();
    out.textContent = '';
    if (!file.files.length) { out.textContent = 'Choose a feed file first.'; return; }
    const f = file.files[0];
    const fd = new FormData();
    fd.append('source_name', source.value.trim() || f.name);
    fd.append('mode', mode.value);
    if (hook.value.trim()) {
      fd.append('webhook_url', hook.value.trim());
      if (secret.value) fd.append('webhook_secret', secret.value);
      fd.append('batch_size', batch.value || '500');
    }
    fd.append('file', f, f.name);
    guarded(async () => {
      const r = await uploadForm('/v1/imports', fd, (sent, total) => {
        out.textContent = 'Uploading ' + f.name + ': ' + Math.floor(100 * sent / total) + '%';
      });
      location.hash = '#/imports/' + r.import.id;
    });
  } },
  h('h2', { text: 'Import a feed' }),
  h('p', { class: 'muted', text: 'XML (a Google Merchant feed or any repeating element), CSV or JSON (an array, NDJSON, or an object holding one).' }),
  h('div', { class: 'row top' }, field(file, 'Feed file'), field(source, 'Source name'), field(mode, 'Mode')),
  h('div', { class: 'row top' }, field(hook, 'Webhook URL'), field(secret, 'Signing secret'), field(batch, 'Batch size'),
    h('button', { type: 'submit', class: 'after-label' }, 'Upload and import')));
  page('Imports', list, form, out);
  const load = async () => {
    const r = await api('GET', '/v1/imports?limit=' + limit + '&offset=' + offset);
    list.replaceChildren(table(['Import', 'Source', 'Type', 'Status', 'Progress', 'Products', 'Failed rows', 'Delivered', 'Created'],
      r.imports.map((im) => h('tr', { 'data-import': im.id }, h('td', {}, h('a', { href: '#/imports/' + im.id, text: shortId(im.id) })),
        h('td', { text: im.source_name }), h('td', { text: im.import_type || '—' }), h('td', {}, statusBadge(im.status)),
        h('td', {}, importProgress(im)), h('td', { text: num(im.processed_products) }), h('td', { text: num(im.failed_products) }),
        h('td', { text: num(im.delivered_products) }), h('td', { text: fmtTime(im.created_at) }))), 'No import yet: upload a feed below.'),
    pager(offset, limit, offset + limit < r.total, (o) => { location.hash = '#/imports?offset=' + o; }));
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind) => { if (kind === 'import') reload(); });
  await guarded(load);
}

/* The mapping editor: one select per product field, over the feed's fields. */
function mappingEditor(fields, mappings) {
  const names = fields.map((f) => f.name);
  const selects = {};
  const rows = PRODUCT_FIELDS.map((t) => {
    let cur = mappings ? mappings[t] : undefined;
    if (Array.isArray(cur)) cur = cur[0];
    const sel = h('select', { id: 'map-' + t, 'data-target': t }, h('option', { value: '', text: '— not mapped —' }),
      names.map((n) => h('option', { value: n, text: n, selected: n === cur })));
    selects[t] = sel;
    return h('tr', {}, h('td', {}, h('label', { for: sel.id, text: t })), h('td', {}, sel));
  });
  return {
    el: table(['Product field', 'From the feed\u2019s field'], rows),
    value: () => {
      const m = {};
      for (const [t, sel] of Object.entries(selects)) if (sel.value) m[t] = sel.value;
      return m;
    },
  };
}

async function viewImport(hash, id) {
  const head = h('div', { class: 'panel' });
  const actions = h('div', { class: 'row' });
  const fieldsBox = h('div');
  const items = h('div');
  const calls = h('div');
  const callStatus = h('select', { id: 'calls-status' }, ['', 'pending', 'success', 'retrying', 'failed']
    .map((s) => h('option', { value: s, text: s || 'any' })));
  const out = h('p', { role: 'status', 'aria-live': 'polite', id: 'import-action-out' });
  const exp = (fmt) => h('button', { type: 'button', class: 'secondary', onclick: () => guarded(() =>
    download('/v1/imports/' + id + '/records?format=' + fmt, 'import-' + id + '.' + fmt)) }, 'Export ' + fmt.toUpperCase());
  page('Import ' + shortId(id), head, actions, out,
    h('h2', { text: 'Fields' }), fieldsBox,
    h('h2', { text: 'Failed rows' }), items,
    h('h2', { text: 'Webhook calls' }), h('div', { class: 'row' }, h('div', {}, h('label', { for: 'calls-status', text: 'Calls with status' }), callStatus)), calls,
    h('div', { class: 'row' }, exp('jsonl'), exp('csv'), exp('json')));
  let editor = null, shownStatus = null;
  const act = (path, body, done) => guarded(async () => {
    const r = await api('POST', path, body || {});
    out.textContent = done(r);
    await load();
  });
  const loadCalls = async () => {
    const c = await api('GET', '/v1/imports/' + id + '/webhook-calls?limit=200' + (callStatus.value ? '&status=' + callStatus.value : ''));
    calls.replaceChildren(table(['Call', 'Delivery id', 'Status', 'HTTP', 'Tries', 'Time', 'Error', ''],
      c.webhook_calls.map((x) => h('tr', { 'data-call': x.id }, h('td', { text: x.id }), h('td', {}, h('code', { text: x.delivery_id })),
        h('td', {}, statusBadge(x.status)), h('td', { text: x.response_status || '—' }), h('td', { text: x.retry_count + 1 }),
        h('td', { text: x.response_time_ms + ' ms' }), h('td', { class: 'err', text: x.error_message || '' }),
        h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => act('/v1/webhook-calls/' + x.id + '/redeliver', {},
          (r) => 'Call ' + x.id + ' is sent again (job ' + shortId(r.job_id) + ').') }, 'Redeliver')))),
      'No webhook call' + (callStatus.value ? ' with status ' + callStatus.value : '') + '.'));
  };
  callStatus.addEventListener('change', () => guarded(loadCalls));
  const load = async () => {
    const [r, f, it] = await Promise.all([
      api('GET', '/v1/imports/' + id),
      api('GET', '/v1/imports/' + id + '/fields'),
      api('GET', '/v1/imports/' + id + '/items?limit=100'),
    ]);
    const im = r.import;
    head.replaceChildren(...[h('p', { id: 'import-status', 'aria-live': 'polite' }, statusBadge(im.status), ' ', im.source_name,
      ' · ' + (im.import_type || 'format not known yet') + ' · stage ' + ((im.job && im.job.stage) || '—')),
    importProgress(im),
    h('p', { id: 'import-counts', text: num(im.processed_products) + ' products, ' + num(im.failed_products) + ' failed rows, ' +
      num(im.delivered_products) + ' delivered' + (im.webhook ? ' to ' + im.webhook.url : ' (no webhook)') }),
    im.error_message ? h('p', { class: 'error', id: 'import-error', text: im.error_message }) : null,
    h('p', { class: 'muted' }, 'Its job: ', h('a', { href: '#/jobs/' + im.background_job_id, text: shortId(im.background_job_id) }),
      ' · created ' + fmtTime(im.created_at) + (im.completed_at ? ' · ended ' + fmtTime(im.completed_at) : ''))].filter(Boolean));
    const btn = [];
    if (IMPORT_ENDED.includes(im.status) && im.status !== 'cancelled') {
      btn.push(h('button', { type: 'button', class: 'secondary', onclick: () => act('/v1/imports/' + id + '/retry-failed', {},
        () => 'The import runs again: its failed rows are read again and what was not delivered is delivered.') }, 'Retry failed'));
    }
    if (!IMPORT_ENDED.includes(im.status)) {
      btn.push(h('button', { type: 'button', class: 'danger', onclick: () => act('/v1/imports/' + id + '/cancel', {}, () => 'Cancelled.') }, 'Cancel import'));
    }
    actions.replaceChildren(...btn);
    /* the fields: kept as they are while the user edits the mapping of a preview */
    if (shownStatus !== im.status || !editor) {
      shownStatus = im.status;
      const det = f.detected;
      if (!det) {
        fieldsBox.replaceChildren(h('p', { class: 'muted', text: 'Not detected yet.' }));
      } else {
        const sugg = {};
        for (const s of det.suggested || []) sugg[s.target] = s;
        const kids = [h('p', { text: 'Format ' + det.format + ', ' + det.encoding + (det.delimiter ? ', delimiter "' + det.delimiter + '"' : '') +
          (det.record_element ? ', products in <' + det.record_element + '>' : '') + '; ' + num(det.sampled) + ' rows sampled.' }),
        table(['Field', 'Type', 'Filled', 'Example'], (det.fields || []).map((x) => h('tr', {}, h('td', {}, h('code', { text: x.name })),
          h('td', { text: x.type }), h('td', { text: Math.round(100 * x.fill_rate) + '%' }),
          h('td', { class: 'url', text: (x.examples && x.examples[0]) || '' }))))];
        kids.push(h('h3', { text: 'Suggested mappings' }),
          table(['Product field', 'From', 'Confidence', 'Why'], (det.suggested || []).map((s) => h('tr', {}, h('td', { text: s.target }),
            h('td', {}, h('code', { text: (s.sources || []).join(', ') })), h('td', { text: (100 * s.confidence).toFixed(0) + '%' }),
            h('td', { class: 'muted', text: s.reason || '' }))), 'None suggested.'));
        if (im.status === 'awaiting_mappings') {
          editor = mappingEditor(det.fields || [], f.field_mappings || det.suggested_mappings);
          const err = h('p', { class: 'error', id: 'mapping-error', role: 'alert' });
          kids.push(h('form', { class: 'panel', id: 'mapping-form', onsubmit: (e) => {
            e.preventDefault();
            err.textContent = '';
            guarded(async () => {
              try {
                await api('POST', '/v1/imports/' + id + '/start', { field_mappings: editor.value() });
              } catch (x) {
                if (x.status === 400) { err.textContent = x.message; return; }
                throw x;
              }
              out.textContent = 'Started with these mappings.';
              editor = null;
              await load();
            });
          } }, h('h3', { text: 'Confirm the mappings' }), editor.el, err,
          h('button', { type: 'submit' }, 'Start import')));
        } else {
          editor = null;
        }
        fieldsBox.replaceChildren(...kids);
      }
    }
    items.replaceChildren(table(['Row', 'Line', 'Error', 'Raw'], it.items.map((x) => h('tr', {}, h('td', { text: x.number }),
      h('td', { text: x.line || '—' }), h('td', { class: 'err', text: x.error }), h('td', {}, h('code', { text: x.raw || '' })))),
    'No failed row.'));
    await loadCalls();
  };
  const reload = throttle(() => guarded(load), 1000);
  onEvent((kind, d) => { if (kind === 'import' && d.importId === id) reload(); });
  await guarded(load);
}
