// The admin API, on the same origin, one level above the console (`../`), so the console also
// works behind a proxy that adds a path prefix. The master key lives in sessionStorage only (gone
// when the tab closes) and goes out as a Bearer header; no cookie is ever set or sent.

const STORAGE_KEY = 'llm-gateway.master-key';

/** The gateway's base URL (the parent of the console's own directory). */
export const base = new URL('../', document.baseURI);

export const masterKey = () => sessionStorage.getItem(STORAGE_KEY);
export const setMasterKey = (key) => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetMasterKey = () => sessionStorage.removeItem(STORAGE_KEY);

/** An error answer of the gateway (OpenAI's error JSON), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, message, param = null, code = null) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

let unauthorized = () => {};
/** Called when the master key is refused (wrong, rotated or missing): back to sign-in. */
export function onUnauthorized(handler) { unauthorized = handler; }

/** A URL of the gateway for a relative path (`key/list`) and query parameters. */
export function url(path, query = {}) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

/** Reads an error answer into an ApiError. */
export async function errorOf(response) {
  const text = await response.text();
  let detail = {};
  try { detail = JSON.parse(text).error || {}; } catch { detail = {}; }
  const message = detail.message || text.trim() || response.statusText || 'request failed';
  return new ApiError(response.status, message, detail.param || null, detail.code || null);
}

/**
 * Calls the gateway with the master key (or `key`) and returns the JSON answer.
 * Throws ApiError; a 401 to the master key signs out.
 */
export async function api(path, { method = 'GET', query, body, key, signal } = {}) {
  const headers = { authorization: `Bearer ${key ?? masterKey() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(url(path, query), {
      method, headers, signal, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The gateway did not answer (${e.message}).`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && key === undefined) unauthorized(error);
    throw error;
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}
