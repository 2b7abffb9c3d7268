// The console shell: sign-in, navigation (hash routes, so the server needs no fallback route)
// and the pages. Each page module exports `render(main, signal)`; it may return a cleanup
// function (timers), and `signal` aborts its requests when the operator leaves the page.

import { api, ApiError, forgetMasterKey, masterKey, onUnauthorized, setMasterKey } from './api.js';
import { errorBox, h, put } from './dom.js';
import * as overview from './overview.js';
import * as requests from './requests.js';
import * as keys from './keys.js';
import * as models from './models.js';
import * as health from './health.js';
import * as tryit from './tryit.js';

const PAGES = [
  ['overview', 'Overview', overview],
  ['requests', 'Requests', requests],
  ['keys', 'Keys', keys],
  ['models', 'Models', models],
  ['health', 'Health', health],
  ['try', 'Try it', tryit],
];

const root = document.getElementById('app');
let leave = () => {};
let notice = null;

function signIn(message) {
  leave();
  leave = () => {};
  const input = h('input', { type: 'password', name: 'master_key', autocomplete: 'off', required: true, placeholder: 'sk-...', 'aria-label': 'Master key' });
  const status = h('div', { class: 'status' }, message ? errorBox(new ApiError(401, message)) : null);
  const form = h('form', { class: 'signin card', onsubmit: async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    put(status, h('span', { class: 'muted' }, 'Checking…'));
    try {
      // Any master-key route proves the key; this one reads one key id at most.
      await api('key/list', { key, query: { page: 1, size: 1 } });
      setMasterKey(key);
      input.value = '';
      if (!location.hash || location.hash === '#/signin') location.hash = '#/overview';
      show();
    } catch (e) {
      put(status, errorBox(e));
    }
  } },
  h('h1', {}, 'LLM gateway console'),
  h('p', { class: 'muted' }, 'Sign in with the gateway\'s master key. It is kept in this tab only (sessionStorage) and sent as a Bearer header.'),
  input,
  h('button', { type: 'submit' }, 'Sign in'),
  status);
  put(root, form);
  root.className = 'signin-page';
  input.focus();
}

function pageName() {
  const name = location.hash.replace(/^#\/?/, '').split(/[?/]/)[0];
  return PAGES.some(([id]) => id === name) ? name : 'overview';
}

function show() {
  if (!masterKey()) return signIn();
  leave();
  const current = pageName();
  const main = h('main', { id: 'page', tabindex: '-1' });
  const nav = h('nav', { 'aria-label': 'Pages' },
    h('div', { class: 'brand' }, 'LLM gateway'),
    PAGES.map(([id, label]) => h('a', { href: `#/${id}`, class: id === current ? 'active' : '', 'aria-current': id === current ? 'page' : null }, label)),
    h('button', { class: 'link signout', onclick: () => { forgetMasterKey(); signIn(); } }, 'Sign out'));
  put(root, nav, main);
  root.className = 'shell';
  const controller = new AbortController();
  const [, label, module] = PAGES.find(([id]) => id === current);
  document.title = `${label} · LLM gateway console`;
  let cleanup = null;
  try {
    cleanup = module.render(main, controller.signal);
  } catch (e) {
    put(main, errorBox(e));
  }
  leave = () => {
    controller.abort();
    if (typeof cleanup === 'function') cleanup();
  };
}

onUnauthorized((e) => {
  forgetMasterKey();
  notice = `Signed out: ${e.message}`;
  signIn(notice);
});

window.addEventListener('hashchange', show);
// Errors no page caught: shown, never swallowed.
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason && ev.reason.name === 'AbortError') { ev.preventDefault(); return; }
  const main = document.getElementById('page');
  if (main) main.prepend(errorBox(ev.reason));
});
show();
