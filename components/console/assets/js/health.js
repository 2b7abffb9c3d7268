// Health: per-deployment state from real traffic (`GET /health`: healthy, or cooling until when
// and why, last failure), and whether each provider component answers with its key variables
// set. No provider is ever called for it. Refreshed every 10 s while the tab is visible.

import { api } from './api.js';
import { errorBox, fmt, h, put, table } from './dom.js';

/** The state cell of a deployment. */
export function stateBadge(d) {
  if (!d) return h('span', { class: 'muted' }, '–');
  return d.state === 'cooling'
    ? h('span', { class: 'badge bad' }, `cooling until ${fmt.time(d.cooling_until_ms)}`, d.cooling_because ? ` (${d.cooling_because.status} ${d.cooling_because.error || ''})` : '')
    : h('span', { class: 'badge good' }, d.state || 'healthy');
}

/** Cooling deployments first, then those that failed lately (newest first), then the rest. */
function troubleFirst(list) {
  const rank = (d) => (d.state === 'cooling' ? 0 : d.last_failure ? 1 : 2);
  return [...list].sort((a, b) => rank(a) - rank(b) || ((b.last_failure || {}).at_ms || 0) - ((a.last_failure || {}).at_ms || 0));
}

/** `{status, error, at_ms}` as "429 rate_limit at <time>". */
function lastFailure(f) {
  if (!f) return '–';
  return [f.status, f.error, f.at_ms ? `at ${fmt.time(f.at_ms)}` : null].filter((x) => x !== null && x !== undefined).join(' ');
}

export function render(main, signal) {
  const body = h('div');
  put(main, h('h1', {}, 'Health'), h('p', { class: 'muted' }, 'From real traffic only: no provider is called to build this page.'), body);
  let timer = null;
  async function load() {
    let health;
    try {
      health = await api('health', { signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      put(body, errorBox(e));
      return;
    }
    const config = health.config || {};
    const providers = Object.entries(health.providers || {});
    put(body,
      h('div', { class: 'cards' },
        h('div', { class: 'card stat' }, h('span', { class: 'muted' }, 'Gateway'), h('strong', { class: health.status === 'healthy' ? 'good' : 'bad' }, health.status)),
        h('div', { class: 'card stat' }, h('span', { class: 'muted' }, 'Config'), h('strong', {}, config.loaded ? `${config.models} models, ${config.deployments} deployments` : 'not loaded')),
        h('div', { class: 'card stat' }, h('span', { class: 'muted' }, 'Routing'), h('strong', {}, config.routing_strategy || '–'))),
      config.error ? errorBox(new Error(config.error)) : null,
      config.ignored_settings && config.ignored_settings.length ? h('p', { class: 'muted' }, 'Settings accepted but not applied: ', config.ignored_settings.join(', ')) : null,
      h('h2', {}, 'Providers'),
      table([
        { label: 'Provider', value: ([name]) => name },
        { label: 'Component', value: ([, p]) => h('code', {}, p.component) },
        { label: 'Answers', value: ([, p]) => h('span', { class: p.reachable ? 'good' : 'bad' }, p.reachable ? 'yes' : 'no') },
        { label: 'Key variables', value: ([, p]) => Object.entries(p.keys || {}).map(([k, set]) => `${k}: ${set ? 'set' : 'EMPTY'}`).join(', ') || '–' },
        { label: 'Models', value: ([, p]) => (p.models || []).join(', ') },
      ], providers),
      h('h2', {}, 'Deployments'),
      table([
        { label: 'Model', value: (d) => d.model_name },
        { label: 'Deployment id', value: (d) => h('code', {}, d.id) },
        { label: 'Provider', value: (d) => d.provider },
        { label: 'Upstream model', value: (d) => d.upstream_model },
        { label: 'State', value: stateBadge },
        { label: 'Last failure', value: (d) => lastFailure(d.last_failure) },
      ], troubleFirst(health.deployments || [])));
  }
  function tick() {
    timer = setTimeout(async () => {
      if (document.visibilityState === 'visible') await load();
      if (!signal.aborted) tick();
    }, 10000);
  }
  load();
  tick();
  return () => clearTimeout(timer);
}
