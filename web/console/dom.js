// Building the page. Every value from the API reaches the page as a text node or an attribute
// set through the DOM: nothing here parses HTML, so a hostile string (an app description, a
// failure detail) is shown as the text it is. Keep it so: no HTML-parsing sinks (ee_test_cp checks).

/**
 * h('td', {class: 'mono'}, 'text', node, ...): an element. Attributes are set with setAttribute
 * (only plain names; "on*" handler attributes are refused); children are nodes or strings (text).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (!/^[a-z][a-z0-9-]*$/.test(name) || name.startsWith('on')) throw new Error('attribute not allowed: ' + name);
    el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el` with `children`. */
export function show(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A link inside the console: `parts` are path segments, each percent-encoded. */
export function pageLink(text, ...parts) {
  return h('a', { href: '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/') }, text);
}

/** A small coloured label; kind is ok, warn, bad, info or none. */
export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || 'none') }, text);
}

const STATUS_KINDS = {
  idle: 'ok', deployed: 'info', down: 'bad', unverified: 'bad',
  running: 'ok', pending: 'info', queued: 'info', deploying: 'info', failed: 'bad', stopped: 'none',
  up: 'ok', unknown: 'none', UpToDate: 'ok',
};

/** A badge for a status word of the API (agent status, health, deployment status, TCB status). */
export function statusBadge(word) {
  const text = word === undefined || word === null || word === '' ? '—' : String(word);
  const kind = Object.prototype.hasOwnProperty.call(STATUS_KINDS, text) ? STATUS_KINDS[text] : 'warn';
  return badge(text, kind);
}

/** A table: columns are [heading, row => cell content]. */
export function table(columns, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))));
}

/** A definition list of [label, content] pairs. */
export function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

/** RFC 3339 time as "2025-01-31 12:00:00 UTC"; '—' for null. */
export function when(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return t.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

/** Seconds as "12 s", "5 min", "3 h", "2 d". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

/** A long hex value in monospace (measurements, report data). */
export function hex(value) {
  return h('span', { class: 'mono' }, value ? String(value) : '—');
}

/** The first 8 characters of an id, with the whole id as a tooltip. */
export function shortId(id) {
  return h('span', { class: 'mono', title: String(id) }, String(id).slice(0, 8));
}

/** An API failure, shown in place of the page. */
export function errorBox(e) {
  const parts = [h('strong', {}, 'Could not load this page. '), String(e.message || e)];
  if (e.code) parts.push(h('span', { class: 'mono' }, ' (' + e.code + (e.requestId ? ', request ' + e.requestId : '') + ')'));
  return h('div', { class: 'error', role: 'alert' }, parts);
}
