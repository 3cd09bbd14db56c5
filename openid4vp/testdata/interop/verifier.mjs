// verifier.mjs is an independent OpenID for Verifiable Presentations 1.0
// verifier that eidwallet's Go tests stand on the other side of eidwallet's
// wallet side. The request is made by the OpenWallet Foundation's
// @openid4vc/openid4vp (createOpenid4vpAuthorizationRequest: a signed JAR
// with x5c), the response is parsed by it (parseOpenid4vpAuthorizationResponse:
// decryption, state, vp_token by DCQL query id), each presentation is
// verified by @sd-jwt/sd-jwt-vc (issuer signature, disclosures, KB-JWT
// signature, nonce and sd_hash, status list) and the set of them by dcql;
// this file adds the checks those leave to the verifier (named below).
//
// One JSON object on stdin (read until it parses, or to EOF):
//
//   {"tls_cert_pem", "tls_key_pem",            HTTPS on 127.0.0.1, URLs use host localhost
//    "port": 0,                                0: pick one
//    "client_id_prefix": "x509_san_dns" | "x509_hash",
//    "signing": {"cert_chain_pem": [leaf, ca...], "key_pem"},   the request object signer
//    "response_mode": "direct_post" | "direct_post.jwt",
//    "request_uri_method": "get" | "post",
//    "dcql_query": {...},                      every credential query of format dc+sd-jwt
//    "issuer_jwks": {"keys": [...]}, "issuer": "<iss>",          the one trusted issuer
//    "status": "ignore" | "check",             check: fetch status.status_list.uri (NODE_EXTRA_CA_CERTS)
//    "tamper": "" | "bad_signature" | "wrong_client_id" | "client_id_mismatch"
//            | "no_wallet_nonce_echo" | "transaction_data" | "redirect" | "expired",
//    "enc_values": ["A128GCM", ...],           optional: encrypted_response_enc_values_supported
//    "timeout_seconds": 60}                    optional: how long to wait for the response (default 60)
//
// Stdout, line 1 at once (the server is listening):
//
//   {"link": "openid4vp://?client_id=...&request_uri=...[&request_uri_method=post]",
//    "port": N, "client_id": "...", "nonce": "...", "state": "...",
//    "request_uri": "...", "response_uri": "..."}
//
// Line 2 once the wallet has posted to response_uri (answered 200 {} when
// valid, else 400 {"error": "invalid_request", "error_description", "reason"}),
// or after timeout_seconds or on SIGTERM/SIGINT with "received": false:
//
//   {"received": true, "valid": bool, "error": "<code>", "error_description": "...",
//    "claims": {"<query id>": {...}}, "kb": {...}, "presentations": {"<query id>": [...]},
//    "form_keys": [...], "jwe_header": {...} | null, "wallet_nonce_received": "...",
//    "request_fetches": [...], "status_list_fetches": N}
//
// then exits 0. "error" is "" when valid, the wallet's own error code for an
// error response (§8.5, e.g. access_denied; answered 200 {}, plain or
// encrypted), else the code of the first check that failed:
//   invalid_response, response_mode_mismatch, decryption_failed, state_mismatch,
//   dcql_unsatisfied, invalid_presentation, invalid_credential, unsupported_alg,
//   untrusted_issuer, invalid_signature, credential_expired, kb_invalid,
//   kb_nonce_mismatch, kb_aud_mismatch, kb_iat_out_of_window (iat within
//   -300 s..+60 s), kb_sd_hash_mismatch, transaction_data_mismatch,
//   credential_revoked, credential_suspended, credential_invalid_status,
//   status_unavailable, verifier_error (a bug here).
// A configuration error prints {"error": "config: ..."} as line 1 and exits 2.

import { X509Certificate, createHash, createPrivateKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { createServer } from 'node:https';
import {
  calculateX509HashClientIdPrefixValue,
  createOpenid4vpAuthorizationRequest,
  parseOpenid4vpAuthorizationResponse,
  Openid4vpVerifier,
} from '@openid4vc/openid4vp';
import { DcqlPresentationResult, DcqlQuery } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

const TAMPERS = new Set([
  '', 'bad_signature', 'wrong_client_id', 'client_id_mismatch', 'no_wallet_nonce_echo',
  'transaction_data', 'redirect', 'expired',
]);
const SELF_ISSUED = 'https://self-issued.me/v2'; // §5.8: aud with static discovery
const KB_MAX_AGE = 300; // seconds a KB-JWT's iat may lie in the past
const KB_MAX_FUTURE = 60; // and in the future (clock skew)
// SPEC §2: never selectively disclosed, so not part of "claims".
const FIXED = new Set(['iss', 'vct', 'vct#integrity', 'iat', 'nbf', 'exp', 'cnf', 'status', '_sd_alg']);

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const jsonPart = (obj) => b64url(JSON.stringify(obj));
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const sha256 = (data) => createHash('sha256').update(data).digest();
const nowSeconds = () => Math.floor(Date.now() / 1000);

// Failure is a check that failed, with the stable code the Go test asserts.
class Failure extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const fail = (code, message) => { throw new Failure(code, message); };

// as runs a library step and turns what it throws into a Failure: code is
// a fixed code or a function of the library's message.
async function as(code, step) {
  try {
    return await step();
  } catch (e) {
    if (e instanceof Failure) throw e;
    const message = String(e?.message ?? e);
    throw new Failure(typeof code === 'function' ? code(message) : code, message);
  }
}

// ---- configuration ----------------------------------------------------------

function parseConfig(c) {
  const bad = (m) => { throw new Error(`config: ${m}`); };
  if (typeof c !== 'object' || c === null) bad('not an object');
  for (const k of ['tls_cert_pem', 'tls_key_pem', 'issuer']) if (typeof c[k] !== 'string' || !c[k]) bad(`${k} missing`);
  if (!['x509_san_dns', 'x509_hash'].includes(c.client_id_prefix)) bad(`client_id_prefix ${c.client_id_prefix}`);
  if (!['direct_post', 'direct_post.jwt'].includes(c.response_mode)) bad(`response_mode ${c.response_mode}`);
  const method = c.request_uri_method ?? 'get';
  if (!['get', 'post'].includes(method)) bad(`request_uri_method ${method}`);
  const status = c.status ?? 'ignore';
  if (!['ignore', 'check'].includes(status)) bad(`status ${status}`);
  const tamper = c.tamper ?? '';
  if (!TAMPERS.has(tamper)) bad(`unknown tamper ${tamper}`);
  if (tamper === 'no_wallet_nonce_echo' && method !== 'post') bad('no_wallet_nonce_echo needs request_uri_method post');
  const chain = c.signing?.cert_chain_pem;
  if (!Array.isArray(chain) || chain.length === 0 || typeof c.signing?.key_pem !== 'string') bad('signing.cert_chain_pem / key_pem');
  if (!Array.isArray(c.issuer_jwks?.keys) || c.issuer_jwks.keys.length === 0) bad('issuer_jwks has no keys');
  let query;
  try {
    query = DcqlQuery.parse(c.dcql_query);
    DcqlQuery.validate(query);
  } catch (e) {
    bad(`dcql_query: ${e.message}`);
  }
  for (const cq of query.credentials) if (cq.format !== 'dc+sd-jwt') bad(`credential query ${cq.id}: format ${cq.format}`);
  const port = c.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`port ${port}`);
  const timeout = c.timeout_seconds ?? 60;
  if (typeof timeout !== 'number' || timeout <= 0 || timeout > 600) bad(`timeout_seconds ${timeout}`);
  if (c.enc_values !== undefined && (!Array.isArray(c.enc_values) || c.enc_values.length === 0)) bad('enc_values');
  const certs = chain.map((pem) => new X509Certificate(pem));
  const key = createPrivateKey(c.signing.key_pem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') bad('signing key is not P-256');
  if (!certs[0].checkPrivateKey(key)) bad('signing key does not match the leaf certificate');
  return {
    ...c, method, status, tamper, port, timeout, query, certs, key,
    encValues: c.enc_values ?? ['A128GCM'], // §8.3: A128GCM when not set
  };
}

// clientIds returns the client id the request is signed for (§5.9.3), and
// the one the tamper makes the wallet see.
async function clientIds(cfg) {
  const leaf = cfg.certs[0];
  let id;
  if (cfg.client_id_prefix === 'x509_san_dns') {
    const dns = (leaf.subjectAltName ?? '').split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4));
    if (dns.length === 0) throw new Error('config: the leaf certificate has no DNS SAN (x509_san_dns)');
    id = `x509_san_dns:${dns[0]}`;
  } else {
    id = `x509_hash:${await calculateX509HashClientIdPrefixValue({ x509Certificate: leaf.raw, hash: (d) => sha256(d) })}`;
  }
  let wrong;
  if (cfg.client_id_prefix === 'x509_san_dns') wrong = 'x509_san_dns:verifier.example';
  else wrong = `x509_hash:${b64url(sha256(cfg.certs[1]?.raw ?? 'not the leaf'))}`; // another certificate's hash
  return {
    signed: cfg.tamper === 'wrong_client_id' ? wrong : id, // client_id in the request object
    link: cfg.tamper === 'wrong_client_id' || cfg.tamper === 'client_id_mismatch' ? wrong : id,
  };
}

// ---- the verifier ------------------------------------------------------------

class Verifier {
  constructor(cfg) {
    this.cfg = cfg;
    this.id = b64url(randomBytes(12));
    this.fetches = [];
    this.walletNonce = '';
    this.statusFetches = 0;
    this.done = false;
  }

  async start() {
    const cfg = this.cfg;
    this.server = createServer({ key: cfg.tls_key_pem, cert: cfg.tls_cert_pem }, (req, res) => {
      this.route(req, res).catch((e) => send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) }));
    });
    await new Promise((ok, ko) => {
      this.server.once('error', ko);
      this.server.listen(cfg.port, '127.0.0.1', ok);
    });
    this.port = this.server.address().port;
    const base = `https://localhost:${this.port}`;
    this.requestUri = `${base}/request/${this.id}`;
    this.responseUri = `${base}/response/${this.id}`;
    const ids = await clientIds(cfg);
    this.clientId = ids.signed;

    const clientMetadata = {
      vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
    };
    if (cfg.response_mode === 'direct_post.jwt') {
      // §8.3: a fresh ECDH-ES P-256 key; the wallet puts its kid in the JWE header.
      const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
      this.encKey = privateKey;
      this.encKid = b64url(randomBytes(8));
      clientMetadata.jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: this.encKid, use: 'enc', alg: 'ECDH-ES' }] };
      if (cfg.enc_values) clientMetadata.encrypted_response_enc_values_supported = cfg.enc_values;
    }
    this.request = {
      response_type: 'vp_token',
      client_id: this.clientId,
      response_uri: this.responseUri,
      response_mode: cfg.response_mode,
      nonce: b64url(randomBytes(16)),
      state: b64url(randomBytes(16)),
      dcql_query: cfg.dcql_query,
      client_metadata: clientMetadata,
    };
    if (cfg.tamper === 'transaction_data') {
      // §5.1 transaction_data: a type no wallet knows, so a wallet MUST refuse (§8.5 invalid_transaction_data).
      this.request.transaction_data = [jsonPart({
        type: 'urn:eidwallet:test:unknown-transaction-type',
        credential_ids: [cfg.query.credentials[0].id],
        amount: '42.00 EUR',
      })];
    }

    const made = await this.requestObject(undefined);
    let link = made.link;
    if (ids.link !== ids.signed) {
      link = link.replace(/client_id=[^&]*/, `client_id=${encodeURIComponent(ids.link)}`);
    }
    // The library validates request_uri_method only as upper case GET/POST
    // (the spec's values are get/post, §5.10), so it is added to the link here.
    if (cfg.method === 'post') link += '&request_uri_method=post';
    this.linkClientId = ids.link;
    this.link = link;
  }

  // requestObject signs the request object with the library (§5.10.1:
  // wallet_nonce only after a POST that carried one) and applies the tamper.
  async requestObject(walletNonce) {
    const cfg = this.cfg;
    const echo = walletNonce && cfg.tamper !== 'no_wallet_nonce_echo' ? walletNonce : undefined;
    const payload = echo ? { ...this.request, wallet_nonce: echo } : this.request;
    const jar = {
      requestUri: this.requestUri,
      jwtSigner: { method: 'x5c', alg: 'ES256', x5c: cfg.certs.map((c) => c.raw.toString('base64')) },
      expiresInSeconds: 300,
      additionalJwtPayload: { aud: SELF_ISSUED },
    };
    if (cfg.tamper === 'expired') jar.now = new Date(Date.now() - 600_000); // iat -600 s, exp -300 s
    const made = await createOpenid4vpAuthorizationRequest({
      authorizationRequestPayload: payload,
      wallet: echo ? { expectedNonce: echo } : undefined,
      jar,
      callbacks: { signJwt: (signer, j) => this.signJwt(signer, j) },
    });
    let jwt = made.jar.authorizationRequestJwt;
    if (cfg.tamper === 'bad_signature') {
      const [h, p, s] = jwt.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length - 1] ^= 0x01;
      jwt = `${h}.${p}.${b64url(sig)}`;
    }
    return { link: made.authorizationRequest, jwt };
  }

  // signJwt is the library's callback: ES256 (RFC 7518 §3.4, r||s) by the leaf's key.
  async signJwt(_signer, { header, payload }) {
    const input = `${jsonPart(header)}.${jsonPart(payload)}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: this.cfg.key, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${input}.${b64url(sig)}`, signerJwk: this.cfg.certs[0].publicKey.export({ format: 'jwk' }) };
  }

  async route(req, res) {
    const url = new URL(req.url, `https://localhost:${this.port}`);
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[1] !== this.id) return send(res, 404, { error: 'not_found' });
    const text = await body(req);
    if (parts[0] === 'request' && (parts.length === 2 || (parts.length === 3 && parts[2] === 'moved'))) {
      return this.serveRequest(req, res, text, parts.length === 3);
    }
    if (parts[0] === 'response' && parts.length === 2) {
      if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { Allow: 'POST' });
      return this.receive(req, res, text);
    }
    return send(res, 404, { error: 'not_found' });
  }

  // serveRequest answers the request_uri (§5.10, §5.10.1). Every fetch is
  // recorded, so a test can tell a refusal from a wallet that never asked.
  async serveRequest(req, res, text, moved) {
    const fetch = {
      method: req.method,
      path: moved ? 'moved' : 'request',
      content_type: req.headers['content-type'] ?? '',
      accept: req.headers.accept ?? '',
      form_keys: [],
      wallet_metadata: null,
      wallet_nonce: '',
      status: 200,
    };
    this.fetches.push(fetch);
    const answer = (status, obj) => { fetch.status = status; return send(res, status, obj); };
    if (this.cfg.tamper === 'redirect' && !moved) {
      // §14.8 (HTTP redirects): a wallet MUST NOT follow it; the target
      // serves the real request object, so following would show in fetches.
      fetch.status = 302;
      res.writeHead(302, { Location: `${this.requestUri}/moved`, 'Cache-Control': 'no-store' });
      return res.end();
    }
    let walletNonce;
    if (req.method === 'POST') {
      if (!fetch.content_type.startsWith('application/x-www-form-urlencoded')) {
        return answer(400, { error: 'invalid_request', error_description: 'request_uri POST must be application/x-www-form-urlencoded (§5.10)' });
      }
      const form = new URLSearchParams(text);
      fetch.form_keys = [...new Set(form.keys())].sort();
      if (form.has('wallet_metadata')) {
        try {
          fetch.wallet_metadata = JSON.parse(form.get('wallet_metadata'));
        } catch {
          return answer(400, { error: 'invalid_request', error_description: 'wallet_metadata is not a JSON object (§5.10)' });
        }
        if (typeof fetch.wallet_metadata !== 'object' || fetch.wallet_metadata === null || Array.isArray(fetch.wallet_metadata)) {
          return answer(400, { error: 'invalid_request', error_description: 'wallet_metadata is not a JSON object (§5.10)' });
        }
      }
      walletNonce = form.get('wallet_nonce') ?? undefined;
      fetch.wallet_nonce = walletNonce ?? '';
      if (walletNonce) this.walletNonce = walletNonce;
    } else if (req.method !== 'GET') {
      return answer(405, { error: 'method_not_allowed' });
    }
    const { jwt } = await this.requestObject(walletNonce);
    res.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt', 'Cache-Control': 'no-store' });
    return res.end(jwt);
  }

  // receive takes the one authorization response (§8.2, §8.3) and ends the run.
  async receive(req, res, text) {
    if (this.done) return send(res, 400, { error: 'invalid_request', error_description: 'a response was already received' });
    this.done = true; // §14.2: one response per request; set before any await
    const contentType = req.headers['content-type'] ?? '';
    const form = new URLSearchParams(text);
    const out = {
      received: true,
      valid: false,
      error: '',
      error_description: '',
      claims: {},
      kb: {},
      presentations: {},
      form_keys: [...new Set(form.keys())].sort(),
      jwe_header: null,
      wallet_nonce_received: this.walletNonce,
      request_fetches: this.fetches,
      status_list_fetches: 0,
    };
    let status = 200;
    let answer = {};
    try {
      if (!contentType.startsWith('application/x-www-form-urlencoded')) {
        fail('invalid_response', `content type ${contentType} is not application/x-www-form-urlencoded (§8.2)`);
      }
      if (form.has('error')) {
        // §8.5 error response; §8.3.1 lets it come unencrypted in direct_post.jwt.
        out.error = form.get('error');
        out.error_description = form.get('error_description') ?? '';
        out.state_matches = form.get('state') === this.request.state;
      } else {
        Object.assign(out, await this.validate(form, out));
        out.valid = true;
      }
    } catch (caught) {
      // A bug here still ends the run with a report rather than a timeout.
      const e = caught instanceof Failure ? caught : new Failure('verifier_error', String(caught?.stack ?? caught));
      const inner = encryptedError(this.decrypted, this.request.state);
      if (inner) { // §8.5 error response, sent encrypted (direct_post.jwt)
        Object.assign(out, inner);
        return this.reply(res, 200, {}, out);
      }
      out.error = e.code;
      out.error_description = e.message;
      status = 400;
      answer = { error: 'invalid_request', error_description: `${e.code}: ${e.message}`, reason: e.code };
    }
    return this.reply(res, status, answer, out);
  }

  // reply answers the wallet, then prints the report and ends the run.
  reply(res, status, answer, out) {
    out.status_list_fetches = this.statusFetches;
    if (!out.valid) { out.claims = {}; out.kb = {}; out.presentations = {}; }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(answer), () => finish(out));
  }

  // validate checks one authorization response (§8.6) and returns what goes
  // into the report; it throws a Failure naming the first check that failed.
  async validate(form, out) {
    const cfg = this.cfg;
    const jwt = cfg.response_mode === 'direct_post.jwt';
    for (const k of new Set(form.keys())) {
      if (form.getAll(k).length > 1) fail('invalid_response', `form parameter ${k} repeated`);
    }
    // §8.3: direct_post.jwt carries only the encrypted "response"; §8.2 direct_post the parameters themselves.
    if (jwt && (!form.has('response') || form.has('vp_token'))) fail('response_mode_mismatch', 'direct_post.jwt: expected only an encrypted "response"');
    if (!jwt && form.has('response')) fail('response_mode_mismatch', 'direct_post: a "response" JWT was not asked for');
    if (!jwt && !form.has('vp_token')) fail('invalid_response', 'no vp_token');

    const parsed = await as((m) => (/state mismatch/i.test(m) ? 'state_mismatch'
      : /response mode/i.test(m) ? 'response_mode_mismatch'
        : /decrypt|jwe/i.test(m) ? 'decryption_failed' : 'invalid_response'), () => parseOpenid4vpAuthorizationResponse({
      authorizationResponse: Object.fromEntries(form),
      authorizationRequestPayload: this.request,
      callbacks: {
        decryptJwe: async (jwe) => {
          out.jwe_header = await as('decryption_failed', () => decodeProtectedHeader(jwe));
          const { plaintext, protectedHeader } = await as('decryption_failed', () => compactDecrypt(jwe, this.encKey, {
            keyManagementAlgorithms: ['ECDH-ES'],
            contentEncryptionAlgorithms: cfg.encValues,
          }));
          out.jwe_header = protectedHeader;
          this.decrypted = new TextDecoder().decode(plaintext);
          // §8.3: the JWE carries the kid of the key it was encrypted to.
          if (protectedHeader.kid !== this.encKid) fail('decryption_failed', `jwe kid ${protectedHeader.kid} is not ours`);
          return { decrypted: true, payload: this.decrypted };
        },
        // §8.3: an unsigned, encrypted JWT; a signed one is not accepted.
        verifyJwt: async () => fail('invalid_response', 'signed responses are not accepted'),
      },
    }));
    // The library checks state only when the request has one; this one always does.
    if (parsed.authorizationResponsePayload.state !== this.request.state) fail('state_mismatch', 'state differs from the request');
    if (parsed.type !== 'dcql') fail('invalid_response', `not a DCQL response (${parsed.type})`);

    const query = cfg.query;
    const presentations = parsed.dcql.presentations;
    const verified = {};
    for (const [id, list] of Object.entries(presentations)) {
      // §8.1: vp_token keys are the query ids; §6.1 multiple (default false).
      const cq = query.credentials.find((q) => q.id === id);
      if (!cq) fail('dcql_unsatisfied', `vp_token has an unknown query id ${id}`);
      if (list.length > 1 && !cq.multiple) fail('dcql_unsatisfied', `query ${id} is not multiple but got ${list.length} presentations`);
      verified[id] = [];
      for (const p of list) {
        if (typeof p !== 'string') fail('invalid_presentation', `query ${id}: a dc+sd-jwt presentation is a string`);
        verified[id].push(await this.verifyPresentation(p));
      }
    }

    // §6.4 / §8.6: the presentations, as verified, satisfy the query.
    const asDcql = Object.fromEntries(Object.entries(verified).map(([id, list]) => [id, list.map((v) => ({
      credential_format: 'dc+sd-jwt', vct: v.payload.vct, claims: v.payload, cryptographic_holder_binding: true,
    }))]));
    const result = await as('dcql_unsatisfied', () => DcqlPresentationResult.fromDcqlPresentation(asDcql, { dcqlQuery: query }));
    if (!result.can_be_satisfied) fail('dcql_unsatisfied', 'the presentations do not satisfy the dcql_query');

    if (this.request.transaction_data) {
      // §8.4 / Appendix B.3.3: transaction_data_hashes in the KB-JWT.
      const credentials = Object.fromEntries(Object.entries(verified).map(([id, list]) => [id, list.map((v) => v.kb)]));
      await as('transaction_data_mismatch', () => new Openid4vpVerifier({ callbacks: { hash: (d) => sha256(d) } })
        .verifyTransactionData({ transactionData: this.request.transaction_data, credentials }));
    }

    const claims = {};
    const presented = {};
    for (const cq of query.credentials) {
      const list = verified[cq.id];
      if (!list) continue;
      claims[cq.id] = disclosedClaims(list[0].payload);
      presented[cq.id] = list.map((v) => ({ vct: v.payload.vct, iss: v.payload.iss, claims: disclosedClaims(v.payload), kb: v.kb, status: v.status }));
    }
    const first = query.credentials.map((cq) => verified[cq.id]?.[0]).find(Boolean);
    return { claims, kb: first.kb, presentations: presented };
  }

  // verifyPresentation checks one SD-JWT VC + KB-JWT (RFC 9901 §7, SD-JWT VC,
  // Appendix B.3) and returns its processed payload and KB-JWT payload.
  async verifyPresentation(presentation) {
    const cfg = this.cfg;
    const parts = presentation.split('~');
    if (parts.length < 2) fail('invalid_presentation', 'not an SD-JWT');
    const [h, p] = parts[0].split('.');
    let header; let payload;
    try {
      header = decodePart(h);
      payload = decodePart(p);
    } catch {
      fail('invalid_presentation', 'the issuer-signed JWT does not decode');
    }
    // SD-JWT VC §3.2.1: typ dc+sd-jwt; SPEC §1: ES256 only.
    if (header.typ !== 'dc+sd-jwt') fail('invalid_credential', `typ ${header.typ}`);
    if (header.alg !== 'ES256') fail('unsupported_alg', `issuer alg ${header.alg}`);
    if (payload.iss !== cfg.issuer) fail('untrusted_issuer', `iss ${payload.iss}`);
    issuerKey(cfg.issuer_jwks, header.kid); // untrusted_issuer when no key
    if (!payload.cnf?.jwk) fail('invalid_credential', 'no cnf.jwk: holder binding is required');
    const kbJwt = parts[parts.length - 1];
    if (!kbJwt) fail('kb_invalid', 'no KB-JWT: the presentation ends in ~');
    let kbHeader;
    try { kbHeader = decodePart(kbJwt.split('.')[0]); } catch { fail('kb_invalid', 'the KB-JWT does not decode'); }
    // RFC 9901 §4.3: typ kb+jwt; the verifier's kb-jwt_alg_values: ES256.
    if (kbHeader.typ !== 'kb+jwt') fail('kb_invalid', `KB-JWT typ ${kbHeader.typ}`);
    if (kbHeader.alg !== 'ES256') fail('kb_invalid', `KB-JWT alg ${kbHeader.alg}`);

    const jwks = cfg.issuer_jwks;
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      hashAlg: 'sha-256',
      // The callbacks get the signing input, so the kid comes from its header.
      verifier: async (data, sig) => es256Verify(issuerKey(jwks, decodePart(data.split('.')[0]).kid), data, sig),
      kbVerifier: async (data, sig, issuerPayload) => es256Verify(issuerPayload.cnf.jwk, data, sig),
      statusListFetcher: (uri) => this.fetchStatusList(uri),
      statusVerifier: async (data, sig) => es256Verify(issuerKey(jwks, decodePart(data.split('.')[0]).kid), data, sig),
      statusValidator: async (status) => {
        if (status === 1) fail('credential_revoked', 'status 1 (revoked)');
        if (status === 2) fail('credential_suspended', 'status 2 (suspended)');
        if (status !== 0) fail('credential_invalid_status', `status ${status}`);
      },
    });
    // The library checks the status inside verify; it runs below on its own
    // (or not, with status ignore), so its failures keep their own codes.
    const verifyStatus = sdjwt.verifyStatus.bind(sdjwt);
    sdjwt.verifyStatus = async () => {};

    // 1. the issuer-signed JWT and the disclosures (no key binding yet).
    await as((m) => (/signature/i.test(m) ? 'invalid_signature' : /expired/i.test(m) ? 'credential_expired'
      : 'invalid_credential'), () => sdjwt.verify(presentation));
    // 2. the KB-JWT: the library checks typ, iat/aud/nonce/sd_hash present, signature by cnf.jwk, nonce, sd_hash.
    const v = await as((m) => (/nonce/i.test(m) ? 'kb_nonce_mismatch' : /sd_hash/i.test(m) ? 'kb_sd_hash_mismatch'
      : 'kb_invalid'), () => sdjwt.verify(presentation, { keyBindingNonce: this.request.nonce }));
    const kb = v.kb.payload;
    // The checks the library leaves out. Appendix B.3.6 / §5.9.3: aud is the
    // full client id, prefix included.
    if (kb.aud !== this.clientId) fail('kb_aud_mismatch', `KB-JWT aud ${JSON.stringify(kb.aud)}`);
    if (typeof kb.iat !== 'number' || kb.iat < nowSeconds() - KB_MAX_AGE || kb.iat > nowSeconds() + KB_MAX_FUTURE) {
      fail('kb_iat_out_of_window', `KB-JWT iat ${kb.iat} (now ${nowSeconds()})`);
    }
    // RFC 9901 §4.3.1: sd_hash over the presentation's own bytes up to the
    // last ~ (the library hashes its re-encoding of what it parsed).
    const upToKb = presentation.slice(0, presentation.length - kbJwt.length);
    if (kb.sd_hash !== b64url(sha256(upToKb))) fail('kb_sd_hash_mismatch', 'sd_hash is not over the presentation');
    // 3. status (Token Status List §8.3), when asked.
    let status = null;
    if (cfg.status === 'check') {
      if (!v.payload.status?.status_list) fail('status_unavailable', 'the credential has no status.status_list');
      this.lastStatus = null;
      await as('status_unavailable', () => verifyStatus(v));
      status = { ...this.lastStatus, idx: v.payload.status.status_list.idx, value: 0 };
    }
    return { payload: v.payload, kb, status };
  }

  // fetchStatusList gets a Status List Token (Token Status List §8.1) over
  // HTTPS and checks what the library does not: typ, iss, sub = the uri.
  async fetchStatusList(uri) {
    this.statusFetches++;
    if (!uri.startsWith('https://')) fail('status_unavailable', `status list uri ${uri} is not https`);
    const res = await as('status_unavailable', () => fetch(uri, {
      headers: { Accept: 'application/statuslist+jwt' },
      signal: AbortSignal.timeout(10_000),
    }));
    if (res.status !== 200) fail('status_unavailable', `status list: HTTP ${res.status}`);
    if (!(res.headers.get('content-type') ?? '').startsWith('application/statuslist+jwt')) {
      fail('status_unavailable', `status list content type ${res.headers.get('content-type')}`);
    }
    const jwt = (await res.text()).trim();
    let header; let payload;
    try {
      header = decodePart(jwt.split('.')[0]);
      payload = decodePart(jwt.split('.')[1]);
    } catch {
      fail('status_unavailable', 'status list token does not decode');
    }
    if (header.typ !== 'statuslist+jwt') fail('status_unavailable', `status list typ ${header.typ}`);
    if (payload.sub !== uri) fail('status_unavailable', 'status list sub is not the referenced uri');
    if (payload.iss !== undefined && payload.iss !== this.cfg.issuer) fail('status_unavailable', `status list iss ${payload.iss}`);
    if (!payload.iat) fail('status_unavailable', 'status list has no iat');
    this.lastStatus = { uri };
    return jwt;
  }
}

// encryptedError returns the error of a decrypted response payload that is
// an error response (§8.5), else null.
function encryptedError(plaintext, state) {
  if (plaintext === undefined) return null;
  try {
    const p = JSON.parse(plaintext);
    if (typeof p?.error !== 'string' || p.vp_token !== undefined) return null;
    return { error: p.error, error_description: String(p.error_description ?? ''), state_matches: p.state === state };
  } catch {
    return null;
  }
}

// issuerKey is the trusted issuer's JWK for kid (the only key when the JWT has no kid).
function issuerKey(jwks, kid) {
  const keys = jwks.keys;
  const key = kid === undefined ? (keys.length === 1 ? keys[0] : undefined) : keys.find((k) => k.kid === kid);
  if (!key) fail('untrusted_issuer', kid === undefined ? 'no kid and more than one issuer key' : `no issuer key with kid ${kid}`);
  return key;
}

function es256Verify(jwk, data, sig) {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') return false;
  const pub = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  return cryptoVerify('sha256', Buffer.from(data), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
}

function disclosedClaims(payload) {
  return Object.fromEntries(Object.entries(payload).filter(([k]) => !FIXED.has(k)));
}

function send(res, status, obj, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(obj));
}

async function body(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('body over 1 MiB');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// ---- process -------------------------------------------------------------------

let finished = false;
function finish(out, code = 0) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(code));
}

async function readConfig() {
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk;
    try { return JSON.parse(text); } catch { /* not complete yet */ }
  }
  return JSON.parse(text);
}

async function main() {
  let verifier;
  try {
    const cfg = parseConfig(await readConfig());
    verifier = new Verifier(cfg);
    await verifier.start();
  } catch (e) {
    process.stderr.write(`verifier.mjs: ${e?.stack ?? e}\n`);
    const message = String(e?.message ?? e);
    finish({ error: message.startsWith('config:') ? message : `config: ${message}` }, 2);
    return;
  }
  const notReceived = () => finish({
    received: false,
    request_fetches: verifier.fetches,
    wallet_nonce_received: verifier.walletNonce,
  });
  // A response being validated is let finish (its status fetch times out in 10 s).
  const stop = () => (verifier.done ? setTimeout(notReceived, 15_000) : notReceived());
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, verifier.cfg.timeout * 1000);
  process.stdout.write(`${JSON.stringify({
    link: verifier.link,
    port: verifier.port,
    client_id: verifier.linkClientId,
    nonce: verifier.request.nonce,
    state: verifier.request.state,
    request_uri: verifier.requestUri,
    response_uri: verifier.responseUri,
  })}\n`);
}

await main();
