// The staff page's verifier with no network (issue 12 item 3): it checks
// an EIDC1: code in the browser against the last signed trust bundle, keeps
// that bundle and the service's JWKS in IndexedDB, refuses a second scan of
// a code at this counter, and queues what it checked for upload when the
// network returns.
//
// The rules are those of package offline (offline/share.go, bundle.go) and
// of `eidwallet verify-offline`, and fail closed:
// - the bundle: a tagged COSE_Sign1 (RFC 9052 §4.2) by the service key of
//   /.well-known/jwks.json (its kid the first 8 bytes of the SHA-256 of the
//   point 04||x||y), ES256 in the protected header, no crit; usable while
//   iat - 60 s <= now <= iat + max age: an older bundle, or a clock before
//   its issue time, is "cannot verify offline";
// - the code: EIDC1: and base45 (RFC 9285) of a tagged COSE_Sign1 by an
//   attestation key of the bundle that may attest its type; its CWT (RFC
//   8392: exp 4, iat 6, cti 7, the share in -70001) with exp at most 120 s
//   after iat, valid while iat - 60 s <= now < exp + 60 s; its issuer one of
//   the bundle's for the type;
// - the status, when the code names one: the issuer's Token Status List CWT
//   in the bundle (typ application/statuslist+cwt, signed by the issuer,
//   sub <bundle iss>/status-lists/<issuer>/<list>), lst inflated and the
//   index's bits read as Token Status List §4.1 says: 0 valid, 1 revoked,
//   2 suspended; anything else, or no list, is a status we cannot know.
// Signatures are checked with WebCrypto (ECDSA P-256 SHA-256; COSE's r||s is
// WebCrypto's own signature form); CBOR is read with cbor-x (vendor/
// cbor-x.js, its no-eval build, which the page's CSP allows).

import { serverNow, b64u } from './common.js';

const PREFIX = 'EIDC1:';
const MAX_TEXT = 4296; // a version 40 QR's alphanumeric capacity
const MAX_LIFETIME = 120; // seconds from iat to exp
const SKEW = 60; // seconds of clock skew allowed
const ES256 = -7;
const TYP_STATUS_LIST = 'application/statuslist+cwt';
const MAX_INFLATED = 16 << 20;
const MAX_BUNDLE = 64 << 20;
const KEEP_SEEN = 600; // seconds a seen cti is kept after its code expired
const UPLOAD_BATCH = 100;

/** The text of an EIDC1: code: the base45 alphabet after the prefix. */
export const COMPACT_TEXT = /^EIDC1:[0-9A-Z $%*+\-./:]+$/;

/** Why a code or the bundle is refused: offline.Reason's words. */
export class Refusal extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}
const refuse = (reason, detail) => { throw new Refusal(reason, detail); };

// Reasons a code is refused after its signature was checked: its cti is
// the service's, so the outcome is worth reporting (the queue).
const TRUSTED_REASONS = new Set(['expired', 'not_yet_valid', 'not_authorized_for_type',
  'credential_revoked', 'credential_suspended', 'status_unknown']);

const isBytes = (v) => v instanceof Uint8Array;
const isInt = (v) => Number.isSafeInteger(v);
const isMap = (v) => v instanceof Map;
const strings = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');
const nowSeconds = () => Math.floor(serverNow() / 1000);

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- base45 (RFC 9285) ----

const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/**
 * decode45 decodes base45 (RFC 9285 §4.2): three characters to two bytes,
 * two to a last byte; characters outside the alphabet, a length of 1 mod 3
 * and groups over their range are refused (§6).
 */
export function decode45(s) {
  if (s.length % 3 === 1) return null;
  const out = new Uint8Array(Math.floor(s.length / 3) * 2 + (s.length % 3 ? 1 : 0));
  let o = 0;
  for (let i = 0; i < s.length; i += 3) {
    const c = B45.indexOf(s[i]);
    const d = B45.indexOf(s[i + 1]);
    if (c < 0 || d < 0) return null;
    if (i + 2 === s.length) {
      const n = c + d * 45;
      if (n > 0xff) return null;
      out[o++] = n;
      break;
    }
    const e = B45.indexOf(s[i + 2]);
    const n = c + d * 45 + e * 2025;
    if (e < 0 || n > 0xffff) return null;
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  }
  return out;
}

// ---- CBOR and COSE ----

let decoder = null;

// wellFormed walks the CBOR item at b[i] (RFC 8949 §3) without building
// it and returns the offset after it, or -1 for what no code or bundle of
// this service holds: a tag other than COSE_Sign1's 18 (cbor-x acts on
// some, and its value sharing, tags 28 and 29, lets a few hundred bytes
// expand into gigabytes before any signature is checked), an indefinite
// or reserved length, nesting deeper than 32, a length past the end.
function wellFormed(b, i, depth) {
  if (depth > 32 || i >= b.length) return -1;
  const major = b[i] >> 5;
  const ai = b[i] & 31;
  i++;
  let n = ai;
  if (ai >= 24) {
    if (ai > 27) return -1; // reserved, or indefinite (31)
    const size = 1 << (ai - 24);
    if (i + size > b.length) return -1;
    n = 0;
    for (let k = 0; k < size; k++) n = n * 256 + b[i + k];
    i += size;
  }
  switch (major) {
    case 2: case 3: return n <= b.length - i ? i + n : -1;
    case 4: case 5:
      for (let k = 0; k < (major === 5 ? 2 * n : n); k++) {
        i = wellFormed(b, i, depth + 1);
        if (i < 0) return -1;
      }
      return i;
    case 6: return n === 18 ? wellFormed(b, i, depth + 1) : -1;
    default: return i; // integers, simple values, floats
  }
}

function decodeCBOR(bytes, reason, what) {
  if (wellFormed(bytes, 0, 0) !== bytes.length) refuse(reason, `${what} is not CBOR of this service's`);
  if (!decoder) {
    const C = globalThis.CBOR;
    if (!C || !C.Decoder) refuse('cannot_verify_offline', 'the CBOR decoder did not load');
    // Maps as Map (COSE's labels are integers); no records extension.
    decoder = new C.Decoder({ mapsAsObjects: false, useRecords: false });
  }
  try {
    return decoder.decode(bytes);
  } catch {
    return refuse(reason, `${what} is not CBOR`);
  }
}

// head is the head of a CBOR data item (RFC 8949 §3) of a major type and
// an argument under 2^32.
function head(major, n) {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

const SIGNATURE1 = new TextEncoder().encode('Signature1');

// sigStructure is what a COSE_Sign1 signs (RFC 9052 §4.4):
// ["Signature1", protected, external_aad h'', payload].
function sigStructure(protectedBytes, payload) {
  return concat(head(4, 4), head(3, SIGNATURE1.length), SIGNATURE1, head(2, protectedBytes.length), protectedBytes,
    head(2, 0), head(2, payload.length), payload);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// keyOf imports a P-256 public key from its coordinates, with its kid.
async function keyOf(x, y) {
  const raw = concat(Uint8Array.of(4), x, y);
  const key = await crypto.subtle.importKey('raw', raw, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return { kid: (await sha256(raw)).slice(0, 8), key };
}

// keyFromCOSE reads a public P-256 COSE_Key (RFC 9053 §7.1.1: kty 2, crv 1,
// x, y); a kid in it must be the derived one.
async function keyFromCOSE(m, what) {
  if (!isMap(m) || m.get(1) !== 2 || m.get(-1) !== 1 || !isBytes(m.get(-2)) || !isBytes(m.get(-3)) ||
      m.get(-2).length !== 32 || m.get(-3).length !== 32 || m.has(-4) || (m.has(3) && m.get(3) !== ES256)) {
    refuse('malformed', `${what}: not a public P-256 COSE_Key`);
  }
  let k;
  try {
    k = await keyOf(m.get(-2), m.get(-3));
  } catch {
    return refuse('malformed', `${what}: not a point of P-256`);
  }
  if (m.has(2) && !(isBytes(m.get(2)) && equal(m.get(2), k.kid))) refuse('malformed', `${what}: its kid is not its key's`);
  return k;
}

function fromB64uStrict(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) return null;
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// serviceKeys are the P-256 keys of the service's JWKS.
async function serviceKeys(jwks) {
  const out = [];
  for (const k of (jwks && Array.isArray(jwks.keys)) ? jwks.keys : []) {
    if (!k || k.kty !== 'EC' || k.crv !== 'P-256' || 'd' in k || (k.use && k.use !== 'sig')) continue;
    const x = fromB64uStrict(k.x);
    const y = fromB64uStrict(k.y);
    if (!x || !y || x.length !== 32 || y.length !== 32) continue;
    try {
      out.push(await keyOf(x, y));
    } catch {
      // not a point of the curve: not a key
    }
  }
  return out;
}

// open checks a tagged COSE_Sign1 (tag 18) and returns its protected
// header and payload: ES256 in the protected header (the only algorithm),
// no crit, a kid of keys (else the reason notFound), the signature.
async function open(raw, keys, notFound, what) {
  const t = decodeCBOR(raw, 'malformed', what);
  const v = t && t.tag === 18 ? t.value : null;
  if (!Array.isArray(v) || v.length !== 4 || !isBytes(v[0]) || !isMap(v[1]) || !isBytes(v[2]) || !isBytes(v[3])) {
    refuse('malformed', `${what} is not a tagged COSE_Sign1 with a payload`);
  }
  const [protectedBytes, unprotected, payload, signature] = v;
  // Nothing unprotected, as offline/share.go: a header no signature covers
  // could only mislead, and makes one code many texts.
  if (unprotected.size > 0) refuse('malformed', `${what}: an unprotected header`);
  const ph = protectedBytes.length ? decodeCBOR(protectedBytes, 'malformed', `${what}'s header`) : new Map();
  if (!isMap(ph)) refuse('malformed', `${what}'s protected header is not a map`);
  // Only the protected header counts (RFC 9052 §3.1: alg is protected).
  if (ph.get(1) !== ES256) refuse('unsupported_alg', `${what}: alg must be ES256 in the protected header`);
  if (ph.has(2)) refuse('malformed', `${what}: crit is not supported`);
  const kid = ph.get(4);
  if (!isBytes(kid)) refuse('unknown_key', `${what}: no kid in the protected header`);
  const k = keys.find((x) => equal(x.kid, kid));
  if (!k) refuse(notFound, `${what}: no key has its kid`);
  const ok = signature.length === 64 && await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, k.key, signature,
    sigStructure(protectedBytes, payload));
  if (!ok) refuse('invalid_signature', `${what}: the signature does not verify`);
  return { ph, payload, key: k };
}

// ---- the trust bundle ----

// readBundle checks a bundle's signature and form; whether it may be used
// now is usable's.
async function readBundle(raw, keys) {
  if (!isBytes(raw) || raw.length > MAX_BUNDLE) refuse('malformed', 'the bundle is too large');
  const { payload } = await open(raw, keys, 'unknown_key', 'the bundle');
  const m = decodeCBOR(payload, 'malformed', 'the bundle payload');
  if (!isMap(m)) refuse('malformed', 'the bundle payload is not a map');
  const b = { iss: m.get(1), iat: m.get(6), maxAge: m.get(-70002), issuers: [], attesters: [], statusLists: [], lists: new Map() };
  if (typeof b.iss !== 'string' || !isInt(b.iat)) refuse('malformed', 'the bundle has no iss or iat');
  if (!isInt(b.maxAge) || b.maxAge <= 0) refuse('malformed', 'the bundle has no maximum age');
  // Its own maximum age, and never more than a day (T40, offline/bundle.go):
  // what is checked and what the page shows as "usable until" alike.
  b.maxAge = Math.min(b.maxAge, MAX_BUNDLE_AGE);
  for (const is of m.get(-70003) ?? []) {
    if (!isMap(is) || typeof is.get(1) !== 'string' || !Array.isArray(is.get(3)) || !strings(is.get(4))) {
      refuse('malformed', 'a bundle issuer is not {1 id, 2 name, 3 keys, 4 types}');
    }
    const keys = [];
    for (const k of is.get(3)) keys.push(await keyFromCOSE(k, `issuer ${is.get(1)}`));
    b.issuers.push({ id: is.get(1), name: typeof is.get(2) === 'string' ? is.get(2) : '', keys, types: is.get(4) });
  }
  for (const a of m.get(-70004) ?? []) {
    if (!isMap(a) || !strings(a.get(2))) refuse('malformed', 'a bundle attester is not {1 key, 2 types}');
    b.attesters.push({ ...(await keyFromCOSE(a.get(1), 'attester')), types: a.get(2) });
  }
  for (const s of m.get(-70005) ?? []) {
    if (!isMap(s) || typeof s.get(1) !== 'string' || !isInt(s.get(2)) || !isBytes(s.get(3))) {
      refuse('malformed', 'a bundle status list is not {1 issuer, 2 list, 3 cwt}');
    }
    b.statusLists.push({ issuer: s.get(1), list: s.get(2), cwt: s.get(3) });
  }
  return b;
}

// MAX_BUNDLE_AGE is the longest a bundle is used, in seconds, whatever it
// says (offline.DefaultMaxAge).
const MAX_BUNDLE_AGE = 24 * 3600;

// usable refuses a bundle that is too old at now, or a clock before it was
// issued (a clock set back cannot make an old bundle new).
function usable(b, now) {
  if (now < b.iat - SKEW) refuse('cannot_verify_offline', 'the clock is before the bundle was issued');
  if (now - b.iat > b.maxAge) refuse('cannot_verify_offline', 'the bundle is older than its maximum age');
}

// ---- IndexedDB: the trust data, the cti seen, the queue, the flags ----

const DB_NAME = 'eidwallet-verify';
let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        d.createObjectStore('trust'); // 'current': {bundle, jwks, fetched_at}
        d.createObjectStore('seen', { keyPath: 'cti' }); // {cti, exp, at}
        d.createObjectStore('queue', { keyPath: 'cti' }); // {cti, verified_at, result, type, key}
        d.createObjectStore('flagged', { keyPath: 'cti' }); // {cti, type, verified_at, key: keyTag}
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

// run runs one transaction: fn makes its requests; the promise settles
// when it commits, with what fn's last request (or fn) gave.
async function run(stores, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(stores, mode);
    let out;
    const set = (r) => { r.onsuccess = () => { out = r.result; }; return r; };
    const v = fn(t, set);
    if (v !== undefined) out = v;
    t.oncomplete = () => resolve(out);
    t.onabort = () => reject(t.error || new Error('transaction aborted'));
  });
}

const all = (store, filter) => run([store], 'readonly', (t, set) => { set(t.objectStore(store).getAll()); })
  .then((xs) => (filter ? xs.filter(filter) : xs));

// deleteWhere deletes the records of store that drop says.
const deleteWhere = (store, drop) => run([store], 'readwrite', (t) => {
  const r = t.objectStore(store).openCursor();
  r.onsuccess = () => {
    const c = r.result;
    if (!c) return;
    if (drop(c.value)) c.delete();
    c.continue();
  };
});

// keyTag is how queued items name the API key that checked them (its
// SHA-256, never the key): a queue is uploaded only under the key of the
// counter that filled it.
async function keyTag(apiKey) {
  return b64u(await sha256(new TextEncoder().encode(apiKey)));
}

// ---- keeping the trust data ----

let trust = null; // {bundle (read), fetchedAt}
let trustLoad = null;
let refreshing = null;

// loadTrust reads the stored bundle once, checking it again as read.
function loadTrust() {
  if (!trustLoad) {
    trustLoad = (async () => {
      const cur = await run(['trust'], 'readonly', (t, set) => { set(t.objectStore('trust').get('current')); });
      if (!cur) return null;
      try {
        trust = { bundle: await readBundle(cur.bundle, await serviceKeys(cur.jwks)), fetchedAt: cur.fetched_at };
      } catch {
        trust = null; // a stored bundle that no longer reads: as none
      }
      return trust;
    })();
    trustLoad.catch(() => { trustLoad = null; });
  }
  return trustLoad;
}

async function fetchBytes(path, accept, max) {
  const resp = await fetch(path, { headers: { Accept: accept }, cache: 'no-store', credentials: 'omit', redirect: 'error' });
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  const b = new Uint8Array(await resp.arrayBuffer());
  if (b.length > max) throw new Error(`${path}: too large`);
  return b;
}

/**
 * refreshTrust fetches the service's JWKS and the trust bundle and keeps
 * them when the bundle verifies and is not older than the one kept. It
 * answers the state (trustState) and never throws: with no network the
 * kept bundle stays.
 */
export function refreshTrust() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const jwks = JSON.parse(new TextDecoder().decode(await fetchBytes('/.well-known/jwks.json', 'application/jwk-set+json, application/json', 1 << 20)));
        const raw = await fetchBytes('/v1/trust-bundle', 'application/cose', MAX_BUNDLE);
        const bundle = await readBundle(raw, await serviceKeys(jwks));
        await loadTrust().catch(() => null);
        if (!trust || bundle.iat >= trust.bundle.iat) {
          const fetchedAt = Date.now();
          await run(['trust'], 'readwrite', (t) => { t.objectStore('trust').put({ bundle: raw, jwks, fetched_at: fetchedAt }, 'current'); });
          trust = { bundle, fetchedAt };
          trustLoad = Promise.resolve(trust);
        }
      } catch {
        // no network, or a bundle that does not verify: keep the last good one
      }
      return trustState();
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/**
 * trustState says whether offline checks can run now: {ready, reason,
 * issuedAt (ms), usableUntil (ms)}.
 */
export async function trustState() {
  await loadTrust().catch(() => null);
  if (!trust) return { ready: false, reason: 'none' };
  const b = trust.bundle;
  const out = { issuedAt: b.iat * 1000, usableUntil: (b.iat + b.maxAge) * 1000 };
  try {
    usable(b, nowSeconds());
  } catch {
    return { ...out, ready: false, reason: 'stale' };
  }
  return { ...out, ready: true, reason: '' };
}

// ---- verifying a code ----

// jsonOf turns decoded claim values into JSON values (maps of text keys to
// objects, byte strings to base64url).
function jsonOf(v) {
  if (isMap(v)) {
    const o = {};
    for (const [k, x] of v) {
      if (typeof k !== 'string') refuse('malformed', 'a claim map has a key that is not text');
      o[k] = jsonOf(x);
    }
    return o;
  }
  if (Array.isArray(v)) return v.map(jsonOf);
  if (isBytes(v)) return b64u(v);
  if (typeof v === 'bigint') refuse('malformed', 'a claim is a number out of range');
  return v;
}

// readCode reads an EIDC1: text's COSE_Sign1 bytes.
function readCode(text) {
  if (typeof text !== 'string' || text.length > MAX_TEXT) refuse('malformed', `not a text of at most ${MAX_TEXT} characters`);
  if (!text.startsWith(PREFIX)) refuse('malformed', 'not an EIDC1: code');
  const raw = decode45(text.slice(PREFIX.length));
  if (!raw) refuse('malformed', 'not base45');
  return raw;
}

// shareOf reads a code's CWT: exp, iat, cti and the share (-70001: type,
// issuer, [list, index], claims, consent).
function shareOf(payload) {
  const c = decodeCBOR(payload, 'malformed', "the code's CWT");
  const sh = isMap(c) ? c.get(-70001) : undefined;
  if (!isMap(c) || !isMap(sh)) refuse('malformed', "not a share's CWT");
  const s = { exp: c.get(4), iat: c.get(6), cti: c.get(7), type: sh.get(1), issuer: sh.get(2), status: sh.get(3),
    claims: sh.get(4), consent: sh.get(5) === true };
  if (!isInt(s.exp) || !isInt(s.iat) || !isBytes(s.cti) || s.cti.length < 8 || typeof s.type !== 'string' || s.type === '' ||
      typeof s.issuer !== 'string' || s.issuer === '' || !isMap(s.claims)) {
    refuse('malformed', 'type, issuer, cti and claims are required');
  }
  if (s.status !== undefined && !(Array.isArray(s.status) && s.status.length === 2 && s.status.every((n) => isInt(n) && n >= 0))) {
    refuse('malformed', 'status is [list, index]');
  }
  if (s.exp - s.iat > MAX_LIFETIME || s.exp <= s.iat) refuse('malformed', 'exp must be within 120 s after iat');
  return s;
}

/**
 * peek reads a code's cti (base64url) and exp without checking anything
 * (null when it does not read): enough to refuse a second scan before any
 * call. What it gives is trusted only once verify has checked it.
 */
export function peek(text) {
  try {
    const t = decodeCBOR(readCode(text), 'malformed', 'the code');
    const v = t && t.tag === 18 ? t.value : null;
    if (!Array.isArray(v) || !isBytes(v[2])) return null;
    const s = shareOf(v[2]);
    return { cti: b64u(s.cti), exp: s.exp };
  } catch {
    return null;
  }
}

// inflate inflates ZLIB (RFC 1950: 'deflate' in Compression Streams) with
// a cap on what it may grow to.
async function inflate(bytes, max) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      reader.cancel().catch(() => {});
      throw new Error('the list inflates too far');
    }
    chunks.push(value);
  }
  return concat(...chunks);
}

// statusOf reads the status value of index in the issuer's list of the
// bundle (each list checked and inflated once).
async function statusOf(b, is, list, index) {
  const sl = b.statusLists.find((l) => l.issuer === is.id && l.list === list);
  if (!sl) refuse('status_unknown', `the bundle has no status list ${is.id}/${list}`);
  const id = `${is.id}/${list}`;
  let l = b.lists.get(id);
  if (!l) {
    const { ph, payload } = await open(sl.cwt, is.keys, 'status_unknown', 'the status list');
    if (ph.get(16) !== TYP_STATUS_LIST) refuse('status_unknown', `status list typ is not ${TYP_STATUS_LIST}`);
    const c = decodeCBOR(payload, 'status_unknown', 'the status list');
    if (!isMap(c) || c.get(2) !== `${b.iss}/status-lists/${is.id}/${list}`) refuse('status_unknown', 'status list sub is not its uri');
    const st = c.get(65533);
    const bits = isMap(st) ? st.get('bits') : undefined;
    const lst = isMap(st) ? st.get('lst') : undefined;
    if (![1, 2, 4, 8].includes(bits) || !isBytes(lst)) refuse('status_unknown', 'status_list is not {bits, lst}');
    let entries;
    try {
      entries = await inflate(lst, MAX_INFLATED);
    } catch {
      return refuse('status_unknown', 'lst does not inflate');
    }
    l = { bits, entries };
    b.lists.set(id, l);
  }
  // Token Status List §4.1: index i is in byte i*bits/8, at bit
  // (i*bits) % 8 counted from the least significant.
  const byte = Math.floor((index * l.bits) / 8);
  if (byte >= l.entries.length) refuse('status_unknown', 'status index out of range');
  return (l.entries[byte] >> ((index * l.bits) % 8)) & ((1 << l.bits) - 1);
}

/**
 * verify checks an EIDC1: text against the kept bundle at the clock. It
 * answers {valid, reason, detail, trusted, share}: share (type, issuer,
 * issuerName, claims, cti in base64url, iat, exp, consent) once the code's
 * signature verified (trusted), claims only when valid.
 */
export async function verify(text) {
  const out = { valid: false, reason: '', detail: '', trusted: false, share: null };
  try {
    const now = nowSeconds();
    await loadTrust().catch(() => null);
    if (!trust) refuse('cannot_verify_offline', 'no trust bundle on this device');
    const b = trust.bundle;
    usable(b, now);
    const raw = readCode(text);
    const { payload, key } = await open(raw, b.attesters, 'unknown_key', 'the code');
    const s = shareOf(payload);
    const is = b.issuers.find((i) => i.id === s.issuer);
    out.trusted = true;
    out.share = { type: s.type, issuer: s.issuer, issuerName: is ? is.name : '', cti: b64u(s.cti), iat: s.iat, exp: s.exp,
      consent: s.consent, claims: {} };
    if (now >= s.exp + SKEW) refuse('expired', 'the code has expired');
    if (now + SKEW < s.iat) refuse('not_yet_valid', 'the code is from the future');
    const claims = jsonOf(s.claims);
    if (!key.types.includes(s.type)) refuse('not_authorized_for_type', `the attestation key may not attest ${s.type}`);
    if (!s.consent) refuse('malformed', "the code does not say the holder's device consented");
    if (!is || !is.types.includes(s.type)) refuse('not_authorized_for_type', `the issuer is not one of the bundle's for ${s.type}`);
    // Fail closed, as offline/bundle.go: every credential of a hosted
    // issuer has a status entry.
    if (s.status === undefined) refuse('status_unknown', 'the code names no status entry');
    const v = await statusOf(b, is, s.status[0], s.status[1]);
    if (v === 1) refuse('credential_revoked', 'the credential is revoked');
    if (v === 2) refuse('credential_suspended', 'the credential is suspended');
    if (v !== 0) refuse('status_unknown', `status value ${v}`);
    out.share.claims = claims;
    out.valid = true;
  } catch (e) {
    if (!(e instanceof Refusal)) {
      // Anything unforeseen (storage, WebCrypto): fail closed.
      out.reason = 'cannot_verify_offline';
      out.detail = String(e && e.message);
      return out;
    }
    out.reason = e.reason;
    out.detail = e.message;
    if (out.trusted && !TRUSTED_REASONS.has(e.reason)) out.trusted = false;
  }
  return out;
}

// ---- a code is checked once at this counter ----

/** seen reports whether a cti was checked at this counter before. */
export async function seen(cti) {
  const v = await run(['seen'], 'readonly', (t, set) => { set(t.objectStore('seen').get(cti)); });
  return !!v;
}

/**
 * markSeen records a cti as checked here; it answers false when it was
 * already (in one transaction, so two tabs cannot both take a code).
 */
export async function markSeen(cti, exp) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(['seen'], 'readwrite');
    let fresh = false;
    const r = t.objectStore('seen').add({ cti, exp, at: Date.now() });
    r.onsuccess = () => { fresh = true; };
    r.onerror = (ev) => {
      if (r.error && r.error.name === 'ConstraintError') ev.preventDefault(); // seen before: not an error
    };
    t.oncomplete = () => resolve(fresh);
    t.onabort = () => reject(t.error || new Error('transaction aborted'));
  });
}

/** pruneSeen forgets ctis of codes long expired: they cannot verify again. */
export async function pruneSeen() {
  const cutoff = nowSeconds() - SKEW - KEEP_SEEN;
  await deleteWhere('seen', (x) => !(x.exp > cutoff));
}

// ---- the queue of offline checks ----

/** enqueue keeps an offline check for upload (the first outcome of a cti). */
export async function enqueue(apiKey, item) {
  const key = await keyTag(apiKey);
  await run(['queue'], 'readwrite', (t) => {
    const r = t.objectStore('queue').add({ ...item, key });
    r.onerror = (ev) => ev.preventDefault(); // queued before
  });
}

/** queued is the number of checks waiting for upload under apiKey. */
export async function queued(apiKey) {
  const key = await keyTag(apiKey);
  return (await all('queue', (x) => x.key === key)).length;
}

/**
 * flagged is the list of codes the service saw at another counter, of
 * those apiKey uploaded: another verifier signed in on this browser later
 * sees none of them (nor which documents were checked here).
 */
export async function flagged(apiKey) {
  const key = await keyTag(apiKey);
  const xs = await all('flagged', (x) => x.key === key);
  return xs.sort((a, b) => String(a.verified_at).localeCompare(String(b.verified_at)));
}

/** dismissFlagged forgets apiKey's flags once staff have read them. */
export async function dismissFlagged(apiKey) {
  const key = await keyTag(apiKey);
  // Flags kept before they named their key are nobody's to see: they go too.
  return deleteWhere('flagged', (x) => x.key === key || x.key === undefined);
}

let uploading = null;

/**
 * upload sends the checks queued under apiKey to POST
 * /v1/verifier/offline-verifications, in batches, and keeps what the
 * service flags (a code seen at another counter). It answers {sent,
 * flagged, left, unauthorized}; with no network, or a service that cannot
 * take them now, the queue stays for the next try.
 */
export function upload(apiKey) {
  if (!uploading) {
    const go = () => uploadQueue(apiKey);
    // One tab at a time uploads (Web Locks, where there are).
    const p = navigator.locks ? navigator.locks.request('eidwallet-verify-upload', go) : go();
    uploading = p.finally(() => { uploading = null; });
  }
  return uploading;
}

async function post(apiKey, items) {
  let resp;
  try {
    resp = await fetch('/v1/verifier/offline-verifications', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: 'Bearer ' + apiKey },
      body: JSON.stringify({ verifications: items.map((x) => ({ cti: x.cti, verified_at: x.verified_at, result: x.result, type: x.type })) }),
      cache: 'no-store', credentials: 'omit', redirect: 'error',
    });
  } catch {
    return { status: 0 };
  }
  let body = null;
  try { body = await resp.json(); } catch { body = null; }
  return { status: resp.status, body };
}

async function uploadQueue(apiKey) {
  const out = { sent: 0, flagged: 0, left: 0, unauthorized: false };
  const key = await keyTag(apiKey);
  const items = await all('queue', (x) => x.key === key);
  let stop = false;
  const done = async (batch, body) => {
    const marks = new Set(Array.isArray(body && body.flagged) ? body.flagged : []);
    await run(['queue', 'flagged'], 'readwrite', (t) => {
      for (const x of batch) {
        t.objectStore('queue').delete(x.cti);
        if (marks.has(x.cti)) t.objectStore('flagged').put({ cti: x.cti, type: x.type, verified_at: x.verified_at, key });
      }
    });
    out.sent += batch.length;
    out.flagged += batch.filter((x) => marks.has(x.cti)).length;
  };
  for (let i = 0; i < items.length && !stop; i += UPLOAD_BATCH) {
    const batch = items.slice(i, i + UPLOAD_BATCH);
    const r = await post(apiKey, batch);
    if (r.status === 200) {
      await done(batch, r.body);
    } else if (r.status === 400 || r.status === 413 || r.status === 422) {
      // A batch the service refuses: one at a time, so that one bad item
      // does not hold the others back; an item refused alone is dropped.
      for (const x of batch) {
        const one = batch.length === 1 ? r : await post(apiKey, [x]);
        if (one.status === 200) await done([x], one.body);
        else if (one.status === 400 || one.status === 413 || one.status === 422) await done([x], null);
        else { stop = true; break; }
      }
    } else {
      out.unauthorized = r.status === 401;
      stop = true; // no network, 401, 404 (no such route), 429, 5xx: later
    }
  }
  out.left = (await all('queue', (x) => x.key === key)).length;
  return out;
}
