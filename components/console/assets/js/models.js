// Models: every model group and deployment (`GET /model/info`) with provider, upstream model,
// prices, limits and health (`GET /health`). Models from the YAML config are read-only; runtime
// models (stored in the key-value store, effective on the next request on every replica) are
// added, edited and deleted here through LiteLLM's API (`/model/new`, `PATCH /model/{id}/update`,
// `/model/delete`). Provider keys are never entered: a model names a key variable.

import { api } from './api.js';
import { errorBox, field, h, num, put, table, values } from './dom.js';
import { stateBadge } from './health.js';

const KEY_VARIABLES = ['', 'os.environ/OPENAI_API_KEY', 'os.environ/ANTHROPIC_API_KEY', 'os.environ/GEMINI_API_KEY', 'os.environ/HOSTED_VLLM_API_KEY'];
const perMillion = (p) => (p === undefined || p === null ? 'built-in' : `$${(p * 1e6).toFixed(2)}`);

function modelForm(entry, onSubmit, submitLabel) {
  const p = (entry && entry.litellm_params) || {};
  const info = (entry && entry.model_info) || {};
  const i = (name, value, props = {}) => h('input', { name, value: value ?? '', ...props });
  const status = h('div', { class: 'status' });
  const keyRef = typeof p.api_key === 'string' && p.api_key.startsWith('os.environ/') ? p.api_key : '';
  const form = h('form', { class: 'grid-form', onsubmit: async (ev) => {
    ev.preventDefault();
    put(status);
    try {
      const v = values(form);
      const params = { model: v.model };
      if (v.api_base) params.api_base = v.api_base;
      if (v.api_key) params.api_key = v.api_key;
      for (const [k, integer] of [['rpm', true], ['tpm', true], ['timeout', false]]) {
        const n = num(v[k], k, integer);
        if (n !== undefined) params[k] = n;
      }
      const modelInfo = {};
      for (const k of ['input_cost_per_token', 'output_cost_per_token', 'max_tokens']) {
        const n = num(v[k], k, k === 'max_tokens');
        if (n !== undefined) modelInfo[k] = n;
      }
      await onSubmit({ model_name: v.model_name, litellm_params: params, model_info: modelInfo }, status);
    } catch (e) {
      if (e.name !== 'AbortError') put(status, errorBox(e));
    }
  } },
  field('Model name (what callers send)', i('model_name', entry && entry.model_name, { required: true, placeholder: 'my-model' })),
  field('Provider/upstream model', i('model', p.model, { required: true, placeholder: 'openai/gpt-4o-mini' }), 'openai/, hosted_vllm/, anthropic/ or gemini/'),
  field('API base', i('api_base', p.api_base, { placeholder: 'http://vllm.ns.svc:8000/v1' }), 'self-hosted servers only'),
  field('Key variable', h('select', { name: 'api_key' }, KEY_VARIABLES.map((k) => h('option', { value: k, selected: k === keyRef ? true : null }, k || "the provider's default"))), 'a variable that already exists; keys are never entered here'),
  field('RPM', i('rpm', p.rpm, { inputmode: 'numeric' })),
  field('TPM', i('tpm', p.tpm, { inputmode: 'numeric' })),
  field('Timeout (s)', i('timeout', p.timeout, { inputmode: 'decimal' })),
  field('Input cost per token (USD)', i('input_cost_per_token', info.input_cost_per_token, { inputmode: 'decimal' })),
  field('Output cost per token (USD)', i('output_cost_per_token', info.output_cost_per_token, { inputmode: 'decimal' })),
  field('Max output tokens', i('max_tokens', info.max_tokens, { inputmode: 'numeric' })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, submitLabel)),
  status);
  return form;
}

export function render(main, signal) {
  const body = h('div');
  const side = h('aside', { class: 'detail card', hidden: true });
  put(main, h('h1', {}, 'Models'),
    h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: showAdd }, 'Add model')),
    h('div', { class: 'split' }, body, side));

  async function load() {
    // Both at once: the page waits for the slower one only.
    const health = api('health', { signal }).catch(() => null);
    let models;
    try {
      models = (await api('model/info', { signal })).data || [];
    } catch (e) {
      if (e.name !== 'AbortError') put(body, errorBox(e));
      return;
    }
    const state = await health;
    const deployments = new Map(((state && state.deployments) || []).map((d) => [d.id, d]));
    const groups = new Map();
    for (const m of models) {
      if (!groups.has(m.model_name)) groups.set(m.model_name, []);
      groups.get(m.model_name).push(m);
    }
    put(body, [...groups.entries()].map(([name, list]) => h('section', { class: 'card group' },
      h('h2', {}, name, h('span', { class: 'muted' }, ` · ${list.length} deployment${list.length > 1 ? 's' : ''}`)),
      table([
        { label: 'Source', value: (m) => (m.model_info.read_only ? h('span', { class: 'badge', title: 'Defined in the YAML config: change it there' }, 'YAML · read-only') : h('span', { class: 'badge runtime' }, 'runtime')) },
        { label: 'Id', value: (m) => h('code', {}, m.model_info.id) },
        { label: 'Provider', value: (m) => m.provider },
        { label: 'Upstream model', value: (m) => m.upstream_model },
        { label: 'API base', value: (m) => m.litellm_params.api_base || 'default' },
        { label: 'Key', value: (m) => m.litellm_params.api_key || 'default' },
        { label: 'In / out per 1M tokens', value: (m) => `${perMillion(m.model_info.input_cost_per_token)} / ${perMillion(m.model_info.output_cost_per_token)}` },
        { label: 'RPM / TPM', value: (m) => `${m.litellm_params.rpm ?? '–'} / ${m.litellm_params.tpm ?? '–'}` },
        { label: 'Health', value: (m) => stateBadge(deployments.get(m.model_info.id)) },
        { label: '', value: (m) => (m.model_info.read_only ? null : h('span', { class: 'row-actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => showEdit(m) }, 'Edit'),
          deleteButton(m))) },
      ], list))));
    if (!groups.size) put(body, h('p', { class: 'muted empty' }, 'No models configured.'));
  }

  function deleteButton(m) {
    let armed = false;
    const b = h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!armed) { armed = true; b.textContent = 'Confirm delete'; return; }
      try {
        await api('model/delete', { method: 'POST', body: { id: m.model_info.id }, signal });
        load();
      } catch (e) {
        if (e.name !== 'AbortError') { side.hidden = false; put(side, errorBox(e)); }
      }
    } }, 'Delete');
    return b;
  }

  function showAdd() {
    side.hidden = false;
    put(side, head('Add a runtime model'),
      h('p', { class: 'muted' }, 'Stored in the key-value store and served from the next request on every replica. Validated like the YAML config.'),
      modelForm(null, async (entry, status) => {
        const created = await api('model/new', { method: 'POST', body: entry, signal });
        put(status, h('span', { role: 'status', class: 'good' }, `Added (id ${created.model_id || created.model_info?.id || ''}).`));
        load();
      }, 'Add'));
  }

  function showEdit(m) {
    side.hidden = false;
    put(side, head(`Edit ${m.model_name}`), modelForm(m, async (entry, status) => {
      await api(`model/${encodeURIComponent(m.model_info.id)}/update`, { method: 'PATCH', body: entry, signal });
      put(status, h('span', { role: 'status', class: 'good' }, 'Saved.'));
      load();
    }, 'Save'));
  }

  const head = (title) => h('div', { class: 'detail-head' }, h('h2', {}, title), h('button', { class: 'link', onclick: () => { side.hidden = true; } }, 'Close'));
  load();
}
