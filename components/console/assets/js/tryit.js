// Try it: a streamed chat completion to any model with a chosen key (a virtual key pasted here,
// or the master key), with time to first token, latency, tokens and cost (read back from the
// request log once the stream ends). The pasted key is never stored.

import { api, errorOf, masterKey, url } from './api.js';
import { errorBox, field, fmt, h, put } from './dom.js';

export function render(main, signal) {
  const model = h('select', { name: 'model', 'aria-label': 'Model' });
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', placeholder: 'sk-… (empty: the master key)', 'aria-label': 'Virtual key' });
  const prompt = h('textarea', { name: 'prompt', rows: 4, 'aria-label': 'Message' }, 'Say hello in five words.');
  const answer = h('pre', { class: 'answer', 'aria-live': 'polite' });
  const stats = h('div', { class: 'stats' });
  const status = h('div', { class: 'status' });
  const send = h('button', { type: 'submit' }, 'Send');
  const form = h('form', { class: 'tryit', onsubmit: (ev) => { ev.preventDefault(); run(); } },
    field('Model', model), field('Key', key, 'a virtual key to test it, its limits and models'), field('Message', prompt),
    h('div', { class: 'actions' }, send));
  put(main, h('h1', {}, 'Try it'), form, status, h('h2', {}, 'Answer'), answer, stats);

  api('v1/models', { signal }).then((list) => {
    put(model, (list.data || []).map((m) => h('option', { value: m.id }, m.id)));
  }).catch((e) => { if (e.name !== 'AbortError') put(status, errorBox(e)); });

  async function run() {
    put(answer); put(stats); put(status);
    send.disabled = true;
    const started = performance.now();
    const chosen = model.value;
    let first = null;
    let usage = null;
    try {
      const response = await fetch(url('v1/chat/completions'), {
        method: 'POST', signal, credentials: 'omit', cache: 'no-store',
        headers: { authorization: `Bearer ${key.value.trim() || masterKey()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: chosen, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: prompt.value }] }),
      });
      if (!response.ok) throw await errorOf(response);
      const callId = response.headers.get('x-litellm-call-id');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') continue;
            const chunk = JSON.parse(data);
            if (chunk.error) throw Object.assign(new Error(chunk.error.message), { code: chunk.error.code });
            if (chunk.usage) usage = chunk.usage;
            const text = chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content;
            if (text) {
              if (first === null) first = performance.now() - started;
              answer.append(text);
            }
          }
        }
      }
      const total = performance.now() - started;
      const line = (label, value) => h('div', { class: 'card stat' }, h('span', { class: 'muted' }, label), h('strong', {}, value));
      const cost = line('Cost', '…');
      put(stats, h('div', { class: 'cards' },
        line('Time to first token', fmt.ms(first)), line('Latency', fmt.ms(total)),
        line('Tokens in / out', usage ? `${fmt.int(usage.prompt_tokens)} / ${fmt.int(usage.completion_tokens)}` : '–'), cost),
      callId ? h('p', { class: 'muted' }, 'Call id ', h('code', {}, callId)) : null);
      // The request log has the cost once the stream is recorded, just after its end: its row is
      // the one with this answer's call id (`request_id`).
      let row = null;
      for (let i = 0; callId && row === null && i < 6; i += 1) {
        const rows = await api('spend/logs', { signal, query: { request_id: callId, limit: 1 } }).catch(() => []);
        if (Array.isArray(rows) && rows.length) [row] = rows;
        else await new Promise((done) => { setTimeout(done, 250 * (i + 1)); });
      }
      cost.querySelector('strong').textContent = row === null || row.spend === null ? '–' : fmt.usd(row.spend);
    } catch (e) {
      if (e.name !== 'AbortError') put(status, errorBox(e));
    } finally {
      send.disabled = false;
    }
  }
}
