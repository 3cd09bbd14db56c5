// wallet.mjs is an independent OpenID for Verifiable Presentations 1.0 wallet
// that eidwallet's Go tests drive against eidwallet's verifier. The protocol
// logic is the OpenWallet Foundation's @openid4vc/openid4vp (resolve, create
// and submit), the query logic is the dcql package, and the presentation is
// made by @sd-jwt/sd-jwt-vc; this file only supplies their crypto callbacks
// and the checks they leave to the wallet.
//
// One JSON object on stdin:
//
//   {"link": "openid4vp://?client_id=...&request_uri=...&request_uri_method=post",
//    "credentials": [{"sdjwt": "<issuer-signed SD-JWT VC ending in ~>",
//                     "holder_jwk": {"kty": "EC", "crv": "P-256", "x": .., "y": .., "d": ..}}],
//    "trust_anchor_pem": "-----BEGIN CERTIFICATE-----...",
//    "tamper": ""}
//
// One JSON object on stdout:
//
//   {"ok": true, "status": 200, "body": {...}, "client_id": "...",
//    "request": {...verified request object payload...},
//    "disclosed": {"<query id>": ["given_name", "address.postal_code"]}, "error": ""}
//
// "disclosed" lists, per credential query, the dot-joined paths of the leaf
// claims the presentation was asked to disclose (array elements by index).
// ok is false (and nothing is sent) when the wallet refuses the request.
// With a tamper (see TAMPERS) the wallet still sends and reports the answer;
// "replay" adds "statuses" and "bodies" for the two submissions.
//
// TLS: the verifier's certificate comes from NODE_EXTRA_CA_CERTS.
// Install once: npm ci --prefix openid4vp/testdata/interop

import { X509Certificate, createHash, randomBytes, verify as cryptoVerify } from 'node:crypto';
import {
  createOpenid4vpAuthorizationResponse,
  extractEncryptionJwkFromJwks,
  parseOpenid4vpAuthorizationRequest,
  resolveOpenid4vpAuthorizationRequest,
  submitOpenid4vpAuthorizationResponse,
} from '@openid4vc/openid4vp';
import { DcqlQuery } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { CompactEncrypt, exportJWK, generateKeyPair, importJWK } from 'jose';

const TAMPERS = new Set([
  '', 'wrong_nonce', 'no_nonce', 'unprefixed_aud', 'old_iat', 'bad_sd_hash',
  'bad_issuer_signature', 'wrong_state', 'unknown_query_id', 'wrong_enc_key',
  'replay', 'decline',
]);
const REQUEST_TYP = 'oauth-authz-req+jwt';
const ENC_VALUES = ['A128GCM', 'A256GCM']; // the wallet's preference order

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const fromB64url = (s) => Buffer.from(s, 'base64url');
const decodePart = (part) => JSON.parse(fromB64url(part).toString('utf8'));
const sha256 = (data) => createHash('sha256').update(data).digest();
const nowSeconds = () => Math.floor(Date.now() / 1000);

// §14.8 (HTTP Redirects): the wallet never follows a redirect from
// the request_uri or the response_uri; a 3xx comes back to the caller as is
// (the library then fails the request_uri fetch on !response.ok).
// The library replaces a failed fetch's cause (say, a TLS error) with a
// generic message, so the wallet keeps the cause to report it.
const fetchFailures = [];
const noRedirectFetch = (url, init) => fetch(url, { ...init, redirect: 'manual' }).catch((e) => {
  fetchFailures.push(`fetch ${url}: ${e.cause?.message ?? e.message}`);
  throw e;
});

// walletMetadata is what the wallet POSTs as wallet_metadata (§5.10, §10). §5.10:
// request_object_signing_alg_values_supported MUST NOT be sent when the
// client id prefix precludes signed request objects (redirect_uri).
function walletMetadata(prefix) {
  const md = {
    vp_formats_supported: {
      'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] },
    },
    client_id_prefixes_supported: ['x509_san_dns', 'x509_hash', 'redirect_uri'],
    authorization_encryption_alg_values_supported: ['ECDH-ES'],
    authorization_encryption_enc_values_supported: ENC_VALUES,
  };
  if (prefix !== 'redirect_uri') md.request_object_signing_alg_values_supported = ['ES256'];
  return md;
}

// verifyChain checks the x5c chain (RFC 7515 §4.1.6: standard base64 DER,
// leaf first) up to the trust anchor: validity now, each certificate issued
// and signed by the next (a CA), the last one being or issued by the anchor.
// It returns the leaf. §5.9.3 x509_san_dns / x509_hash: "The Wallet MUST
// validate the signature and the trust chain".
function verifyChain(x5c, anchorPem) {
  if (!Array.isArray(x5c) || x5c.length === 0) throw new Error('request object has no x5c');
  const certs = x5c.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  const anchor = new X509Certificate(anchorPem);
  const now = new Date();
  for (const c of [...certs, anchor]) {
    if (now < new Date(c.validFrom) || now > new Date(c.validTo)) {
      throw new Error(`certificate ${c.subject} is not valid now`);
    }
  }
  const issuedBy = (child, parent) =>
    parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!issuedBy(certs[i], certs[i + 1])) throw new Error(`x5c[${i}] is not issued by x5c[${i + 1}]`);
  }
  const last = certs[certs.length - 1];
  if (last.fingerprint256 !== anchor.fingerprint256 && !issuedBy(last, anchor)) {
    throw new Error('x5c chain does not end at the trust anchor');
  }
  return certs[0];
}

// callbacks are the library's CallbackContext for the wallet side.
function walletCallbacks(anchorPem) {
  return {
    fetch: noRedirectFetch,
    hash: (data, alg) => createHash(alg.replace('-', '')).update(data).digest(),
    // Only x5c-signed request objects are accepted; the library picks the
    // signer from the header (x5c) and the client id prefix.
    verifyJwt: async (signer, { header, compact }) => {
      if (signer.method !== 'x5c') throw new Error(`request object signer ${signer.method} is not x5c`);
      if (header.alg !== 'ES256') throw new Error(`request object alg ${header.alg} is not ES256`);
      const leaf = verifyChain(signer.x5c, anchorPem);
      const [h, p, s] = compact.split('.');
      const verified = cryptoVerify('sha256', Buffer.from(`${h}.${p}`),
        { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, fromB64url(s));
      return { verified, signerJwk: leaf.publicKey.export({ format: 'jwk' }) };
    },
    // The library compares these to the client id (x509_san_dns).
    getX509CertificateMetadata: (b64) => {
      const san = (new X509Certificate(Buffer.from(b64, 'base64')).subjectAltName ?? '').split(', ');
      const names = (tag) => san.filter((e) => e.startsWith(tag)).map((e) => e.slice(tag.length));
      return { sanDnsNames: names('DNS:'), sanUriNames: names('URI:') };
    },
    decryptJwe: async () => ({ decrypted: false }), // encrypted request objects are not supported
    encryptJwe,
  };
}

// encryptJwe makes the direct_post.jwt response (§8.3): ECDH-ES to the
// verifier's key, the key's kid in the JWE header, apu/apv as the library
// hands them over (it always sets apv = base64url(nonce)).
async function encryptJwe({ publicJwk, alg, enc, apu, apv }, data) {
  const header = { alg, enc };
  if (publicJwk.kid) header.kid = publicJwk.kid;
  const jwe = new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(header);
  const kdf = {};
  if (apu) kdf.apu = fromB64url(apu);
  if (apv) kdf.apv = fromB64url(apv);
  if (apu || apv) jwe.setKeyManagementParameters(kdf);
  return { jwe: await jwe.encrypt(await importJWK(publicJwk, alg)), encryptionJwk: publicJwk };
}

// fetchUnsignedRequest handles a redirect_uri: client id by reference. §5.9.3:
// such requests cannot be signed, so the verifier serves an unsecured JWT
// (RFC 7519 §6, alg none). The library refuses alg none in
// any JWT header and needs a non-empty signature, so the wallet fetches and
// decodes it here, with the same §5.10 rules the library applies to signed ones.
async function fetchUnsignedRequest(params, post, walletNonce) {
  const headers = { Accept: 'application/oauth-authz-req+jwt' };
  const init = { method: 'GET', headers };
  if (post) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.method = 'POST';
    init.body = new URLSearchParams({
      wallet_metadata: JSON.stringify(walletMetadata('redirect_uri')),
      wallet_nonce: walletNonce,
    }).toString();
  }
  const res = await noRedirectFetch(params.request_uri, init);
  if (res.status !== 200) throw new Error(`request_uri answered HTTP ${res.status}`); // §5.10.2
  const parts = (await res.text()).trim().split('.');
  if (parts.length !== 3) throw new Error('request object is not a JWT');
  const header = decodePart(parts[0]);
  if (header.alg !== 'none' || parts[2] !== '') {
    throw new Error('redirect_uri: the request object MUST NOT be signed (§5.9.3)');
  }
  if (header.typ !== REQUEST_TYP) throw new Error(`request object typ ${header.typ} (§5)`);
  const payload = decodePart(parts[1]);
  if (typeof payload.exp === 'number' && payload.exp < nowSeconds()) throw new Error('request object expired');
  if (payload.client_id !== params.client_id) {
    throw new Error('client_id of the link and of the request object differ (§5.10.1)');
  }
  return payload;
}

// resolve fetches and verifies the request (§5, §5.9, §5.10) and returns the
// library's resolved request.
async function resolve(link, anchorPem) {
  const parsed = parseOpenid4vpAuthorizationRequest({ authorizationRequest: link });
  const params = parsed.params;
  const prefix = String(params.client_id ?? '').split(':')[0];
  const post = params.request_uri_method === 'post';
  const walletNonce = b64url(randomBytes(16));
  const callbacks = walletCallbacks(anchorPem);
  // With expectedNonce the library requires the request object's wallet_nonce
  // to equal it (§5.10.1). Its POST body is objectToQueryParams(metadata), so
  // the metadata given here is the form itself: wallet_metadata as a JSON
  // string and wallet_nonce (the library would otherwise post the metadata's
  // members as top-level fields and no wallet_nonce).
  const wallet = post
    ? { expectedNonce: walletNonce, metadata: { wallet_metadata: walletMetadata(prefix), wallet_nonce: walletNonce } }
    : {};
  let payload = params;
  if (prefix === 'redirect_uri' && parsed.type === 'jar' && params.request_uri) {
    payload = await fetchUnsignedRequest(params, post, walletNonce);
  }
  const resolved = await resolveOpenid4vpAuthorizationRequest({
    authorizationRequestPayload: payload,
    wallet,
    callbacks,
  });
  // §5: the library skips the typ check when it infers a pre-24 draft.
  if (resolved.jar && resolved.jar.jwt.header.typ !== REQUEST_TYP) {
    throw new Error(`request object typ ${resolved.jar.jwt.header.typ} (§5)`);
  }
  if (!['x509_san_dns', 'x509_hash', 'redirect_uri'].includes(resolved.client.prefix)) {
    throw new Error(`client id prefix ${resolved.client.prefix} is not supported`);
  }
  if (prefix !== 'redirect_uri' && !resolved.jar) throw new Error(`${prefix}: the request must be signed`);
  const req = resolved.authorizationRequestPayload;
  if (!req.response_uri) throw new Error('request has no response_uri');
  if (!resolved.dcql) throw new Error('request has no dcql_query');
  // §5: a wallet that does not support transaction_data MUST reject it.
  if (req.transaction_data) throw new Error('transaction_data is not supported');
  return { resolved, req };
}

// frameFromSelection turns dcql's output for a claim set (the credential's
// claims reduced to the selected ones; arrays padded with null where an
// element was not selected) into an @sd-jwt presentation frame.
function frameFromSelection(node) {
  if (Array.isArray(node)) {
    const frame = {};
    node.forEach((v, i) => { if (v !== null) frame[i] = frameFromSelection(v); });
    return frame;
  }
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, frameFromSelection(v)]));
  }
  return true;
}

function leafPaths(frame, prefix = []) {
  return Object.entries(frame).flatMap(([k, v]) =>
    v === true || Object.keys(v).length === 0 ? [[...prefix, k].join('.')] : leafPaths(v, [...prefix, k]));
}

// select evaluates the DCQL query (§6.4) and returns, per credential query
// to answer, the chosen credentials with their presentation frames, or null
// when the query cannot be satisfied.
async function select(dcqlQuery, credentials) {
  const query = DcqlQuery.parse(dcqlQuery);
  DcqlQuery.validate(query);
  const decoder = new SDJwtVcInstance({ hasher: digest, hashAlg: 'sha-256' });
  const dcqlCredentials = await Promise.all(credentials.map(async (c) => {
    const claims = await decoder.getClaims(c.sdjwt);
    const typ = decodePart(c.sdjwt.split('.')[0]).typ;
    return {
      credential_format: typ === 'vc+sd-jwt' ? 'vc+sd-jwt' : 'dc+sd-jwt',
      vct: claims.vct,
      claims,
      cryptographic_holder_binding: Boolean(claims.cnf),
    };
  }));
  const result = DcqlQuery.query(query, dcqlCredentials);
  if (!result.can_be_satisfied) return null;
  // §6.4.2: every required credential set, and any optional one that can be
  // met, each by its first satisfiable option; without sets, every query.
  const ids = query.credential_sets
    ? result.credential_sets.flatMap((set) => set.matching_options?.[0] ?? [])
    : query.credentials.map((cq) => cq.id);
  const chosen = {};
  for (const id of new Set(ids)) {
    const cq = query.credentials.find((q) => q.id === id);
    const valid = result.credential_matches[id].valid_credentials;
    // §6.1 multiple; §6.4.1: the first claim set that can be satisfied.
    chosen[id] = (cq.multiple ? valid : valid.slice(0, 1)).map((vc) => ({
      index: vc.input_credential_index,
      frame: frameFromSelection(vc.claims.valid_claim_sets[0].output),
    }));
  }
  return chosen;
}

// flipIssuerSignature flips one byte of the issuer-signed JWT's signature.
function flipIssuerSignature(sdjwt) {
  const [jwt, ...rest] = sdjwt.split('~');
  const [h, p, s] = jwt.split('.');
  const sig = fromB64url(s);
  sig[0] ^= 0x01;
  return [`${h}.${p}.${b64url(sig)}`, ...rest].join('~');
}

// present makes one SD-JWT+KB (Appendix B.3.6: aud = the full client id,
// nonce = the request's nonce; RFC 9901 §4.3: iat, sd_hash).
async function present(credential, frame, req, clientId, tamper) {
  const signer = await ES256.getSigner(credential.holder_jwk);
  const sdjwt = new SDJwtVcInstance({ hasher: digest, hashAlg: 'sha-256', kbSigner: signer, kbSignAlg: 'ES256' });
  const kb = { iat: nowSeconds(), aud: clientId, nonce: req.nonce };
  if (tamper === 'wrong_nonce') kb.nonce = b64url(randomBytes(16));
  if (tamper === 'no_nonce') delete kb.nonce;
  if (tamper === 'unprefixed_aud') kb.aud = clientId.slice(clientId.indexOf(':') + 1);
  if (tamper === 'old_iat') kb.iat -= 365 * 24 * 3600;
  const source = tamper === 'bad_issuer_signature' ? flipIssuerSignature(credential.sdjwt) : credential.sdjwt;
  let presentation = await sdjwt.present(source, frame, { kb: { payload: kb } });
  if (tamper === 'bad_sd_hash') {
    // The library always sets sd_hash itself; re-sign its KB-JWT with a wrong one.
    const parts = presentation.split('~');
    const [h, p] = parts.pop().split('.');
    const payload = { ...decodePart(p), sd_hash: b64url(sha256('not this presentation')) };
    const input = `${h}.${b64url(JSON.stringify(payload))}`;
    presentation = [...parts, `${input}.${await signer(input)}`].join('~');
  }
  return presentation;
}

async function readAnswer(res) {
  const text = await res.text();
  try { return JSON.parse(text); } catch { return text === '' ? null : text; }
}

// sendError posts an Authorization Error Response (§8.5) as a plain form
// (§8.2); §8.3.1 lets a direct_post.jwt wallet send it unencrypted.
async function sendError(req, error, description) {
  const form = new URLSearchParams({ error, error_description: description });
  if (req.state !== undefined) form.set('state', req.state);
  return noRedirectFetch(req.response_uri, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
}

async function run(input) {
  const tamper = input.tamper ?? '';
  if (!TAMPERS.has(tamper)) throw new Error(`unknown tamper ${tamper}`);
  const { resolved, req } = await resolve(input.link, input.trust_anchor_pem);
  const clientId = resolved.client.effective; // §14.10: always the full client id
  const out = { ok: true, status: 0, body: null, client_id: clientId, request: req, disclosed: {}, error: '' };

  const chosen = await select(resolved.dcql.query, input.credentials);
  if (tamper === 'decline' || chosen === null) {
    const res = await sendError(req, 'access_denied', chosen === null
      ? 'no credential matches the dcql_query' : 'the End-User declined');
    return { ...out, status: res.status, body: await readAnswer(res) };
  }

  let vpToken = {};
  for (const [id, picks] of Object.entries(chosen)) {
    vpToken[id] = [];
    for (const { index, frame } of picks) {
      vpToken[id].push(await present(input.credentials[index], frame, req, clientId, tamper));
      out.disclosed[id] = [...new Set([...(out.disclosed[id] ?? []), ...leafPaths(frame)])];
    }
  }
  if (tamper === 'unknown_query_id') {
    vpToken = Object.fromEntries(Object.entries(vpToken).map(([id, v]) => [`unknown_${id}`, v]));
  }

  // §8.3: for direct_post.jwt the library picks the key from
  // client_metadata.jwks, enc from encrypted_response_enc_values_supported
  // (default A128GCM) and alg from the key (default ECDH-ES).
  let jarm;
  if (req.response_mode === 'direct_post.jwt') {
    const encryption = {};
    if (tamper === 'wrong_enc_key') {
      // the key the library would pick, so the kid matches it
      const theirs = extractEncryptionJwkFromJwks(req.client_metadata?.jwks ?? { keys: [] }, { supportedAlgValues: ['ECDH-ES'] });
      const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
      encryption.jwk = { ...(await exportJWK(publicKey)), alg: 'ECDH-ES', use: 'enc', kid: theirs?.kid };
    }
    jarm = {
      encryption,
      serverMetadata: {
        authorization_signing_alg_values_supported: [],
        authorization_encryption_alg_values_supported: ['ECDH-ES'],
        authorization_encryption_enc_values_supported: ENC_VALUES,
      },
    };
  }
  const response = await createOpenid4vpAuthorizationResponse({
    // The library copies state from the request; wrong_state feeds it another.
    authorizationRequestPayload: tamper === 'wrong_state' ? { ...req, state: `wrong-${b64url(randomBytes(8))}` } : req,
    authorizationResponsePayload: { vp_token: vpToken },
    jarm,
    callbacks: walletCallbacks(input.trust_anchor_pem),
  });
  const submit = async () => {
    const { response: res } = await submitOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: req,
      authorizationResponsePayload: response.authorizationResponsePayload,
      jarm: response.jarm,
      callbacks: { fetch: noRedirectFetch },
    });
    return { status: res.status, body: await readAnswer(res) };
  };
  const first = await submit();
  Object.assign(out, first);
  if (tamper === 'replay') {
    const second = await submit();
    out.statuses = [first.status, second.status];
    out.bodies = [first.body, second.body];
  }
  return out;
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  let out;
  try {
    out = await run(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  } catch (e) {
    const error = [String(e?.message ?? e), ...fetchFailures].join('\n');
    out = { ok: false, status: 0, body: null, client_id: '', request: null, disclosed: {}, error };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
