// verify.mjs: an independent decoder of eidwallet's EIDC1: codes and of its
// trust bundle (issue 12). None of eidwallet's code runs here: the format
// is read with other people's libraries, base45 (RFC 9285), cbor-x (RFC
// 8949), @auth0/cose (RFC 9052 COSE_Sign1, ES256 through node:crypto), and
// node:zlib for the Token Status List.
//
// stdin:  {"code": "EIDC1:…", "bundle_b64": "<base64 of the bundle>",
//          "service_jwk": {public P-256 JWK}, "now": unix seconds}
// stdout: {"valid": bool, "reason": "", "claims": {...}, "type": "...",
//          "issuer": "...", "status": 0|1|2|null, "consent": bool,
//          "expires_at": unix seconds, "detail": "why, for a person"}
// claims are {} unless valid; type, issuer and status are filled in as far
// as the code was read; status is null when the code names none.
// Exit 0 with a verdict (valid or not), 2 when stdin is not such a request.
//
// The rules, the same as eidwallet verify-offline's (fail closed):
// - the bundle: a tagged COSE_Sign1 (18), ES256 in the protected header, no
//   crit, its kid that of the service key (the first 8 bytes of the SHA-256
//   of the uncompressed point 04||X||Y), the signature; a maximum age over
//   0; usable when iat - 60 s <= now <= iat + max age (a minute of clock
//   skew before the issue time, none after the maximum age);
// - the code: EIDC1: and base45 of a tagged COSE_Sign1 by an attestation
//   key of the bundle (by kid); its CWT with exp, iat, cti (8 bytes or
//   more) and the share (-70001: type, issuer, [list, index], claims,
//   consent); exp after iat by at most 120 s; valid while iat - 60 s <= now
//   < exp + 60 s; the attester may attest the type; the issuer is one of
//   the bundle's and issues the type;
// - the status, when the code names one: the issuer's list in the bundle,
//   a COSE_Sign1 with typ application/statuslist+cwt signed by a key of
//   that issuer, its sub <bundle iss>/status-lists/<issuer>/<list>, lst
//   inflated and the index's bits read as Token Status List §4.1 says
//   (index i in byte i*bits/8, at bit (i*bits)%8 from the least
//   significant): 0 valid, 1 revoked, 2 suspended, a missing list, an
//   index out of range or another value unknown.
// Laxer than eidwallet in one respect: cbor-x takes duplicate map keys (the
// last wins) and indefinite lengths, which eidwallet's decoder refuses.

import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { Sign1, COSEKey } from '@auth0/cose';
import { Decoder } from 'cbor-x';
import base45 from 'base45';

const PREFIX = 'EIDC1:';
const MAX_TEXT = 4296; // a version 40 QR's alphanumeric capacity
const MAX_LIFETIME = 120; // seconds from iat to exp
const SKEW = 60; // seconds of clock skew allowed
const ES256 = -7;
const TYP_STATUS_LIST = 'application/statuslist+cwt';
const MAX_INFLATED = 16 << 20;

// Maps as Map (their labels are integers), no records extension.
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false });

class Refusal extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}
const refuse = (reason, detail) => { throw new Refusal(reason, detail); };

const isBytes = (v) => v instanceof Uint8Array;
const isInt = (v) => Number.isSafeInteger(v);
const isMap = (v) => v instanceof Map;
const hex = (b) => Buffer.from(b).toString('hex');

function decodeCBOR(bytes, reason, what) {
  try {
    return cbor.decode(bytes);
  } catch (e) {
    return refuse(reason, `${what} is not CBOR (${e.message})`);
  }
}

// kidOf is eidwallet's COSE kid of a P-256 key.
function kidOf(x, y) {
  return createHash('sha256').update(Buffer.concat([Buffer.from([4]), x, y])).digest().subarray(0, 8);
}

// keyFromCOSE reads a COSE_Key (RFC 9053 §7.1.1: kty 2 EC2, crv 1 P-256,
// x, y) into {kid, key} for @auth0/cose; a kid in the key must be the
// derived one.
async function keyFromCOSE(m, what) {
  if (!isMap(m) || m.get(1) !== 2 || m.get(-1) !== 1 || !isBytes(m.get(-2)) || !isBytes(m.get(-3)) ||
      m.get(-2).length !== 32 || m.get(-3).length !== 32 || m.has(-4)) {
    refuse('malformed', `${what}: not a public P-256 COSE_Key`);
  }
  if (m.has(3) && m.get(3) !== ES256) {
    refuse('malformed', `${what}: the key is not for ES256`);
  }
  const kid = kidOf(m.get(-2), m.get(-3));
  if (m.has(2) && hex(m.get(2)) !== hex(kid)) {
    refuse('malformed', `${what}: its kid ${hex(m.get(2))} is not its key's ${hex(kid)}`);
  }
  try {
    return { kid, key: await new COSEKey(m).toKeyLike() };
  } catch (e) {
    return refuse('malformed', `${what}: ${e.message}`);
  }
}

async function keyFromJWK(jwk) {
  if (!jwk || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || 'd' in jwk) {
    throw new Error('service_jwk is not a public P-256 JWK');
  }
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  if (x.length !== 32 || y.length !== 32) {
    throw new Error('service_jwk: x and y are 32 bytes');
  }
  return { kid: kidOf(x, y), key: await COSEKey.fromJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }).toKeyLike() };
}

// open checks a tagged COSE_Sign1 and returns its protected header and
// payload; keys are {kid, key}, notFound the reason when no kid matches.
async function open(raw, keys, notFound, what) {
  if (!isBytes(raw) || raw[0] !== 0xd2) { // tag 18 in one byte
    refuse('malformed', `${what} is not a tagged COSE_Sign1`);
  }
  let msg;
  try {
    msg = Sign1.decode(raw);
  } catch (e) {
    return refuse('malformed', `${what} is not a COSE_Sign1 (${e.message})`);
  }
  const ph = msg.protectedHeaders;
  if (!isMap(ph) || !isBytes(msg.signature) || !isBytes(msg.payload)) {
    refuse('malformed', `${what}: not a COSE_Sign1 with a payload`);
  }
  // Only the protected header counts: the library's alg and kid getters
  // fall back to the unprotected one.
  if (ph.get(1) !== ES256) {
    refuse('unsupported_alg', `${what}: alg must be ES256 in the protected header`);
  }
  if (ph.has(2)) {
    refuse('malformed', `${what}: crit is not supported`);
  }
  const kid = ph.get(4);
  if (!isBytes(kid)) {
    refuse('unknown_key', `${what}: no kid in the protected header`);
  }
  const k = keys.find((k) => hex(k.kid) === hex(kid));
  if (!k) {
    refuse(notFound, `${what}: no key has kid ${hex(kid)}`);
  }
  try {
    await msg.verify(k.key, { algorithms: [ES256] });
  } catch (e) {
    refuse('invalid_signature', `${what}: ${e.message || e.name}`);
  }
  return { protected: ph, payload: msg.payload };
}

const strings = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');

async function readBundle(raw, serviceKey, now) {
  const { payload } = await open(raw, [serviceKey], 'unknown_key', 'the bundle');
  const m = decodeCBOR(payload, 'malformed', 'the bundle payload');
  if (!isMap(m)) refuse('malformed', 'the bundle payload is not a map');
  const b = { iss: m.get(1), iat: m.get(6), maxAge: m.get(-70002), issuers: [], attesters: [], statusLists: [] };
  if (typeof b.iss !== 'string' || !isInt(b.iat)) refuse('malformed', 'the bundle has no iss or iat');
  if (!isInt(b.maxAge) || b.maxAge <= 0) refuse('malformed', 'the bundle has no maximum age');
  if (now < b.iat - SKEW) refuse('cannot_verify_offline', 'the clock is before the bundle was issued');
  if (now - b.iat > b.maxAge) refuse('cannot_verify_offline', 'the bundle is older than its maximum age');
  for (const is of m.get(-70003) ?? []) {
    if (!isMap(is) || typeof is.get(1) !== 'string' || !Array.isArray(is.get(3)) || !strings(is.get(4))) {
      refuse('malformed', 'a bundle issuer is not {1 id, 2 name, 3 keys, 4 types}');
    }
    const keys = [];
    for (const k of is.get(3)) keys.push(await keyFromCOSE(k, `issuer ${is.get(1)}`));
    b.issuers.push({ id: is.get(1), name: is.get(2), keys, types: is.get(4) });
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

// decode45 is the base45 package's decoder behind the checks it lacks
// (RFC 9285 §6 says to reject them): characters outside the alphabet,
// a length of 1 mod 3, and groups over their range (it wraps those).
function decode45(s) {
  if (!/^[0-9A-Z $%*+\-./:]*$/.test(s) || s.length % 3 === 1) return null;
  const b = base45.decode(s);
  return base45.encode(b) === s ? b : null;
}

// jsonOf turns decoded CBOR claim values into JSON values.
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
  if (isBytes(v)) return Buffer.from(v).toString('base64url');
  return v;
}

async function readShare(text, bundle, now) {
  if (typeof text !== 'string' || text.length > MAX_TEXT) refuse('malformed', `not a string of at most ${MAX_TEXT} characters`);
  if (!text.startsWith(PREFIX)) refuse('malformed', 'not an EIDC1: code');
  const raw = decode45(text.slice(PREFIX.length));
  if (!raw) refuse('malformed', 'not base45');
  const { protected: ph, payload } = await open(raw, bundle.attesters, 'unknown_key', 'the code');
  const attester = bundle.attesters.find((a) => hex(a.kid) === hex(ph.get(4)));
  const c = decodeCBOR(payload, 'malformed', "the code's CWT");
  const sh = isMap(c) ? c.get(-70001) : undefined;
  if (!isMap(c) || !isMap(sh)) refuse('malformed', "not a share's CWT");
  const s = { exp: c.get(4), iat: c.get(6), cti: c.get(7), type: sh.get(1), issuer: sh.get(2), status: sh.get(3),
    claims: sh.get(4), consent: sh.get(5) };
  if (!isInt(s.exp) || !isInt(s.iat) || !isBytes(s.cti) || s.cti.length < 8 || typeof s.type !== 'string' || s.type === '' ||
      typeof s.issuer !== 'string' || s.issuer === '' || !isMap(s.claims) || typeof s.consent !== 'boolean') {
    refuse('malformed', 'type, issuer, cti, claims and consent are required');
  }
  if (s.status !== undefined && !(Array.isArray(s.status) && s.status.length === 2 && s.status.every((n) => isInt(n) && n >= 0))) {
    refuse('malformed', 'status is [list, index]');
  }
  if (s.exp - s.iat > MAX_LIFETIME || s.exp <= s.iat) refuse('malformed', 'exp must be within 120 s after iat');
  if (now >= s.exp + SKEW) refuse('expired', 'the code has expired');
  if (now + SKEW < s.iat) refuse('not_yet_valid', 'the code is from the future');
  s.claims = jsonOf(s.claims);
  if (!attester.types.includes(s.type)) refuse('not_authorized_for_type', `the attestation key may not attest ${s.type}`);
  const is = bundle.issuers.find((i) => i.id === s.issuer);
  if (!is || !is.types.includes(s.type)) refuse('not_authorized_for_type', `the issuer is not one of the bundle's for ${s.type}`);
  return { s, is };
}

// readStatus is the status value of index in the issuer's list.
async function readStatus(bundle, is, list, index) {
  const sl = bundle.statusLists.find((l) => l.issuer === is.id && l.list === list);
  if (!sl) refuse('status_unknown', `the bundle has no status list ${is.id}/${list}`);
  const { protected: ph, payload } = await open(sl.cwt, is.keys, 'status_unknown', 'the status list');
  if (ph.get(16) !== TYP_STATUS_LIST) refuse('status_unknown', `status list typ is not ${TYP_STATUS_LIST}`);
  const c = decodeCBOR(payload, 'status_unknown', 'the status list');
  const uri = `${bundle.iss}/status-lists/${is.id}/${list}`;
  if (!isMap(c) || c.get(2) !== uri) refuse('status_unknown', `status list sub is not ${uri}`);
  const st = c.get(65533);
  const bits = isMap(st) ? st.get('bits') : undefined;
  const lst = isMap(st) ? st.get('lst') : undefined;
  if (![1, 2, 4, 8].includes(bits) || !isBytes(lst)) refuse('status_unknown', 'status_list is not {bits, lst}');
  let entries;
  try {
    entries = inflateSync(lst, { maxOutputLength: MAX_INFLATED });
  } catch (e) {
    return refuse('status_unknown', `lst does not inflate (${e.message})`);
  }
  const byte = Math.floor((index * bits) / 8);
  if (byte >= entries.length) refuse('status_unknown', 'status index out of range');
  return (entries[byte] >> ((index * bits) % 8)) & ((1 << bits) - 1);
}

async function verify(req) {
  const out = { valid: false, reason: '', claims: {}, type: '', issuer: '', status: null };
  try {
    const bundle = await readBundle(Buffer.from(req.bundle_b64, 'base64'), await keyFromJWK(req.service_jwk), req.now);
    const { s, is } = await readShare(req.code, bundle, req.now);
    Object.assign(out, { type: s.type, issuer: s.issuer, consent: s.consent, expires_at: s.exp });
    if (s.status !== undefined) {
      out.status = await readStatus(bundle, is, s.status[0], s.status[1]);
      const reason = { 1: 'credential_revoked', 2: 'credential_suspended' }[out.status] ?? (out.status === 0 ? '' : 'status_unknown');
      if (reason) refuse(reason, `status ${out.status}`);
    }
    out.claims = s.claims;
    out.valid = true;
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    out.reason = e.reason;
    out.detail = e.message;
  }
  return out;
}

async function main() {
  let req;
  try {
    const chunks = [];
    for await (const c of process.stdin) chunks.push(c);
    req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof req.code !== 'string' || typeof req.bundle_b64 !== 'string' || !isInt(req.now) || typeof req.service_jwk !== 'object') {
      throw new Error('want {"code", "bundle_b64", "service_jwk", "now"}');
    }
    await keyFromJWK(req.service_jwk);
  } catch (e) {
    process.stderr.write(`verify.mjs: ${e.message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(await verify(req)) + '\n');
}

await main();
