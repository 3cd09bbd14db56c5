// The pages' languages (issue 13 item 1): Vietnamese and English, every
// string from one message catalogue per language (i18n-vi.js, i18n-en.js,
// the same keys in both), the type and claim names from the service's type
// registry (GET /v1/types and each type's SD-JWT VC type metadata at
// /vct/{vct}), dates and times through Intl.DateTimeFormat in the chosen
// locale.
//
// What is on screen is marked, so that the browser tests can tell a string
// of ours from data (docs/pages.md, "Languages"): text from a catalogue
// sits in an element with data-i18n (static, in the HTML) or data-t (set
// here by setT/setNodes); names from the registry in one with data-reg;
// claim values, names of people, ids and codes in one with data-value.

import en from './i18n-en.js';
import vi from './i18n-vi.js';

const CATALOGUES = { vi, en };
const LANG_KEY = 'eidwallet.lang';      // localStorage: the citizen's or the counter's choice
const TYPES_CACHE = 'eidwallet-types-v1'; // Cache Storage: the registry's answers, for offline use
const TYPES_TIMEOUT_MS = 4000;

/** The language of the page: a stored choice, else vi when the browser prefers it, else en. */
function choose() {
  let stored = '';
  try { stored = localStorage.getItem(LANG_KEY) || ''; } catch { stored = ''; }
  if (CATALOGUES[stored]) return stored;
  for (const l of navigator.languages || [navigator.language || '']) {
    const s = String(l).toLowerCase();
    if (s === 'vi' || s.startsWith('vi-')) return 'vi';
    if (s === 'en' || s.startsWith('en-')) return 'en';
  }
  return 'en';
}

export const lang = choose();
const cat = CATALOGUES[lang];

// The locale of dates and times: vi-VN (dd/mm/yyyy); English day first too,
// as the documents print it.
const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';

/** The catalogue text of key, with {name} replaced by vars.name. */
export function t(key, vars = {}) {
  let s = cat[key];
  if (typeof s !== 'string') {
    console.error(`i18n: no ${lang} text for ${key}`);
    return key;
  }
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Whether the catalogue has a text for key (a key made from data). */
export function has(key) {
  return typeof cat[key] === 'string';
}

/** t of key.one when n is 1, else key.other, with n among the vars. */
export function tn(key, n, vars = {}) {
  return t(`${key}.${n === 1 ? 'one' : 'other'}`, { ...vars, n });
}

/** Sets the text of e to t(key, vars) and marks it as catalogue text. */
export function setT(e, key, vars) {
  e.textContent = t(key, vars);
  e.dataset.t = key;
  delete e.dataset.value;
  return e;
}

/** Sets the text of e to data (a name, a claim value, a code). */
export function setData(e, text) {
  e.textContent = text;
  e.dataset.value = '';
  delete e.dataset.t;
  return e;
}

/**
 * setNodes fills e with the catalogue text of key, where a var that is a
 * Node is put in as that node (a name from the registry, an issuer).
 */
export function setNodes(e, key, vars = {}) {
  const parts = [];
  const text = t(key, Object.fromEntries(Object.entries(vars).filter(([, v]) => !(v instanceof Node))));
  let last = 0;
  text.replace(/\{(\w+)\}/g, (m, k, at) => {
    if (vars[k] instanceof Node) {
      if (at > last) parts.push(text.slice(last, at));
      parts.push(vars[k]);
      last = at + m.length;
    }
    return m;
  });
  if (last < text.length) parts.push(text.slice(last));
  e.replaceChildren(...parts);
  e.dataset.t = key;
  return e;
}

/** A span holding data (data-value). */
export function dataSpan(text, cls) {
  const s = document.createElement('span');
  if (cls) s.className = cls;
  return setData(s, text);
}

/** A span holding a name from the type registry (data-reg). */
export function regSpan(text, cls) {
  const s = document.createElement('span');
  if (cls) s.className = cls;
  s.textContent = text;
  s.dataset.reg = '';
  return s;
}

/**
 * applyPage puts the catalogue into the page: the text of every element
 * with data-i18n, the attributes data-i18n-attr names ("aria-label:key
 * alt:key"), <html lang>, and the language switch.
 */
export function applyPage(root = document) {
  document.documentElement.lang = lang;
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of e.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const [attr, key] = pair.split(':');
      e.setAttribute(attr, t(key));
    }
  }
  for (const b of root.querySelectorAll('[data-lang]')) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
    b.addEventListener('click', () => switchTo(b.dataset.lang));
  }
  // The switch takes no Tab stop of its own (the pages' tab orders stay
  // what the counter staff learnt); Alt+L toggles it from the keyboard.
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.key === 'l' || ev.key === 'L')) {
      ev.preventDefault();
      switchTo(lang === 'vi' ? 'en' : 'vi');
    }
  });
}

/**
 * switchTo keeps the choice and reloads the page in that language: the
 * pages keep their state across a reload (the signed-in key, the enrolled
 * device), and personal data on a result screen is meant to go anyway.
 */
export function switchTo(l) {
  if (!CATALOGUES[l] || l === lang) return;
  try { localStorage.setItem(LANG_KEY, l); } catch { /* private mode: this load only */ }
  location.reload();
}

// ---- dates and times ----

/** A date claim (YYYY-MM-DD) in the local form, or the text as given. */
export function dateText(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(s));
  if (!m) return String(s);
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' }).format(d);
}

/** An instant (ms or a parsable string) as a local date. */
export function dayText(at) {
  return new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(at));
}

/** An instant as a local date and time. */
export function timeText(at) {
  return new Intl.DateTimeFormat(locale, {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(new Date(at));
}

// ---- the type registry ----

// By type id: {names: {vi, en}, claims: {claim path joined by '.': {vi, en}}}.
let types = {};

/**
 * getJSON reads a public registry document. A copy of each answer is kept
 * in Cache Storage (not localStorage, which holds nothing but the language
 * choice), so that a page with no network (the staff page offline) still
 * names documents and claims; the copy answers when the network does not.
 */
async function getJSON(path, signal) {
  const store = 'caches' in window ? await caches.open(TYPES_CACHE).catch(() => null) : null;
  try {
    const resp = await fetch(path, {
      headers: { Accept: 'application/json' }, cache: 'no-cache', credentials: 'omit', redirect: 'error', signal,
    });
    if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
    if (store) await store.put(path, resp.clone()).catch(() => {});
    return await resp.json();
  } catch (e) {
    const hit = store && await store.match(path).catch(() => null);
    if (!hit) throw e;
    return hit.json();
  }
}

/**
 * loadTypes reads the registry once a load: GET /v1/types, then each
 * type's metadata for the claim labels (kept in memory for the page's
 * life). With neither the network nor a kept copy, names fall back to the
 * raw ids.
 */
export async function loadTypes() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TYPES_TIMEOUT_MS);
  try {
    const body = await getJSON('/v1/types', abort.signal);
    const out = {};
    await Promise.all((body.types || []).map(async (ty) => {
      const names = {};
      for (const d of ty.display || []) if (d && d.locale && d.name) names[d.locale] = d.name;
      const claims = {};
      try {
        // The built-in vct values are URNs this service is the registry
        // of (/vct/{vct}, one path segment), on this origin.
        const m = await getJSON('/vct/' + encodeURIComponent(ty.vct).replace(/%3A/gi, ':'), abort.signal);
        for (const c of m.claims || []) {
          if (!Array.isArray(c.path)) continue;
          const key = c.path.filter((p) => typeof p === 'string').join('.');
          claims[key] = {};
          for (const d of c.display || []) if (d && d.locale && d.label) claims[key][d.locale] = d.label;
        }
      } catch {
        // names of the type only; claims fall back to their ids
      }
      out[ty.type] = { names, claims };
    }));
    types = out;
  } catch {
    // offline with no kept copy, or refused: raw ids
  } finally {
    clearTimeout(timer);
  }
}

function pick(labels) {
  return labels && (labels[lang] || labels[lang === 'vi' ? 'en' : 'vi']);
}

/** The registry's name of a credential type in the page's language. */
export function typeName(id, given) {
  const ty = types[id];
  return pick(ty && ty.names) || given || String(id || '');
}

/**
 * The registry's label of a claim (a path "classes.class" for a member),
 * of type when given, else of the first type that has it; the raw id when
 * no registry label is known. Two are the page's own short forms, used
 * where the claims are listed in a line: age_over_NN ("Over 18") and
 * full_name ("Name").
 */
export function claimName(name, type) {
  const age = /^age_over_(\d+)$/.exec(name);
  if (age) return t('claim.age_over', { n: age[1] });
  if (name === 'full_name') return t('claim.full_name');
  if (type && types[type]) {
    const l = pick(types[type].claims[name]);
    if (l) return l;
  }
  for (const ty of Object.values(types)) {
    const l = pick(ty.claims[name]);
    if (l) return l;
  }
  return String(name);
}
