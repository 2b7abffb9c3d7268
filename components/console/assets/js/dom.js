// DOM helpers. Data is only ever inserted as text (`append` of strings makes text nodes), never
// as HTML, so key aliases, model names and error messages render exactly as they are.

/** Creates an element: `h('a', {class: 'x', onclick: f}, 'text', child)`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  return el;
}

/** Appends children (nodes, or anything else as text); null/undefined/false are skipped. */
export function add(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces an element's children. */
export function put(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** An error box showing the gateway's message (and HTTP status, code and parameter). */
export function errorBox(e) {
  const bits = [];
  if (e && e.status) bits.push(`HTTP ${e.status}`);
  if (e && e.code) bits.push(e.code);
  if (e && e.param) bits.push(`parameter: ${e.param}`);
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, (e && e.message) || String(e)),
    bits.length ? h('span', { class: 'muted' }, ` (${bits.join(', ')})`) : null);
}

/** A table: columns are `{label, value: row => text|Node, class?}`. */
export function table(columns, rows, { onRow, empty = 'Nothing here yet.', rowLabel } = {}) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty);
  return h('table', { class: onRow ? 'clickable' : '' },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {
      tabindex: onRow ? '0' : null,
      'aria-label': rowLabel ? rowLabel(r) : null,
      onclick: onRow ? () => onRow(r) : null,
      onkeydown: onRow ? (ev) => { if (ev.key === 'Enter') onRow(r); } : null,
    }, columns.map((c) => h('td', { class: c.class }, c.value(r)))))));
}

/** A labelled form field. */
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

const number = new Intl.NumberFormat('en-US');
export const fmt = {
  int: (n) => (n === null || n === undefined ? '–' : number.format(n)),
  usd: (n) => (n === null || n === undefined ? '–' : `$${Number(n).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 4)}`),
  ms: (n) => (n === null || n === undefined ? '–' : `${number.format(Math.round(n))} ms`),
  pct: (n) => (n === null || n === undefined || !isFinite(n) ? '–' : `${(n * 100).toFixed(1)} %`),
  time: (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–'),
  list: (a) => (a && a.length ? a.join(', ') : 'all'),
};

/** Form values as an object of trimmed strings (empty fields left out). */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    const s = String(v).trim();
    if (s !== '') out[k] = s;
  }
  return out;
}

/** Parses an optional non-negative number field; throws a message naming the field. */
export function num(v, name, integer = false) {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return n;
}
