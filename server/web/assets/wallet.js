// The citizen demo wallet (/demo/wallet): a stand-in for the phone app that
// uses only the public API. The device key is a non-extractable P-256 key
// made by WebCrypto and kept in IndexedDB (as a CryptoKey, which the page
// can use to sign but never read); it signs the RFC 7523 assertion for the
// access token and the key-binding JWTs that approve a share, exactly as
// client/device.go does.
//
// Beside it the page keeps a pool of one-time device keys (issue 12, batch
// copies; SPEC §6): the service signs several copies of each document, each
// bound to one of them (its own salts, cnf key and status index), and
// presents a different copy at each share, so that two verifiers cannot
// link what they received. Pool keys are made and kept like the device key
// (non-extractable, in IndexedDB, by RFC 7638 thumbprint), each signs one
// share's key-binding JWT and is deleted once that share is approved.

import {
  $, el, api, ApiError, showView, meta, serverNow, b64u, b64uText, fromB64u, sha256b64u,
  randomId, typeName, claimName, claimText, isPortrait, mmss,
} from './common.js';
import {
  t, setT, setNodes, dataSpan, regSpan, applyPage, loadTypes, dayText, timeText,
} from './i18n.js';

const VIEWS = ['enrol-view', 'home-view', 'confirm-view', 'qr-view'];
const DB = 'eidwallet-demo';
const DB_VERSION = 2;
const STORE = 'device';       // 'current': the device record
const POOL = 'pool';          // one-time keys by thumbprint: {kid, privateKey, jwk, deviceId}
const POOL_CHUNK = 64;        // keys per POST /v1/me/device/keys (the service takes 1 to 64)
const POOL_ROUNDS = 16;       // POSTs per refill at most, whatever the service asks

let device = null;            // {privateKey, jwk, kid, deviceId, holderId, name}
let token = '';
let tokenUntil = 0;
let credentials = [];
let pending = null;           // {req, created}
let share = null;             // the ShareView on screen
let qrURL = '';
let qrTimer = 0;
let pollTimer = 0;
let refilling = null;         // the pool refill under way (a promise)
let refillAgain = false;      // a refill was asked for while one ran
let poolServed = true;        // false once the service said it has no key pool (404)
let poolNote = '';            // what the last failed refill said on the status line

function go(name) {
  showView(VIEWS, name);
  document.body.dataset.view = name;
}

// say and showError take text made from the catalogue (t), with data in it.
function say(text) {
  $('status').textContent = text || '';
  $('status').dataset.t = 'w.status';
}

function showError(id, text) {
  const e = $(id);
  e.textContent = text || '';
  e.dataset.t = 'w.error';
  e.hidden = !text;
}

/** A failed call in plain words, with the service's own description. */
function describe(e, what) {
  const w = t(`w.do.${what}`);
  if (!(e instanceof ApiError)) return t('w.failed', { what: w, message: e.message });
  if (e.status === 0) return t('w.failed.network', { what: w });
  if (e.status === 429) return t('w.failed.rate_limited', { what: w, s: e.retryAfter || '…' });
  return t('w.failed', { what: w, message: e.message });
}

// ---- IndexedDB: the device record and the key pool, CryptoKeys included ----

function db() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, DB_VERSION);
    // Version 1 had the device store only: an installation of then keeps
    // its device and gains an empty pool.
    r.onupgradeneeded = () => {
      const d = r.result;
      if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE);
      if (!d.objectStoreNames.contains(POOL)) d.createObjectStore(POOL);
    };
    r.onsuccess = () => {
      // A page of a newer version in another tab must not wait for this one.
      r.result.onversionchange = () => r.result.close();
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
  });
}

/**
 * dbDo runs fn in one transaction over the named stores (fn gets them in
 * that order) and answers the result of the request fn returns, once the
 * transaction is committed.
 */
async function dbDo(stores, mode, fn) {
  const names = [].concat(stores);
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const tx = d.transaction(names, mode);
      const req = fn(...names.map((n) => tx.objectStore(n)));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    d.close();
  }
}

const loadDevice = () => dbDo(STORE, 'readonly', (s) => s.get('current'));
// A device comes and goes with its pool: keys of another device are never kept.
const saveDevice = (v) => dbDo([STORE, POOL], 'readwrite', (s, p) => { p.clear(); return s.put(v, 'current'); });
const dropDevice = () => dbDo([STORE, POOL], 'readwrite', (s, p) => { p.clear(); return s.delete('current'); });
const loadPoolKey = (kid) => dbDo(POOL, 'readonly', (p) => p.get(kid));
const dropPoolKeys = (kids) => dbDo(POOL, 'readwrite', (p) => { for (const kid of kids) p.delete(kid); return null; });

/**
 * savePoolKeys keeps keys made for the device deviceId, in the same
 * transaction as a check that it is still this browser's device (it may
 * have been removed while the keys were made). It answers whether it kept
 * them.
 */
async function savePoolKeys(deviceId, keys) {
  let kept = false;
  await dbDo([STORE, POOL], 'readwrite', (s, p) => {
    const cur = s.get('current');
    cur.onsuccess = () => {
      if (!cur.result || cur.result.deviceId !== deviceId) return;
      for (const k of keys) p.put(k, k.kid);
      kept = true;
    };
    return null;
  });
  return kept;
}

// ---- JOSE with the device key ----

/**
 * A compact JWS, ES256, signed with key (the device key unless given):
 * WebCrypto's ECDSA signature is already r||s.
 */
async function signJWS(header, payload, key = device.privateKey) {
  const input = b64uText(JSON.stringify(header)) + '.' + b64uText(JSON.stringify(payload));
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(input));
  return input + '.' + b64u(sig);
}

/** The RFC 7638 thumbprint of a P-256 public JWK. */
function thumbprint(jwk) {
  return sha256b64u(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/**
 * A new P-256 key pair whose private key can sign but never be exported,
 * with its public JWK and thumbprint.
 */
async function newKey() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const pub = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y };
  return { privateKey: pair.privateKey, jwk, kid: await thumbprint(jwk) };
}

// ---- access token (SPEC §3.1 step 3) ----

async function accessToken(fresh) {
  if (!fresh && token && serverNow() < tokenUntil) return token;
  const iat = Math.floor(serverNow() / 1000);
  const assertion = await signJWS({ alg: 'ES256', typ: 'JWT', kid: device.kid }, {
    iss: device.deviceId, sub: device.deviceId, aud: meta('eidwallet-token-endpoint'),
    iat, exp: iat + 60, jti: randomId(),
  });
  const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
  const r = await api('POST', '/v1/token', { form });
  token = r.access_token;
  // Renew early so a token never expires in flight.
  tokenUntil = serverNow() + r.expires_in * 1000 - Math.min(r.expires_in * 250, 30000);
  return token;
}

/**
 * Whether the service no longer takes this browser's device: a holder call
 * refused 401, or the token endpoint refusing the device's assertion with
 * invalid_grant (RFC 7523 §3.1: a revoked or unknown device).
 */
function deviceRefused(e) {
  return e instanceof ApiError && (e.status === 401 || (e.status === 400 && e.code === 'invalid_grant'));
}

/** A holder API call with the access token, retried once with a new one on 401. */
async function me(method, path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const t = await accessToken(attempt > 0);
    try {
      return await api(method, path, { ...opts, token: t });
    } catch (e) {
      if (attempt === 0 && e.status === 401) continue;
      throw e;
    }
  }
}

// allPages reads every page of one of the holder's lists (issue 13: each
// page is an object with its items under the list's name and
// next_cursor while more follow), limit items a page.
async function allPages(path, name, limit) {
  const out = [];
  let cursor = '';
  for (let pages = 0; pages < 1000; pages++) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    const page = await me('GET', `${path}?${q}`);
    out.push(...((page && page[name]) || []));
    if (!page || !page.next_cursor || page.next_cursor === cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

// ---- enrolment (SPEC §3.1 step 2) ----

async function enrol(ev) {
  ev.preventDefault();
  showError('enrol-error', '');
  const citizen = $('citizen-id').value.trim();
  const code = $('activation-code').value.trim();
  const name = $('device-name').value.trim() || t('w.enrol.device.default');
  if (!/^[0-9]{12}$/.test(citizen)) {
    showError('enrol-error', t('w.enrol.err.citizen'));
    $('citizen-id').focus();
    return;
  }
  if (!code) {
    showError('enrol-error', t('w.enrol.err.code'));
    $('activation-code').focus();
    return;
  }
  const button = $('enrol-submit');
  button.disabled = true;
  say(t('w.enrol.making_key'));
  try {
    // extractable: false — the private key can sign but never be exported.
    const key = await newKey();
    say(t('w.enrol.enrolling'));
    const r = await api('POST', '/v1/enrollments', {
      json: { citizen_id: citizen, activation_code: code, device_key: key.jwk, device_name: name },
    });
    device = { privateKey: key.privateKey, jwk: key.jwk, kid: key.kid, deviceId: r.device_id, holderId: r.holder_id, name };
    await saveDevice(device);
    $('activation-code').value = '';
    say('');
    await home();
  } catch (e) {
    say('');
    showError('enrol-error', e.status === 401 ? t('w.enrol.err.refused') : describe(e, 'enrol'));
  } finally {
    button.disabled = false;
  }
}

// ---- documents ----

async function home() {
  stopQR();
  go('home-view');
  selectTab('docs');
  say(t('w.docs.loading'));
  try {
    credentials = await allPages('/v1/me/credentials', 'credentials', 20);
  } catch (e) {
    if (deviceRefused(e)) {
      // The device is revoked or unknown to this service.
      await forgetLocal();
      toEnrol(t('w.enrol.gone'));
      return;
    }
    say(describe(e, 'load_docs'));
    return;
  }
  say('');
  renderDocuments();
  refillSoon();
}

// ---- the pool of one-time keys (issue 12: batch copies) ----

/** The pool's state for whoever watches the page: filling, ready, short, error or none. */
function poolState(state) {
  document.body.dataset.pool = state;
}

/**
 * refillSoon tops the pool up in the background: the page never waits
 * for it, and a refill asked for while one runs runs once more after it.
 */
function refillSoon() {
  if (!device || !poolServed) return;
  if (refilling) {
    refillAgain = true;
    return;
  }
  refilling = (async () => {
    try {
      do {
        refillAgain = false;
        await refill(device);
      } while (refillAgain && device && poolServed);
    } finally {
      refilling = null;
    }
  })();
}

/** The service's word on the pool ({free, wanted, batch_size}), checked. */
function poolAnswer(r) {
  if (!r || !Number.isInteger(r.wanted) || r.wanted < 0 || !Number.isInteger(r.free)) {
    throw new Error(t('w.check.pool'));
  }
  return r;
}

/**
 * refill asks the service how many keys it wants of this device and makes,
 * keeps and registers that many, at most POOL_CHUNK a call. Its failures
 * are said quietly: shares go on without new keys (with the device's own
 * key, or the keys still here).
 */
async function refill(dev) {
  poolState('filling');
  try {
    let r;
    try {
      r = poolAnswer(await me('GET', '/v1/me/device/keys'));
    } catch (e) {
      if (e.status !== 404) throw e;
      // A service without a key pool: shares use the device key.
      poolServed = false;
      poolState('none');
      return;
    }
    for (let round = 0; r.wanted > 0 && round < POOL_ROUNDS; round++) {
      if (device !== dev) return;
      r = await addPoolKeys(dev, Math.min(r.wanted, POOL_CHUNK));
      if (!r) return;
    }
    poolState(r.wanted > 0 ? 'short' : 'ready');
    if (poolNote && $('status').textContent === poolNote) say('');
    poolNote = '';
  } catch (e) {
    if (device !== dev) return; // removed meanwhile: nothing to say
    poolState('error');
    const why = describe(e, 'pool');
    poolNote = why + (/[.!?]$/.test(why) ? '' : '.') + ' ' + t('w.pool.still_works');
    say(poolNote);
  }
}

/**
 * addPoolKeys makes n keys, keeps them, then registers their public keys,
 * and answers the service's new word on the pool (null when the device
 * was removed meanwhile). The keys are kept before they are sent: a key
 * the service has must never be missing here (the copy bound to it could
 * not be shown), while one kept and never registered is never asked for.
 * So they are dropped again only when the service answers refusing them,
 * not when the answer is lost.
 */
async function addPoolKeys(dev, n) {
  const keys = [];
  for (let i = 0; i < n; i++) {
    const k = await newKey();
    keys.push({ kid: k.kid, privateKey: k.privateKey, jwk: k.jwk, deviceId: dev.deviceId });
  }
  if (device !== dev || !await savePoolKeys(dev.deviceId, keys)) return null;
  try {
    return poolAnswer(await me('POST', '/v1/me/device/keys', { json: { keys: keys.map((k) => k.jwk) } }));
  } catch (e) {
    if (e.status) await dropPoolKeys(keys.map((k) => k.kid)).catch(() => {});
    throw e;
  }
}

const order = ['full_name', 'portrait', 'birth_date'];

function claimOrder(claims) {
  const names = Object.keys(claims || {});
  const rank = (n) => {
    const i = order.indexOf(n);
    if (i >= 0) return i;
    if (/^age_over_\d+$/.test(n)) return 10 + Number(n.slice(9)) / 1000;
    return 20;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function renderDocuments() {
  const box = $('documents');
  box.replaceChildren();
  if (!credentials.length) {
    box.append(setT(el('p'), 'w.docs.none'));
    return;
  }
  credentials.forEach((c, i) => {
    const valid = c.status === 'valid';
    const until = c.expires_at ? dayText(c.expires_at) : '';
    const state = ['valid', 'revoked', 'suspended', 'expired'].includes(c.status) ? t(`w.status.${c.status}`) : c.status;
    const fs = el('fieldset', { class: 'doc-card' },
      el('legend', { 'data-reg': '', text: typeName(c.type, c.type_name) }),
      setNodes(el('p', { class: 'doc-meta' }), until ? 'w.doc.meta_until' : 'w.doc.meta', {
        issuer: dataSpan((c.issuer && (c.issuer.name || c.issuer.id)) || ''), state, until,
      }));
    for (const name of claimOrder(c.claims)) {
      const value = c.claims[name];
      const id = `claim-${i}-${name}`;
      const box2 = el('input', { type: 'checkbox', id, disabled: !valid });
      box2.dataset.credential = c.credential_id;
      box2.dataset.claim = name;
      const label = el('label', { for: id }, regSpan(claimName(name, c.type), 'claim-name'));
      if (name === 'portrait' && isPortrait(value)) {
        label.append(el('img', { src: value, alt: t('w.doc.portrait') }));
      } else {
        label.append(dataSpan(': ' + claimText(name, value)));
      }
      fs.append(el('div', { class: 'claim-row' }, box2, label));
    }
    box.append(fs);
  });
}

// ---- sharing (SPEC §3.3 steps 1–2) ----

async function startShare(ev) {
  ev.preventDefault();
  showError('share-error', '');
  const chosen = new Map();
  for (const cb of document.querySelectorAll('#documents input[type="checkbox"]:checked')) {
    const list = chosen.get(cb.dataset.credential) || [];
    list.push(cb.dataset.claim);
    chosen.set(cb.dataset.credential, list);
  }
  if (!chosen.size) {
    showError('share-error', t('w.share.err.none'));
    return;
  }
  const req = {
    items: [...chosen].map(([credential_id, claims]) => ({ credential_id, claims })),
    ttl_seconds: Number($('ttl').value) || 60,
  };
  const verifier = $('verifier-id').value.trim();
  if (verifier) req.verifier_id = verifier;
  const button = $('share-submit');
  button.disabled = true;
  try {
    const created = await me('POST', '/v1/me/shares', { json: req });
    let signers;
    try {
      signers = await checkShare(req, created);
    } catch (e) {
      cancelQuietly(created.share_id);
      throw e;
    }
    pending = { req, created, signers };
    showConfirm();
  } catch (e) {
    if (e instanceof ApiError && e.status === 409 && poolServed) {
      // The service holds no unused copy of a chosen document for this
      // device (issue 12): more one-time keys, then copies, are on their way.
      refillSoon();
      showError('share-error', t('w.share.err.copies'));
    } else {
      showError('share-error', describe(e, 'share'));
    }
  } finally {
    button.disabled = false;
  }
}

/**
 * checkShare refuses to sign what the citizen did not ask for (as
 * client.CheckShare does): one presentation per chosen document, each
 * disclosing only chosen top-level claims, its sd_hash the hash of the
 * presentation, and bound to the chosen verifier if one was named. It
 * answers, per item, the key that signs its KB-JWT: the one the service
 * names (key_thumbprint), which must be the key of the presentation's cnf
 * and one this browser holds — the device key, also when the service names
 * none (a service without a key pool), or a one-time key of the pool.
 */
async function checkShare(req, created) {
  const signers = [];
  const asked = new Map(req.items.map((it) => [it.credential_id, it.claims]));
  if (!created || !Array.isArray(created.to_sign) || created.to_sign.length !== req.items.length) {
    throw new Error(t('w.check.count'));
  }
  for (const item of created.to_sign) {
    const claims = asked.get(item.credential_id);
    if (!claims) throw new Error(t('w.check.unchosen_doc'));
    asked.delete(item.credential_id);
    const p = item.presentation;
    if (typeof p !== 'string' || !p.endsWith('~')) throw new Error(t('w.check.not_sdjwt'));
    const parts = p.split('~');
    const payload = JSON.parse(new TextDecoder().decode(fromB64u(parts[0].split('.')[1] || '')));
    const top = new Set(Array.isArray(payload._sd) ? payload._sd : []);
    for (const d of parts.slice(1, -1)) {
      if (!top.has(await sha256b64u(d))) continue; // nested: inside a chosen claim
      const arr = JSON.parse(new TextDecoder().decode(fromB64u(d)));
      if (!Array.isArray(arr) || arr.length !== 3 || !claims.includes(arr[1])) {
        throw new Error(t('w.check.unchosen_claim', { claim: Array.isArray(arr) ? claimName(String(arr[1])) : '?' }));
      }
    }
    if (await sha256b64u(p) !== item.sd_hash) throw new Error(t('w.check.sd_hash'));
    if (req.verifier_id && item.aud !== req.verifier_id) throw new Error(t('w.check.aud'));
    signers.push(await signerOf(item, payload));
  }
  return signers;
}

/** The key that signs item's KB-JWT: {key, kid, pool} (see checkShare). */
async function signerOf(item, payload) {
  const kid = item.key_thumbprint === undefined || item.key_thumbprint === null ? device.kid : item.key_thumbprint;
  if (typeof kid !== 'string' || !kid) throw new Error(t('w.check.kid'));
  const cnf = payload.cnf && payload.cnf.jwk;
  if (!cnf || typeof cnf !== 'object' || await thumbprint(cnf) !== kid) {
    throw new Error(t('w.check.cnf'));
  }
  if (kid === device.kid) return { key: device.privateKey, kid, pool: false };
  const k = await loadPoolKey(kid);
  if (!k || k.deviceId !== device.deviceId || !k.privateKey) {
    const c = credentials.find((x) => x.credential_id === item.credential_id);
    throw new Error(t('w.check.pool_key', { type: c ? typeName(c.type, c.type_name) : t('w.document') }));
  }
  return { key: k.privateKey, kid, pool: true };
}

function showConfirm() {
  const list = $('confirm-list');
  list.replaceChildren();
  for (const it of pending.req.items) {
    const c = credentials.find((x) => x.credential_id === it.credential_id);
    list.append(setNodes(el('li'), 'w.confirm.item', {
      type: el('strong', { 'data-reg': '', text: c ? typeName(c.type, c.type_name) : t('w.document') }),
      claims: regSpan(it.claims.map((n) => claimName(n, c && c.type)).join(', ')),
    }));
  }
  const ttl = pending.req.ttl_seconds;
  // Who could redeem it (SPEC §3.7): the chosen verifier, or those
  // registered for every detail chosen (the service names at most 50, and
  // counts them all).
  const who = (pending.created.redeemable_by || []).map((v) => v.name);
  const more = (pending.created.redeemable_by_count || 0) - who.length;
  const span = ttl >= 120 ? t('w.confirm.minutes', { n: ttl / 60 }) : t('w.confirm.seconds', { n: ttl });
  if (pending.req.verifier_id) setNodes($('confirm-meta'), 'w.confirm.only', { span, verifier: dataSpan(pending.req.verifier_id) });
  else if (who.length && more > 0) {
    setNodes($('confirm-meta'), `w.confirm.more.${more === 1 ? 'one' : 'other'}`, { span, who: dataSpan(who.join(', ')), n: more });
  } else if (who.length) setNodes($('confirm-meta'), 'w.confirm.registered', { span, who: dataSpan(who.join(', ')) });
  else setT($('confirm-meta'), 'w.confirm.nobody', { span });
  showError('confirm-error', '');
  go('confirm-view');
  $('approve').focus();
}

async function approve() {
  const button = $('approve');
  button.disabled = true;
  showError('confirm-error', '');
  try {
    const iat = Math.floor(serverNow() / 1000);
    const kbs = [];
    for (const [i, item] of pending.created.to_sign.entries()) {
      kbs.push(await signJWS({ alg: 'ES256', typ: 'kb+jwt' }, {
        nonce: item.nonce, aud: item.aud, iat, sd_hash: item.sd_hash,
      }, pending.signers[i].key));
    }
    const view = await me('POST', `/v1/me/shares/${encodeURIComponent(pending.created.share_id)}/approve`, { json: { kb_jwts: kbs } });
    // The one-time keys of an approved share are spent: the service never
    // names them again. (Kept when the approval fails, to sign it again.)
    const spent = pending.signers.filter((s) => s.pool).map((s) => s.kid);
    pending = null;
    if (spent.length) {
      try {
        await dropPoolKeys(spent);
      } catch (e) {
        say(t('w.pool.not_deleted', { message: e.message }));
      }
    }
    refillSoon();
    await showQR(view);
  } catch (e) {
    showError('confirm-error', describe(e, 'approve'));
  } finally {
    button.disabled = false;
  }
}

async function decline() {
  if (pending) cancelQuietly(pending.created.share_id);
  pending = null;
  await home();
}

function cancelQuietly(id) {
  me('DELETE', `/v1/me/shares/${encodeURIComponent(id)}`).catch(() => {});
}

// ---- the QR code (SPEC §3.3 step 3) ----

async function showQR(view) {
  share = view;
  go('qr-view');
  $('qr-text').value = view.qr_text || '';
  const img = $('qr-img');
  img.hidden = false;
  $('qr-cancel').hidden = false;
  $('qr-progress').hidden = false;
  $('qr-text-box').hidden = false;
  try {
    const resp = await me('GET', `/v1/me/shares/${encodeURIComponent(view.share_id)}/qr.svg?size=320`, { raw: true });
    const blob = await resp.blob();
    if (qrURL) URL.revokeObjectURL(qrURL);
    qrURL = URL.createObjectURL(blob);
    img.src = qrURL;
  } catch (e) {
    img.hidden = true;
    say(describe(e, 'qr') + ' ' + t('w.qr.text_works'));
  }
  const total = Math.max(1, Math.round((Date.parse(view.expires_at) - serverNow()) / 1000));
  $('qr-progress').max = total;
  tickQR();
  qrTimer = setInterval(tickQR, 1000);
  pollTimer = setTimeout(pollShare, 2000);
  $('qr-done').focus();
}

function tickQR() {
  if (!share) return;
  const left = (Date.parse(share.expires_at) - serverNow()) / 1000;
  const status = $('qr-status');
  if (share.status === 'active' && left > 0) {
    if (share.max_uses > 1) setT(status, 'w.qr.valid_uses', { left: mmss(left), n: share.max_uses - share.uses });
    else setT(status, 'w.qr.valid_once', { left: mmss(left) });
    status.className = 'qr-status';
    $('qr-progress').value = Math.max(0, left);
    return;
  }
  endQR(share.status === 'redeemed' ? 'redeemed' : share.status === 'cancelled' ? 'cancelled' : 'expired');
}

function endQR(state) {
  clearInterval(qrTimer);
  clearTimeout(pollTimer);
  qrTimer = 0;
  pollTimer = 0;
  const status = $('qr-status');
  setT(status, `w.qr.${state}`);
  status.className = 'qr-status ' + (state === 'redeemed' ? 'done' : 'over');
  $('qr-progress').hidden = true;
  $('qr-img').hidden = true;
  $('qr-text-box').hidden = true;
  $('qr-cancel').hidden = true;
}

async function pollShare() {
  if (!share) return;
  try {
    const v = await me('GET', `/v1/me/shares/${encodeURIComponent(share.share_id)}`);
    if (!share || v.share_id !== share.share_id) return;
    share = { ...share, status: v.status, uses: v.uses };
    tickQR();
  } catch {
    // a missed poll changes nothing; the countdown goes on
  }
  if (share && share.status === 'active') pollTimer = setTimeout(pollShare, 2000);
}

function stopQR() {
  clearInterval(qrTimer);
  clearTimeout(pollTimer);
  qrTimer = 0;
  pollTimer = 0;
  share = null;
  if (qrURL) URL.revokeObjectURL(qrURL);
  qrURL = '';
  $('qr-img').removeAttribute('src');
  $('qr-text').value = '';
}

async function cancelShare() {
  if (!share) return;
  try {
    await me('DELETE', `/v1/me/shares/${encodeURIComponent(share.share_id)}`);
    share.status = 'cancelled';
    tickQR();
  } catch (e) {
    say(describe(e, 'cancel'));
  }
}

// ---- activity (SPEC §3.6) ----

// Each event's words: w.ev.<event> (with {issuer} or {verifier}), or
// w.ev.<event>.plain when the entry names nobody.
const events = new Set([
  'credential_issued', 'credential_status_changed', 'device_enrolled', 'device_revoked', 'share_approved',
  'share_cancelled', 'share_redeemed', 'share_refused', 'request_received', 'request_approved', 'request_declined',
]);

/** The words of a log entry, into e (a span). */
function eventText(span, e) {
  if (!events.has(e.event)) return setNodes(span, 'w.ev.other', { event: dataSpan(e.event) });
  const who = e.verifier_id || e.issuer_id;
  const why = e.event === 'share_refused' ? t(e.outcome === 'claims_not_registered' ? 'w.ev.refused.claims' : 'w.ev.refused.audience') : '';
  if (!who) return setT(span, `w.ev.${e.event}.plain`, { why });
  return setNodes(span, `w.ev.${e.event}`, { who: dataSpan(who), why });
}

/** Claim names of a log entry ("national_id.full_name") in plain words, by document. */
function sharedClaims(names) {
  const byType = new Map();
  for (const n of names) {
    const dot = n.indexOf('.');
    const type = dot > 0 ? n.slice(0, dot) : '';
    const list = byType.get(type) || [];
    list.push(claimName(dot > 0 ? n.slice(dot + 1) : n, type));
    byType.set(type, list);
  }
  return [...byType].map(([type, list]) => (type ? typeName(type) + ': ' : '') + list.join(', ')).join('; ');
}

async function loadActivity() {
  const list = $('activity');
  say(t('w.activity.loading'));
  let r;
  try {
    r = await me('GET', '/v1/me/activity?limit=200'); // the newest page
  } catch (e) {
    say(describe(e, 'activity'));
    return;
  }
  say('');
  list.replaceChildren();
  const entries = (r && r.entries) || [];
  if (!entries.length) list.append(setT(el('li'), 'w.activity.none'));
  for (const e of entries) {
    const li = el('li', {},
      el('time', { class: 'when', datetime: e.at, 'data-value': '', text: timeText(e.at) }),
      eventText(el('span', { class: 'what' }), e));
    if (e.claims && e.claims.length) li.append(el('span', { class: 'claims-shared', 'data-reg': '', text: sharedClaims(e.claims) }));
    if (e.outcome && e.outcome !== 'ok' && e.outcome !== 'success') li.append(el('span', { 'data-value': '', text: ` (${e.outcome})` }));
    list.append(li);
  }
}

function selectTab(which) {
  const docs = which === 'docs';
  $('docs-panel').hidden = !docs;
  $('activity-panel').hidden = docs;
  $(docs ? 'tab-docs' : 'tab-activity').setAttribute('aria-current', 'page');
  $(docs ? 'tab-activity' : 'tab-docs').removeAttribute('aria-current');
  if (!docs) loadActivity();
}

// ---- removing the device ----

async function forgetLocal() {
  await dropDevice(); // and the pool with it
  device = null;
  token = '';
  tokenUntil = 0;
  credentials = [];
  poolServed = true;
  poolNote = '';
  delete document.body.dataset.pool;
  // Nothing of the citizen's stays in the page: documents, activity, the
  // last share's items and code.
  for (const id of ['documents', 'activity', 'confirm-list', 'confirm-meta']) $(id).replaceChildren();
  $('qr-img').removeAttribute('src');
  $('qr-text').value = '';
  $('citizen-id').value = '';
}

async function forget() {
  try {
    await me('DELETE', `/v1/me/devices/${encodeURIComponent(device.deviceId)}`);
  } catch {
    // revoked already, or the service is gone: forget it here anyway
  }
  await forgetLocal();
  toEnrol(t('w.enrol.removed'));
}

function toEnrol(message) {
  stopQR();
  go('enrol-view');
  say(message || '');
  $('citizen-id').focus();
}

async function init() {
  applyPage();
  $('device-name').value = t('w.enrol.device.default');
  await loadTypes();
  $('enrol-form').addEventListener('submit', enrol);
  $('share-form').addEventListener('submit', startShare);
  $('approve').addEventListener('click', approve);
  $('decline').addEventListener('click', decline);
  $('qr-cancel').addEventListener('click', cancelShare);
  $('qr-done').addEventListener('click', home);
  $('tab-docs').addEventListener('click', () => selectTab('docs'));
  $('tab-activity').addEventListener('click', () => selectTab('activity'));
  $('forget').addEventListener('click', forget);
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    go('enrol-view');
    say(t('w.no_crypto'));
    return;
  }
  try {
    device = await loadDevice();
  } catch {
    device = null;
  }
  if (device && device.privateKey && device.deviceId) await home();
  else toEnrol('');
}

init();
