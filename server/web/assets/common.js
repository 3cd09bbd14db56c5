// Shared helpers of the eidwallet pages: calling the API, building DOM
// safely (text only, never HTML from data), and naming documents and
// claims in plain words.

import { t, dateText } from './i18n.js';

/** The content of <meta name="..."> set by the server. */
export function meta(name) {
  const m = document.querySelector(`meta[name="${name}"]`);
  return m ? m.content : '';
}

/** document.getElementById, failing loudly on a page mistake. */
export function $(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page has no #${id}`);
  return e;
}

/**
 * el builds an element: attrs are set as properties or attributes,
 * children are nodes or strings (always inserted as text).
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Shows the one section of views whose id is name, hides the others. */
export function showView(views, name) {
  for (const v of views) $(v).hidden = v !== name;
}

/** An error answer of the API (SPEC §5), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error_description) || (status ? `HTTP ${status}` : 'network error'));
    this.status = status;
    // An answer without our error body (a proxy's page) is still said by
    // its status: too many requests, or the service not available.
    this.code = (body && body.error) || (status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : status ? 'http_' + status : 'network');
    this.reason = (body && body.reason) || '';
    this.retryAfter = retryAfter || 0;
  }
}

// The server's clock minus ours, from the Date header of API answers: the
// countdowns and the iat of signed JWTs follow the service's clock even
// when this device's clock is off.
let clockOffset = 0;

/** Now in milliseconds on the service's clock (as far as we know it). */
export function serverNow() {
  return Date.now() + clockOffset;
}

/**
 * api calls the service. opts: token (bearer), json (body), form
 * (URLSearchParams body), signal (an AbortSignal; without one, and but for
 * raw, the call gives up after API_TIMEOUT_MS, code timeout), raw (answer
 * the Response itself when it is a success). It answers the decoded JSON (or null for 204)
 * and throws ApiError for anything else.
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = opts.form.toString();
  }
  // A call the caller cannot cancel gives up after API_TIMEOUT_MS (a staff
  // screen never waits on "Checking…" for ever), past the service's own
  // bound on a store operation (30 s); a raw answer (a download) is its
  // caller's to bound.
  const signal = opts.signal || (opts.raw ? undefined : AbortSignal.timeout(API_TIMEOUT_MS));
  const failed = (e) => {
    if (e && e.name === 'AbortError') return new ApiError(0, { error: 'aborted', error_description: 'cancelled' });
    // No answer in time is not no connection: the service may have done it.
    if (e && e.name === 'TimeoutError') return new ApiError(0, { error: 'timeout', error_description: 'no answer in time' });
    return new ApiError(0, null);
  };
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body, cache: 'no-store', credentials: 'omit', redirect: 'error', signal,
    });
  } catch (e) {
    throw failed(e);
  }
  const date = Date.parse(resp.headers.get('Date') || '');
  // The header has whole seconds: an offset under 2 s is only that.
  if (!Number.isNaN(date)) {
    const off = date - Date.now();
    clockOffset = Math.abs(off) < 2000 ? 0 : off;
  }
  if (opts.raw && resp.ok) return resp;
  let data = null;
  let text;
  try {
    text = await resp.text();
  } catch (e) {
    throw failed(e);
  }
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data, retryAfterSeconds(resp.headers.get('Retry-After')));
  }
  return data;
}

/** How long an API call waits for its answer when the caller gives no signal. */
export const API_TIMEOUT_MS = 35000;

// retryAfterSeconds reads Retry-After, seconds or an HTTP-date (RFC 9110
// §10.2.3), as whole seconds from now; 0 when there is none.
function retryAfterSeconds(v) {
  if (!v) return 0;
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? 0 : Math.max(0, Math.ceil((at - serverNow()) / 1000));
}

// ---- base64url and JOSE, for the demo wallet's device signatures ----

export function b64u(bytes) {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64uText(str) {
  return b64u(new TextEncoder().encode(str));
}

export function fromB64u(s) {
  const pad = s.length % 4 === 0 ? '' : '='.repeat(4 - (s.length % 4));
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + pad);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export async function sha256b64u(text) {
  return b64u(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** 128 random bits, base64url (jti). */
export function randomId() {
  return b64u(crypto.getRandomValues(new Uint8Array(16)));
}

// ---- plain words for documents and claims ----

// Type and claim names come from the service's type registry, the rest
// from the catalogues (i18n.js).
export { typeName, claimName } from './i18n.js';

/** A claim value as text (portraits are shown as images, not here). */
export function claimText(name, value) {
  if (typeof value === 'boolean') return t(value ? 'value.yes' : 'value.no');
  if (name === 'sex' && ['M', 'F', 'X'].includes(value)) return t('value.sex.' + value);
  if (name === 'classes' && Array.isArray(value)) {
    return value.map((c) => {
      if (!c || typeof c !== 'object') return String(c);
      let s = String(c.class || '?');
      if (c.issue_date) s += ' ' + t('value.class_since', { date: dateText(c.issue_date) });
      if (c.expiry_date) s += ' ' + t('value.class_until', { date: dateText(c.expiry_date) });
      return s;
    }).join('; ');
  }
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  // Dates in the local form; any other text exactly as issued (names keep
  // their diacritics: no case folding, no normalisation).
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return dateText(value);
  return String(value);
}

/** Whether v is an image data URI a portrait may be (SPEC §2). */
export function isPortrait(v) {
  return typeof v === 'string' && /^data:image\/(jpeg|png);base64,[A-Za-z0-9+/]+={0,2}$/.test(v);
}

/** The age_over_NN claims of a claims object, as [NN, value] sorted. */
export function ageClaims(claims) {
  const out = [];
  for (const [k, v] of Object.entries(claims || {})) {
    const m = /^age_over_(\d+)$/.exec(k);
    if (m && typeof v === 'boolean') out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** m:ss of a number of seconds. */
export function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
