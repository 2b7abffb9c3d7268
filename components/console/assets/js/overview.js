// Overview: requests, error rate, tokens, spend, latency and time to first token per model or
// provider, from `GET /usage/series` (the rollup tables, never raw rows).

import { api } from './api.js';
import { chart, loadCharts } from './charts.js';
import { errorBox, fmt, h, put, table } from './dom.js';

const RANGES = {
  '1h': { label: 'Last hour', seconds: 3600, bucket: 'minute' },
  '24h': { label: 'Last day', seconds: 86400, bucket: 'hour' },
  '30d': { label: 'Last 30 days', seconds: 30 * 86400, bucket: 'day' },
};

let range = '24h';
let groupBy = 'model';

export function render(main, signal) {
  const body = h('div', { class: 'overview' });
  const controls = h('div', { class: 'toolbar' },
    h('div', { class: 'segmented', role: 'group', 'aria-label': 'Range' },
      Object.entries(RANGES).map(([id, r]) => h('button', {
        class: id === range ? 'on' : '', 'aria-pressed': String(id === range),
        onclick: () => { range = id; render(put(main), signal); },
      }, r.label))),
    h('label', { class: 'inline' }, 'By ',
      h('select', { 'aria-label': 'Group by', onchange: (ev) => { groupBy = ev.target.value; render(put(main), signal); } },
        ['model', 'provider', 'deployment', 'api_key'].map((g) => h('option', { value: g, selected: g === groupBy ? true : null }, g)))));
  put(main, h('h1', {}, 'Overview'), controls, body);
  load(body, signal);
}

async function load(body, signal) {
  const r = RANGES[range];
  const end = Math.floor(Date.now() / 1000);
  put(body, h('p', { class: 'muted' }, 'Loading…'));
  let answer;
  try {
    [answer] = await Promise.all([
      api('usage/series', { signal, query: { start_date: end - r.seconds, end_date: end, bucket: r.bucket, group_by: groupBy } }),
      loadCharts(),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') return;
    put(body, errorBox(e));
    return;
  }
  const series = answer.series || [];
  // Every bucket of the range (the API leaves out buckets without requests: zero requests there).
  const step = { minute: 60, hour: 3600, day: 86400 }[answer.bucket] || 3600;
  const xs = [];
  for (let t = answer.start; t < answer.end && xs.length < 2000; t += step) xs.push(t);
  const at = (s, field, missing) => {
    const byT = new Map(s.points.map((p) => [p.t, p]));
    return xs.map((t) => {
      const p = byT.get(t);
      const v = p ? (typeof field === 'function' ? field(p) : p[field]) : missing;
      return v === undefined ? null : v;
    });
  };
  const per = (field, missing = 0) => series.map((s) => ({ label: s.group ?? '(none)', values: at(s, field, missing) }));
  const pair = (p50, p95) => series.flatMap((s, i) => [
    { label: `${s.group ?? '(none)'} p50`, values: at(s, p50, null), colour: undefined, i },
    { label: `${s.group ?? '(none)'} p95`, values: at(s, p95, null), dash: [6, 4], i },
  ]).map((l) => ({ ...l, colour: ['#1f6feb', '#e8590c', '#2f9e44', '#c92a2a', '#7048e8', '#0c8599'][l.i % 6] }));

  const totals = series.map((s) => s.points.reduce((a, p) => ({
    group: s.group,
    requests: a.requests + (p.requests || 0),
    errors: a.errors + (p.errors || 0),
    tokens: a.tokens + (p.total_tokens || 0),
    spend: a.spend + (p.spend || 0),
  }), { group: s.group, requests: 0, errors: 0, tokens: 0, spend: 0 }));
  const all = totals.reduce((a, t) => ({ requests: a.requests + t.requests, errors: a.errors + t.errors, tokens: a.tokens + t.tokens, spend: a.spend + t.spend }), { requests: 0, errors: 0, tokens: 0, spend: 0 });

  const compact = (v) => fmt.int(Math.round(v * 100) / 100);
  put(body,
    h('div', { class: 'cards' },
      card('Requests', fmt.int(all.requests)),
      card('Error rate', all.requests ? fmt.pct(all.errors / all.requests) : '–'),
      card('Tokens', fmt.int(all.tokens)),
      card('Spend', fmt.usd(all.spend))),
    h('div', { class: 'charts' },
      chart('Requests', xs, per('requests'), compact),
      chart('Error rate', xs, per((p) => (p.requests ? p.errors / p.requests : null), null), (v) => `${(v * 100).toFixed(0)}%`, 1),
      chart('Tokens', xs, per('total_tokens'), compact),
      chart('Spend (USD)', xs, per('spend'), (v) => `$${Number(v.toPrecision(2))}`),
      chart('Latency p50 / p95', xs, pair('latency_p50_ms', 'latency_p95_ms'), (v) => `${Math.round(v)} ms`),
      chart('Time to first token p50 / p95', xs, pair('ttft_p50_ms', 'ttft_p95_ms'), (v) => `${Math.round(v)} ms`)),
    h('h2', {}, `By ${groupBy}`),
    table([
      { label: groupBy, value: (t) => t.group ?? '(none)' },
      { label: 'Requests', value: (t) => fmt.int(t.requests), class: 'num' },
      { label: 'Errors', value: (t) => fmt.int(t.errors), class: 'num' },
      { label: 'Error rate', value: (t) => (t.requests ? fmt.pct(t.errors / t.requests) : '–'), class: 'num' },
      { label: 'Tokens', value: (t) => fmt.int(t.tokens), class: 'num' },
      { label: 'Spend', value: (t) => fmt.usd(t.spend), class: 'num' },
    ], totals.sort((a, b) => b.requests - a.requests), { empty: 'No requests in this range.' }));
}

const card = (label, value) => h('div', { class: 'card stat' }, h('span', { class: 'muted' }, label), h('strong', {}, value));
