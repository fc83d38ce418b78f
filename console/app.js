// app.js - the hookd console: hash-routed pages over the /v1 API.
// Every request carries the token the user signed in with (kept in
// sessionStorage); a 401 goes back to the sign-in form. Text from the API
// only ever reaches the page through textContent (el() below), never as HTML.

const TOKEN_KEY = 'hookd.token';
const POLL_MS = 2000;
const PAGE_LIMIT = 50;

const $ = (id) => document.getElementById(id);
let stopPage = () => {}; // undoes the current page's timers

// ---- the API ----

class Unauthorized extends Error {}

// Calls the API; resolves to the parsed JSON (null for 204), rejects with an
// Error whose message is the problem's detail.
async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + (sessionStorage.getItem(TOKEN_KEY) || '') };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    const why = await problemText(res);
    signOut('Sign-in refused: ' + why);
    throw new Unauthorized(why);
  }
  if (!res.ok) throw new Error(await problemText(res));
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// The detail of an RFC 9457 problem, or the status line.
async function problemText(res) {
  try {
    const p = await res.json();
    return p.detail || p.title || res.status + ' ' + res.statusText;
  } catch {
    return res.status + ' ' + res.statusText;
  }
}

// Every page of a listing (data + next_cursor), up to max rows.
async function listAll(path, max = 1000) {
  const rows = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    let url = path + sep + 'limit=' + PAGE_LIMIT;
    if (cursor) url += '&cursor=' + encodeURIComponent(cursor);
    const page = await api('GET', url);
    rows.push(...(page.data || []));
    cursor = page.next_cursor;
  } while (cursor && rows.length < max);
  return rows;
}

// ---- the DOM ----

// Makes an element: attrs are attributes (on* are listeners), children are
// nodes or text (always as text nodes).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function table(headers, rows, attrs = {}) {
  return el('table', attrs,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows));
}

function flash(text, isError = false) {
  const f = $('flash');
  f.textContent = text;
  f.className = isError ? 'error' : '';
  f.hidden = !text;
}

function when(ms) {
  return ms === null || ms === undefined || ms === '' ? '' : new Date(Number(ms)).toISOString();
}

function fmt(v, digits = 0) {
  if (v === null || v === undefined) return '—';
  return typeof v === 'number' ? v.toFixed(digits) : String(v);
}

// Runs an action from a button: shows its outcome (what fn returns, else
// label) or its error in the flash line, then calls after() to redraw.
async function act(label, fn, after) {
  try {
    const out = await fn();
    flash(out || label);
    if (after) await after();
  } catch (e) {
    if (!(e instanceof Unauthorized)) flash(label + ' failed: ' + e.message, true);
  }
}

// ---- sign-in ----

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPage();
  $('main').replaceChildren();
  $('nav').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  flash('');
}

function signIn(ev) {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  $('login-error').textContent = '';
  if (!location.hash || location.hash === '#/') location.hash = '#/overview';
  else route();
}

// ---- pages ----

// Overview: the depths, and the counters with their rates from the last two
// samples of /v1/stats, read every POLL_MS.
async function overviewPage(main) {
  let prev = null;
  const depths = el('div', { class: 'cards', id: 'depths' });
  const counters = el('div', { id: 'counters' });
  main.append(el('h1', {}, 'Overview'), depths, el('h2', {}, 'Counters'), counters);
  const card = (name, value) =>
    el('div', { class: 'card', 'data-depth': name },
      el('div', { class: 'label' }, name), el('div', { class: 'value' }, value));
  const draw = async () => {
    const s = await api('GET', '/v1/stats');
    const t = performance.now();
    const d = s; // the depths are members of /v1/stats itself, as in `hookd stats --json`
    depths.replaceChildren(
      ...['events', 'retry', 'dead', 'inflight', 'webhooks'].map((k) => card(k, fmt(d[k]))),
      card('parked', fmt(s.parked)),
      card('oldest event age (s)', fmt(s.oldest_event_age_seconds, 1)));
    const c = s.counters || {};
    const rows = Object.keys(c).sort().map((k) => {
      let rate = '—';
      if (prev && k in prev.c && t > prev.t) rate = ((c[k] - prev.c[k]) * 1000 / (t - prev.t)).toFixed(2);
      return el('tr', { 'data-counter': k },
        el('td', {}, k), el('td', { class: 'num' }, fmt(c[k])), el('td', { class: 'num' }, rate));
    });
    counters.replaceChildren(table(['counter', 'total', 'per second'], rows));
    prev = { c, t };
  };
  await draw();
  const timer = setInterval(() => draw().catch((e) => {
    if (!(e instanceof Unauthorized)) flash('stats: ' + e.message, true);
  }), POLL_MS);
  return () => clearInterval(timer);
}

// "scheme://host:port" of a URL, the default port written out, as /v1/hosts
// names a receiver host.
function hostKey(url) {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return u.protocol + '//' + u.hostname + ':' + port;
  } catch {
    return '';
  }
}

// Webhooks: every webhook with the health of its receiver host.
async function webhooksPage(main) {
  const [hooks, hosts] = await Promise.all([listAll('/v1/webhooks'), api('GET', '/v1/hosts')]);
  const health = new Map((hosts.data || []).map((h) => [hostKey(h.host), h]));
  const rows = hooks.map((w) => {
    const h = health.get(hostKey(w.url));
    return el('tr', { 'data-webhook': w.id },
      el('td', {}, el('a', { href: '#/webhook/' + encodeURIComponent(w.id) }, w.id)),
      el('td', { class: 'mono' }, w.url),
      el('td', {}, (w.events || []).join(', ')),
      el('td', {}, w.enabled ? 'enabled' : 'disabled' + (w.disabled_reason ? ' (' + w.disabled_reason + ')' : '')),
      el('td', {}, w.valid ? 'valid' : 'invalid: ' + (w.invalid_reason || '')),
      el('td', { class: h ? 'state-' + h.state : '' }, h ? h.state : 'no report'),
      el('td', { class: 'num' }, h ? fmt(h.in_flight) + ' / ' + fmt(h.limit) : ''),
      el('td', { class: 'num' }, h && h.success_rate !== null && h.success_rate !== undefined
        ? (h.success_rate * 100).toFixed(1) + '%' : ''),
      el('td', { class: 'num' }, h ? fmt(h.latency_ms, 1) + ' ms' : ''));
  });
  main.append(el('h1', {}, 'Webhooks (' + hooks.length + ')'),
    table(['id', 'url', 'events', 'state', 'record', 'host', 'in flight', 'success', 'latency'], rows,
      { id: 'webhooks' }));
}

const SETTINGS = ['url', 'events', 'workspace', 'description', 'signing', 'timeout_ms',
  'connect_timeout_ms'];

// One webhook: its settings (editable), enable/disable, rotate, test, and its attempts.
async function webhookPage(main, id) {
  const path = '/v1/webhooks/' + encodeURIComponent(id);
  const w = await api('GET', path);
  const redraw = () => route();
  const dl = el('dl', { id: 'settings' });
  for (const k of Object.keys(w)) {
    const v = Array.isArray(w[k]) ? w[k].join(', ') : w[k];
    dl.append(el('dt', {}, k), el('dd', { 'data-field': k }, v === null ? '' : String(v)));
  }
  const inputs = {};
  const edit = el('form', { class: 'inline', id: 'edit', onsubmit: (ev) => {
    ev.preventDefault();
    const change = {};
    for (const k of SETTINGS) {
      const v = inputs[k].value;
      const old = Array.isArray(w[k]) ? w[k].join(',') : String(w[k] ?? '');
      if (v === old) continue;
      if (k === 'events') change[k] = v.split(',').map((s) => s.trim()).filter(Boolean);
      else if (k.endsWith('_ms')) change[k] = Number(v);
      else change[k] = v;
    }
    if (!Object.keys(change).length) return flash('nothing changed');
    act('saved', async () => { await api('PATCH', path, change); }, redraw);
  } });
  for (const k of SETTINGS) {
    const v = Array.isArray(w[k]) ? w[k].join(',') : String(w[k] ?? '');
    inputs[k] = k === 'signing'
      ? el('select', { name: k }, ['twenty', 'standard'].map((s) => el('option', { value: s, selected: s === v }, s)))
      : el('input', { name: k, value: v });
    edit.append(el('label', {}, k, inputs[k]));
  }
  edit.append(el('button', { type: 'submit' }, 'Save'));

  const secretOut = el('p', { id: 'secret-out' });
  const testOut = el('p', { id: 'test-out' });
  const grace = el('input', { name: 'grace_seconds', type: 'number', min: '0', placeholder: 'grace s' });
  const toggle = w.enabled
    ? el('button', { id: 'disable', class: 'danger', type: 'button', onclick: () =>
      act('disabled', async () => { await api('POST', path + '/disable'); }, redraw) }, 'Disable')
    : el('button', { id: 'enable', type: 'button', onclick: () =>
      act('enabled', async () => { await api('POST', path + '/enable'); }, redraw) }, 'Enable');
  const rotate = el('button', { id: 'rotate', type: 'button', onclick: () => act('secret rotated', async () => {
    const body = grace.value === '' ? {} : { grace_seconds: Number(grace.value) };
    const r = await api('POST', path + '/rotate-secret', body);
    secretOut.replaceChildren('New secret (shown once): ', el('code', { class: 'secret' }, r.secret));
  }) }, 'Rotate secret');
  const test = el('button', { id: 'send-test', type: 'button', onclick: () => act('test sent', async () => {
    testOut.textContent = 'sending…';
    const r = await api('POST', path + '/test');
    testOut.className = r.delivered ? 'ok' : 'error';
    testOut.textContent = (r.delivered ? 'delivered' : 'not delivered') +
      ', status ' + fmt(r.status) + ', ' + fmt(r.duration_ms) + ' ms' + (r.error ? ', ' + r.error : '');
  }) }, 'Send test');

  const attempts = el('tbody', {});
  const more = el('button', { type: 'button', hidden: true }, 'More');
  let cursor = null;
  const loadAttempts = async () => {
    let url = path + '/attempts?limit=' + PAGE_LIMIT;
    if (cursor) url += '&cursor=' + encodeURIComponent(cursor);
    const page = await api('GET', url);
    for (const a of page.data || []) {
      attempts.append(el('tr', { 'data-delivery': a.delivery },
        el('td', {}, when(a.at)), el('td', { class: 'mono' }, a.delivery), el('td', {}, a.event),
        el('td', { class: 'num' }, a.attempt), el('td', { class: 'num' }, fmt(a.status)),
        el('td', { class: 'num' }, fmt(a.ms)), el('td', {}, a.error ?? '')));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => loadAttempts().catch((e) => flash(e.message, true)));
  await loadAttempts();

  main.append(el('h1', {}, 'Webhook ', el('span', { class: 'mono', id: 'webhook-id' }, w.id)),
    el('div', { class: 'inline' }, toggle, ' ', grace, ' ', rotate, ' ', test),
    secretOut, testOut, dl, el('h2', {}, 'Edit'), edit, el('h2', {}, 'Attempts'),
    el('table', { id: 'attempts' }, el('thead', {}, el('tr', {},
      ['at', 'delivery', 'event', 'attempt', 'status', 'ms', 'error'].map((h) => el('th', {}, h)))),
    attempts), more);
}

// Retries: what waits in the retry set, with retry-now and delete.
async function retriesPage(main) {
  const rows = await listAll('/v1/retries');
  const redraw = () => route();
  main.append(el('h1', {}, 'Retries (' + rows.length + ')'), table(
    ['id', 'due', 'attempt', 'webhook', 'event', 'last error', ''],
    rows.map((r) => {
      const path = '/v1/retries/' + encodeURIComponent(r.id);
      return el('tr', { 'data-retry': r.id },
        el('td', { class: 'mono' }, r.id), el('td', {}, when(r.due_at)), el('td', { class: 'num' }, r.attempt),
        el('td', {}, el('a', { href: '#/webhook/' + encodeURIComponent(r.webhook) }, r.webhook)),
        el('td', {}, r.event), el('td', {}, r.last_error ?? ''),
        el('td', {},
          el('button', { type: 'button', class: 'retry-now', onclick: () =>
            act('retry queued', async () => { await api('POST', path + '/retry'); }, redraw) }, 'Retry now'), ' ',
          el('button', { type: 'button', class: 'danger delete', onclick: () => {
            if (confirm('Delete retry ' + r.id + '? The delivery is dropped.'))
              act('deleted', async () => { await api('DELETE', path); }, redraw);
          } }, 'Delete')));
    }), { id: 'retries' }));
}

const DEAD_FILTERS = ['webhook', 'reason', 'since', 'until'];
let deadFilter = {}; // kept across redraws of the dead page

// Dead letters: filtered list, replay or purge with the same filter, replay one by id.
async function deadPage(main) {
  const q = DEAD_FILTERS.filter((k) => deadFilter[k])
    .map((k) => k + '=' + encodeURIComponent(deadFilter[k])).join('&');
  const rows = await listAll('/v1/dead' + (q ? '?' + q : ''));
  const redraw = () => route();
  const inputs = {};
  const form = el('form', { class: 'inline', id: 'dead-filter', onsubmit: (ev) => {
    ev.preventDefault();
    deadFilter = {};
    for (const k of DEAD_FILTERS) if (inputs[k].value.trim()) deadFilter[k] = inputs[k].value.trim();
    redraw();
  } });
  for (const k of DEAD_FILTERS) {
    inputs[k] = el('input', { name: k, value: deadFilter[k] || '',
      placeholder: k === 'since' || k === 'until' ? '2026-12-01T00:00:00Z' : '' });
    form.append(el('label', {}, k, inputs[k]));
  }
  const filterBody = () => Object.fromEntries(DEAD_FILTERS.filter((k) => deadFilter[k]).map((k) => [k, deadFilter[k]]));
  form.append(el('button', { type: 'submit' }, 'Filter'),
    el('button', { type: 'button', id: 'replay-all', onclick: () => act('replayed', async () => {
      const r = await api('POST', '/v1/dead/replay', filterBody());
      return r.replayed + ' replayed, ' + r.skipped + ' skipped';
    }, redraw) }, 'Replay matching'),
    el('button', { type: 'button', id: 'purge', class: 'danger', onclick: () => {
      const what = Object.keys(filterBody()).length ? 'the dead letters matching the filter' : 'every dead letter';
      if (!confirm('Purge ' + what + '? This cannot be undone.')) return;
      act('purged', async () => {
        const r = await api('POST', '/v1/dead/purge', filterBody());
        return r.purged + ' purged';
      }, redraw);
    } }, 'Purge matching'));
  main.append(el('h1', {}, 'Dead letters (' + rows.length + ')'), form, table(
    ['id', 'at', 'kind', 'reason', 'webhook', 'event', 'attempts', ''],
    rows.map((d) => el('tr', { 'data-dead': d.id },
      el('td', { class: 'mono' }, d.id), el('td', {}, when(d.at)), el('td', {}, d.kind),
      el('td', {}, d.reason), el('td', {}, d.webhook ?? ''), el('td', {}, d.event ?? ''),
      el('td', { class: 'num' }, d.attempts ?? ''),
      el('td', {}, el('button', { type: 'button', class: 'replay', onclick: () => act('replayed', async () => {
        const r = await api('POST', '/v1/dead/replay', { id: d.id });
        return r.replayed + ' replayed, ' + r.skipped + ' skipped';
      }, redraw) }, 'Replay')))),
    { id: 'dead' }));
}

// ---- the router ----

const PAGES = [
  [/^#\/overview$/, 'overview', overviewPage],
  [/^#\/webhooks$/, 'webhooks', webhooksPage],
  [/^#\/webhook\/(.+)$/, 'webhooks', webhookPage],
  [/^#\/retries$/, 'retries', retriesPage],
  [/^#\/dead$/, 'dead', deadPage],
];

let generation = 0; // a page drawn for an older route is thrown away

async function route() {
  stopPage();
  stopPage = () => {};
  if (!sessionStorage.getItem(TOKEN_KEY)) return signOut('');
  $('login').hidden = true;
  $('nav').hidden = false;
  const hash = location.hash || '#/overview';
  const hit = PAGES.find(([re]) => re.test(hash)) || PAGES[0];
  const [re, nav, draw] = hit;
  const m = hash.match(re);
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.page === nav);
  const gen = ++generation;
  const main = el('main', { id: 'main', 'data-page': nav, 'aria-busy': 'true' });
  try {
    const stop = await draw(main, ...(m ? m.slice(1).map(decodeURIComponent) : []));
    if (gen !== generation) {
      if (stop) stop();
      return;
    }
    stopPage = stop || (() => {});
    main.setAttribute('aria-busy', 'false');
    $('main').replaceWith(main);
  } catch (e) {
    if (e instanceof Unauthorized || gen !== generation) return;
    main.replaceChildren(el('p', { class: 'error', id: 'page-error' }, e.message));
    main.setAttribute('aria-busy', 'false');
    $('main').replaceWith(main);
  }
}

$('login-form').addEventListener('submit', signIn);
$('logout').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', () => { flash(''); route(); });
route();
