// Keys: list with server paging and search by alias or team (`GET /key/list`), create (the key shown once, with a copy
// button), edit models, limits, budget and expiry (`/key/update`), revoke (`/key/delete`), spend
// per key (`GET /key/info`). The API validates; its error message is shown as it is.

import { api } from './api.js';
import { errorBox, field, fmt, h, num, put, table, values } from './dom.js';

const SIZE = 20;
let search = '';
let searchBy = 'key_alias';

/** The LiteLLM fields of a key form, validated like the API (which stays the authority). */
function keyFields(v, forUpdate) {
  const body = {};
  const text = (k) => { if (v[k] !== undefined) body[k] = v[k]; else if (forUpdate) body[k] = null; };
  text('key_alias');
  text('team_id');
  body.models = v.models ? v.models.split(',').map((m) => m.trim()).filter(Boolean) : [];
  for (const k of ['rpm_limit', 'tpm_limit']) {
    const n = num(v[k], k, true);
    if (n !== undefined) body[k] = n; else if (forUpdate) body[k] = null;
  }
  const budget = num(v.max_budget, 'max_budget');
  if (budget !== undefined) body.max_budget = budget; else if (forUpdate) body.max_budget = null;
  if (v.budget_duration) body.budget_duration = v.budget_duration;
  if (v.duration) body.duration = v.duration;
  return body;
}

function keyForm(key, onSubmit, submitLabel) {
  const i = (name, props = {}) => h('input', { name, value: key && key[name] !== undefined && key[name] !== null ? key[name] : '', ...props });
  const status = h('div', { class: 'status' });
  const form = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    put(status);
    try {
      await onSubmit(keyFields(values(form), Boolean(key)), status);
    } catch (e) {
      if (e.name !== 'AbortError') put(status, errorBox(e));
    }
  } },
  field('Alias', i('key_alias', { placeholder: 'team-a' })),
  field('Team', i('team_id')),
  field('Models', h('input', { name: 'models', value: key && key.models ? key.models.join(', ') : '', placeholder: 'gpt-*, claude-sonnet' }), 'comma-separated, * wildcards; empty: all'),
  field('RPM limit', i('rpm_limit', { inputmode: 'numeric' })),
  field('TPM limit', i('tpm_limit', { inputmode: 'numeric' })),
  field('Max budget (USD)', i('max_budget', { inputmode: 'decimal' })),
  field('Budget period', h('input', { name: 'budget_duration', placeholder: '30d' }), key && key.budget_duration ? `now ${key.budget_duration}` : '30s, 15m, 1h, 1d, 30d'),
  field(key ? 'Expires in (from now)' : 'Expires in', h('input', { name: 'duration', placeholder: '90d' }), key && key.expires ? `now ${fmt.time(key.expires)}` : 'empty: never'),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, submitLabel)),
  status);
  return form;
}

export function render(main, signal) {
  let page = 1;
  const list = h('div');
  const side = h('aside', { class: 'detail card', hidden: true });
  const status = h('div', { class: 'status' });
  const searchInput = h('input', { type: 'search', name: 'q', value: search, placeholder: 'exact alias or team', 'aria-label': 'Search' });
  const searchField = h('select', { name: 'search_by', 'aria-label': 'Search by' },
    [['key_alias', 'Alias'], ['team_id', 'Team']].map(([v, label]) => h('option', { value: v, selected: v === searchBy ? true : null }, label)));
  const pager = h('div', { class: 'toolbar' });

  put(main, h('h1', {}, 'Keys'),
    h('div', { class: 'toolbar' },
      h('form', { class: 'inline', onsubmit: (ev) => { ev.preventDefault(); search = searchInput.value.trim(); searchBy = searchField.value; page = 1; load(); } },
        searchField, searchInput, h('button', { type: 'submit' }, 'Search')),
      h('button', { type: 'button', onclick: showCreate }, 'Create key')),
    status, h('div', { class: 'split' }, h('div', {}, list, pager), side));

  async function load() {
    put(status, h('span', { class: 'muted' }, 'Loading…'));
    try {
      const answer = await api('key/list', { signal, query: { page, size: SIZE, [searchBy]: search } });
      put(status);
      const keys = answer.keys || [];
      put(list, table([
        { label: 'Alias', value: (k) => k.key_alias || '–' },
        { label: 'Key', value: (k) => h('code', {}, k.key_name || '–') },
        { label: 'Id', value: (k) => h('code', {}, k.key_id) },
        { label: 'Team', value: (k) => k.team_id || '–' },
        { label: 'Models', value: (k) => fmt.list(k.models) },
        { label: 'Created', value: (k) => fmt.time(k.created_at) },
      ], keys, { onRow: (k) => showKey(k.key_id), empty: search ? `No key has this ${searchBy === 'team_id' ? 'team' : 'alias'}.` : 'No keys yet.', rowLabel: (k) => `key ${k.key_alias || k.key_id}` }));
      const pages = answer.total_pages || 1;
      put(pager,
        h('button', { type: 'button', disabled: page <= 1 ? true : null, onclick: () => { page -= 1; load(); } }, '← Previous'),
        h('span', { class: 'muted' }, `page ${answer.current_page || page} of ${pages} · ${fmt.int(answer.total_count ?? keys.length)} keys`),
        h('button', { type: 'button', disabled: page >= pages ? true : null, onclick: () => { page += 1; load(); } }, 'Next →'));
    } catch (e) {
      if (e.name !== 'AbortError') put(status, errorBox(e));
    }
  }

  function showCreate() {
    side.hidden = false;
    put(side, h('div', { class: 'detail-head' }, h('h2', {}, 'New key'), h('button', { class: 'link', onclick: () => { side.hidden = true; } }, 'Close')),
      keyForm(null, async (body) => {
        const created = await api('key/generate', { method: 'POST', body, signal });
        showOnce(created);
        load();
      }, 'Create'));
  }

  // The new key, shown once: it is not kept anywhere, and closing this box forgets it.
  function showOnce(created) {
    const keyText = h('input', { readonly: true, value: created.key, class: 'secret', 'aria-label': 'New key', size: 56 });
    const copied = h('span', { class: 'muted', role: 'status' });
    put(side,
      h('h2', {}, 'Key created'),
      h('p', { class: 'warning' }, 'Copy this key now: it is shown once and cannot be shown again.'),
      h('div', { class: 'once' }, keyText,
        h('button', { type: 'button', onclick: async () => {
          try { await navigator.clipboard.writeText(keyText.value); put(copied, 'Copied.'); } catch { keyText.select(); put(copied, 'Select and copy (Ctrl+C).'); }
        } }, 'Copy')),
      copied,
      h('p', {}, 'Alias: ', created.key_alias || '–', ' · id: ', h('code', {}, created.key_id)),
      h('button', { type: 'button', onclick: () => { keyText.value = ''; showKey(created.key_id); } }, 'Done'));
    keyText.select();
  }

  async function showKey(id) {
    side.hidden = false;
    put(side, h('p', { class: 'muted' }, 'Loading…'));
    let info;
    try {
      info = (await api('key/info', { signal, query: { key: id } })).info;
    } catch (e) {
      if (e.name !== 'AbortError') put(side, errorBox(e));
      return;
    }
    const revokeStatus = h('div', { class: 'status' });
    let armed = false;
    const revoke = h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!armed) { armed = true; revoke.textContent = 'Click again to revoke'; return; }
      try {
        await api('key/delete', { method: 'POST', body: { keys: [info.key_id] }, signal });
        put(side, h('p', { role: 'status' }, 'Key revoked: it is refused from now on.'));
        load();
      } catch (e) {
        if (e.name !== 'AbortError') put(revokeStatus, errorBox(e));
      }
    } }, 'Revoke');
    put(side,
      h('div', { class: 'detail-head' }, h('h2', {}, info.key_alias || info.key_id), h('button', { class: 'link', onclick: () => { side.hidden = true; } }, 'Close')),
      h('dl', {},
        h('dt', {}, 'Key'), h('dd', {}, h('code', {}, info.key_name)),
        h('dt', {}, 'Id'), h('dd', {}, h('code', {}, info.key_id)),
        h('dt', {}, 'Spend'), h('dd', { class: 'spend' }, fmt.usd(info.spend)),
        h('dt', {}, 'Budget'), h('dd', {}, info.max_budget === null || info.max_budget === undefined ? 'none' : `${fmt.usd(info.budget_period_spend)} of ${fmt.usd(info.max_budget)}${info.budget_duration ? ` per ${info.budget_duration}` : ''}`),
        h('dt', {}, 'Limits'), h('dd', {}, `RPM ${info.rpm_limit ?? '–'} · TPM ${info.tpm_limit ?? '–'}`),
        h('dt', {}, 'Expires'), h('dd', {}, info.expires ? fmt.time(info.expires) : 'never'),
        h('dt', {}, 'Last used'), h('dd', {}, fmt.time(info.last_used_at)),
        h('dt', {}, 'Created'), h('dd', {}, fmt.time(info.created_at))),
      h('h3', {}, 'Edit'),
      keyForm(info, async (body, status) => {
        await api('key/update', { method: 'POST', body: { ...body, key: info.key_id }, signal });
        put(status, h('span', { role: 'status', class: 'good' }, 'Saved.'));
        load();
      }, 'Save'),
      h('h3', {}, 'Revoke'), revoke, revokeStatus);
  }

  load();
}
