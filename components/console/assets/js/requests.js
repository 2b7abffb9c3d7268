// Requests: the request log (`GET /spend/logs`) with the server's filters and cursor paging, a
// detail view per request, and a gentle live refresh of the first page (every 5 s while the tab
// is visible, never two requests at once, slower after errors).

import { api } from './api.js';
import { errorBox, field, fmt, h, put, table, values } from './dom.js';

const LIVE_MS = 5000;
let filters = { limit: '50' };

export function render(main, signal) {
  let cursors = [];            // cursors of the pages before this one (for "Newer")
  let cursor = null;           // this page's cursor (null: the newest rows)
  let rows = [];
  let timer = null;
  let busy = false;
  let failures = 0;
  const status = h('div', { class: 'status' });
  const list = h('div', { class: 'list' });
  const detail = h('aside', { class: 'detail card', hidden: true, 'aria-label': 'Request detail' });
  const live = h('input', { type: 'checkbox', checked: true, name: 'live' });
  const older = h('button', { type: 'button', onclick: () => { cursors.push(cursor); cursor = rows[rows.length - 1].cursor; load(); } }, 'Older →');
  const newer = h('button', { type: 'button', onclick: () => { cursor = cursors.pop() ?? null; load(); } }, '← Newer');
  const pageInfo = h('span', { class: 'muted' });

  const input = (name, props = {}) => h('input', { name, value: filters[name] || '', ...props });
  const form = h('form', { class: 'filters', onsubmit: (ev) => { ev.preventDefault(); filters = values(form); cursors = []; cursor = null; load(); } },
    field('From', input('start_date', { type: 'date' })),
    field('To', input('end_date', { type: 'date' })),
    field('Key (alias or id)', input('api_key', { placeholder: 'team-a' })),
    field('Model', input('model', { placeholder: 'gpt-4o' })),
    field('Provider', input('provider', { placeholder: 'openai' }), 'filters the page shown'),
    field('Status', input('status', { placeholder: '200, 429, success, failure' })),
    field('Request id', input('request_id')),
    field('Rows', h('select', { name: 'limit' }, ['10', '25', '50', '100', '500'].map((n) => h('option', { value: n, selected: n === (filters.limit || '50') ? true : null }, n)))),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Apply'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { filters = { limit: '50' }; form.reset(); for (const el of form.elements) if (el.name && el.name !== 'limit') el.value = ''; cursors = []; cursor = null; load(); } }, 'Clear')));

  put(main, h('h1', {}, 'Requests'), form,
    h('div', { class: 'toolbar' }, newer, older, pageInfo, h('label', { class: 'inline' }, live, ' Live (first page, every 5 s)')),
    status, h('div', { class: 'split' }, list, detail));

  async function load(quiet = false) {
    if (busy) return;
    busy = true;
    if (!quiet) put(status, h('span', { class: 'muted' }, 'Loading…'));
    const { provider, ...query } = filters;
    try {
      const answer = await api('spend/logs', { signal, query: { ...query, cursor } });
      rows = Array.isArray(answer) ? answer : (answer && answer.data) || [];
      failures = 0;
      put(status);
      const shown = provider ? rows.filter((r) => r.provider === provider) : rows;
      put(list, table([
        { label: 'Time (UTC)', value: (r) => fmt.time(r.started_at_ms), class: 'nowrap' },
        { label: 'Key', value: (r) => r.key_alias || r.key_id || '–' },
        { label: 'Model', value: (r) => r.model || '–' },
        { label: 'Provider', value: (r) => r.provider || '–' },
        { label: 'Status', value: (r) => h('span', { class: r.status >= 400 ? 'bad' : 'good' }, r.status ?? '–'), class: 'num' },
        { label: 'Tokens', value: (r) => fmt.int(r.total_tokens), class: 'num' },
        { label: 'Cost', value: (r) => fmt.usd(r.spend), class: 'num' },
        { label: 'Latency', value: (r) => fmt.ms(r.latency_ms), class: 'num' },
      ], shown, { onRow: showDetail, empty: 'No requests match.', rowLabel: (r) => `request ${r.request_id}` }));
      newer.disabled = cursor === null;
      older.disabled = rows.length < Number(filters.limit || 50) || !rows.length || !rows[rows.length - 1].cursor;
      put(pageInfo, `page ${cursors.length + 1}`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      failures += 1;
      put(status, errorBox(e));
    } finally {
      busy = false;
    }
  }

  async function showDetail(row) {
    detail.hidden = false;
    put(detail, h('p', { class: 'muted' }, 'Loading…'));
    let full = row;
    try {
      const answer = await api('spend/logs', { signal, query: { request_id: row.request_id, limit: 1 } });
      if (Array.isArray(answer) && answer.length) full = answer[0];
    } catch (e) {
      if (e.name === 'AbortError') return;
    }
    const attempts = Array.isArray(full.attempts) ? full.attempts : null;
    put(detail,
      h('div', { class: 'detail-head' }, h('h2', {}, 'Request'), h('button', { class: 'link', onclick: () => { detail.hidden = true; } }, 'Close')),
      h('dl', {}, Object.entries(full).filter(([k]) => k !== 'attempts').flatMap(([k, v]) => [
        h('dt', {}, k),
        h('dd', {}, k.endsWith('_at_ms') ? `${fmt.time(v)} (${v})` : (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? '–'))),
      ])),
      attempts ? [h('h3', {}, 'Attempts'), table(
        Object.keys(attempts[0] || {}).map((k) => ({ label: k, value: (a) => (a[k] !== null && typeof a[k] === 'object' ? JSON.stringify(a[k]) : String(a[k] ?? '–')) })),
        attempts)] : null);
  }

  function tick() {
    const delay = LIVE_MS * Math.min(8, 2 ** failures);
    timer = setTimeout(async () => {
      if (live.checked && cursor === null && document.visibilityState === 'visible') await load(true);
      if (!signal.aborted) tick();
    }, delay);
  }
  load();
  tick();
  return () => clearTimeout(timer);
}
