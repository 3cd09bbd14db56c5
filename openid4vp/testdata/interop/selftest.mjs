// selftest.mjs proves wallet.mjs without eidwallet: it plays a verifier with
// @openid4vc/openid4vp's own verifier functions (createOpenid4vpAuthorizationRequest,
// parseOpenid4vpAuthorizationResponse) over HTTPS on 127.0.0.1, an issuer with
// @sd-jwt/sd-jwt-vc, and runs wallet.mjs as a child process against it, the way
// the Go tests do (JSON on stdin, NODE_EXTRA_CA_CERTS for TLS).
//
//   node selftest.mjs        one line per case, then "N passed, N failed";
//                            exits non-zero when a case fails.
//
// It then proves verifier.mjs (the verifier the Go tests of eidwallet's
// wallet side stand against) with wallet.mjs as its wallet: every prefix,
// response mode and request_uri method, status lists, each check it names,
// each of its tampers (wallet.mjs must refuse) and its process contract.
//
// The PKI (a CA, a rogue CA, a leaf for localhost) is made with openssl in a
// temporary directory; the leaf serves TLS and signs the request objects.

import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { Agent, createServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  calculateX509HashClientIdPrefixValue,
  createOpenid4vpAuthorizationRequest,
  parseOpenid4vpAuthorizationResponse,
} from '@openid4vc/openid4vp';
import { DcqlPresentationResult, DcqlQuery } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { CompactEncrypt, compactDecrypt, exportJWK, generateKeyPair, importJWK } from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const jsonPart = (obj) => b64url(JSON.stringify(obj));
const nowSeconds = () => Math.floor(Date.now() / 1000);
const PID = 'urn:eidwallet:pid:1';
const DL = 'urn:eidwallet:dl:1';
const FIXED = new Set(['iss', 'vct', 'iat', 'exp', 'nbf', 'cnf', 'status']); // never selectively disclosed here

// ---- PKI -------------------------------------------------------------------

function makePki(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'rogue']) {
    ssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2',
      '-subj', `/CN=eidwallet interop ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign');
  }
  writeFileSync(join(dir, 'leaf.ext'), [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ].join('\n'));
  ssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext');
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  const leaf = new X509Certificate(read('leaf.pem'));
  return {
    caPath: join(dir, 'ca.pem'),
    caPem: read('ca.pem'),
    roguePem: read('rogue.pem'),
    leafPem: read('leaf.pem'),
    leafKeyPem: read('leaf.key'),
    leafKey: createPrivateKey(read('leaf.key')),
    leafB64: leaf.raw.toString('base64'),
    leaf,
    caB64: new X509Certificate(read('ca.pem')).raw.toString('base64'),
  };
}

// ---- issuer ----------------------------------------------------------------

async function makeCredentials() {
  const issuerKeys = await ES256.generateKeyPair();
  const issuer = new SDJwtVcInstance({
    signer: await ES256.getSigner(issuerKeys.privateKey),
    signAlg: 'ES256',
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
  });
  const holder = await ES256.generateKeyPair();
  const base = { iss: 'https://issuer.example', iat: nowSeconds(), cnf: { jwk: holder.publicKey } };
  const pid = await issuer.issue({
    ...base,
    vct: PID,
    given_name: 'Erika',
    family_name: 'Mustermann',
    birthdate: '1964-08-12',
    age_over_18: true,
    address: { street_address: 'Heidestrasse 17', locality: 'Koeln', postal_code: '51147' },
    nationalities: ['DE', 'FR'],
  }, {
    _sd: ['given_name', 'family_name', 'birthdate', 'age_over_18', 'address', 'nationalities'],
    address: { _sd: ['street_address', 'locality', 'postal_code'] },
    nationalities: { _sd: [0, 1] },
  });
  const dl = await issuer.issue({ ...base, vct: DL, document_number: 'B072RRE2I', expiry_date: '2031-01-01' },
    { _sd: ['document_number', 'expiry_date'] });
  return {
    issuerPublic: issuerKeys.publicKey,
    credentials: [
      { sdjwt: pid, holder_jwk: holder.privateKey },
      { sdjwt: dl, holder_jwk: holder.privateKey },
    ],
  };
}

// leafPaths lists a claims object's leaves as dot-joined paths.
function leafPaths(node, prefix = []) {
  if (node !== null && typeof node === 'object') {
    return Object.entries(node).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
  }
  return [prefix.join('.')];
}

// ---- verifier --------------------------------------------------------------

class Verifier {
  constructor(pki, issuerPublic) {
    this.pki = pki;
    this.issuerPublic = issuerPublic;
    this.txs = new Map();
  }

  listen() {
    this.server = createServer({ key: this.pki.leafKeyPem, cert: this.pki.leafPem }, (req, res) => {
      this.route(req, res).catch((e) => send(res, 500, { error: 'server_error', error_description: e.message }));
    });
    return new Promise((ok) => this.server.listen(0, '127.0.0.1', () => {
      this.base = `https://localhost:${this.server.address().port}`;
      ok();
    }));
  }

  close() { this.server.close(); }

  // signJwt is the library's callback for the x5c-signed request object.
  async signJwt(_signer, { header, payload }) {
    const input = `${jsonPart(header)}.${jsonPart(payload)}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: this.pki.leafKey, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${input}.${b64url(sig)}`, signerJwk: this.pki.leaf.publicKey.export({ format: 'jwk' }) };
  }

  // newTx registers one authorization request and returns the link.
  async newTx(c) {
    const id = b64url(randomBytes(9));
    const tx = { id, c, used: false, received: null, walletPost: null };
    const responseUri = `${c.responseBase ?? this.base}/response/${id}`;
    tx.requestUri = `${this.base}/request/${id}`;
    if (c.prefix === 'x509_san_dns') tx.clientId = 'x509_san_dns:localhost';
    if (c.prefix === 'x509_hash') {
      const cert = c.hashOf === 'ca' ? this.pki.caB64 : this.pki.leafB64;
      tx.clientId = `x509_hash:${await calculateX509HashClientIdPrefixValue({ x509Certificate: cert, hash: digest })}`;
    }
    if (c.prefix === 'redirect_uri') tx.clientId = `redirect_uri:${responseUri}`;
    const clientMetadata = {
      vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
    };
    if (c.mode === 'direct_post.jwt') {
      const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
      tx.encKid = b64url(randomBytes(6));
      tx.encKey = privateKey;
      clientMetadata.jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: tx.encKid, use: 'enc', alg: 'ECDH-ES' }] };
      if (c.enc) clientMetadata.encrypted_response_enc_values_supported = [c.enc];
    }
    tx.payload = {
      response_type: 'vp_token',
      client_id: tx.clientId,
      response_uri: responseUri,
      response_mode: c.mode,
      nonce: b64url(randomBytes(16)),
      state: b64url(randomBytes(16)),
      dcql_query: c.query,
      client_metadata: clientMetadata,
    };
    this.txs.set(id, tx);
    let link;
    if (c.prefix === 'redirect_uri') {
      link = `openid4vp://?${new URLSearchParams({ client_id: tx.clientId, request_uri: tx.requestUri })}`;
    } else {
      link = (await this.requestObject(tx, undefined)).link;
    }
    if (c.post) link += '&request_uri_method=post';
    if (c.linkClientId) link = link.replace(/client_id=[^&]*/, `client_id=${encodeURIComponent(c.linkClientId)}`);
    return { tx, link };
  }

  // requestObject makes the request object with the library (wallet_nonce
  // only after a POST, §5.10.1), or an unsecured one for redirect_uri.
  async requestObject(tx, walletNonce) {
    const payload = walletNonce ? { ...tx.payload, wallet_nonce: walletNonce } : tx.payload;
    tx.request = payload;
    if (tx.c.prefix === 'redirect_uri' && !tx.c.signRedirectUri) {
      const claims = { ...payload, aud: 'https://self-issued.me/v2', iat: nowSeconds(), exp: nowSeconds() + 300 };
      return { jwt: `${jsonPart({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${jsonPart(claims)}.` };
    }
    const made = await createOpenid4vpAuthorizationRequest({
      authorizationRequestPayload: payload,
      wallet: walletNonce ? { expectedNonce: walletNonce } : undefined,
      jar: {
        requestUri: tx.requestUri,
        jwtSigner: { method: 'x5c', alg: 'ES256', x5c: [this.pki.leafB64] },
        expiresInSeconds: 300,
        additionalJwtPayload: { aud: 'https://self-issued.me/v2' }, // §5.8, static discovery
      },
      callbacks: { signJwt: (s, j) => this.signJwt(s, j) },
    });
    let jwt = made.jar.authorizationRequestJwt;
    if (tx.c.typ) { // re-sign with another typ, for the §5 typ check
      const [h, p] = jwt.split('.');
      const header = { ...JSON.parse(Buffer.from(h, 'base64url')), typ: tx.c.typ };
      jwt = (await this.signJwt(null, { header, payload: JSON.parse(Buffer.from(p, 'base64url')) })).jwt;
    }
    return { link: made.authorizationRequest, jwt };
  }

  async route(req, res) {
    const [, kind, id] = new URL(req.url, this.base).pathname.split('/');
    const tx = this.txs.get(id);
    if (!tx) return send(res, 404, { error: 'not_found' });
    const form = Object.fromEntries(new URLSearchParams(await body(req)));
    if (kind === 'request') {
      if (tx.c.redirectRequest) {
        res.writeHead(302, { Location: `${this.base}/request/elsewhere` });
        return res.end();
      }
      let walletNonce;
      if (req.method === 'POST') {
        tx.walletPost = { contentType: req.headers['content-type'], accept: req.headers.accept, form };
        walletNonce = tx.c.dropWalletNonce ? undefined : form.wallet_nonce;
      }
      const { jwt } = await this.requestObject(tx, walletNonce);
      res.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt' });
      return res.end(jwt);
    }
    if (kind === 'response' && req.method === 'POST') {
      try {
        return send(res, 200, await this.receive(tx, form));
      } catch (e) {
        return send(res, 400, { error: 'invalid_request', error_description: e.message });
      }
    }
    return send(res, 405, { error: 'method_not_allowed' });
  }

  // receive validates an authorization response with the library, then each
  // presentation with @sd-jwt and the set of them with dcql (§8.6).
  async receive(tx, form) {
    if (tx.used) throw new Error('a response for this request was already received'); // §14.2
    tx.used = true;
    if (form.error) {
      tx.received = { error: form.error, state: form.state };
      return {};
    }
    const parsed = await parseOpenid4vpAuthorizationResponse({
      authorizationResponse: form,
      authorizationRequestPayload: tx.request,
      callbacks: {
        decryptJwe: async (jwe, options) => {
          const { plaintext, protectedHeader } = await compactDecrypt(jwe, tx.encKey);
          tx.jweHeader = protectedHeader;
          if (protectedHeader.kid !== tx.encKid) throw new Error(`jwe kid ${protectedHeader.kid}`);
          return { decrypted: true, decryptionJwk: options?.jwk, payload: new TextDecoder().decode(plaintext) };
        },
        verifyJwt: async () => ({ verified: false }), // signed responses are not expected
      },
    });
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      hashAlg: 'sha-256',
      verifier: await ES256.getVerifier(this.issuerPublic),
      kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    });
    const claims = {};
    for (const [id, presentations] of Object.entries(parsed.dcql.presentations)) {
      claims[id] = [];
      for (const p of presentations) {
        const v = await sdjwt.verify(p, { keyBindingNonce: tx.request.nonce });
        // B.3.6: aud is the full client id; the library checks only the nonce.
        if (v.kb.payload.aud !== tx.request.client_id) throw new Error(`kb-jwt aud ${v.kb.payload.aud}`);
        if (Math.abs(nowSeconds() - v.kb.payload.iat) > 300) throw new Error('kb-jwt iat is not fresh');
        claims[id].push(v.payload);
      }
    }
    const asDcql = Object.fromEntries(Object.entries(claims).map(([id, list]) => [id, list.map((c) => ({
      credential_format: 'dc+sd-jwt', vct: c.vct, claims: c, cryptographic_holder_binding: true,
    }))]));
    const result = DcqlPresentationResult.fromDcqlPresentation(asDcql, { dcqlQuery: DcqlQuery.parse(tx.request.dcql_query) });
    if (!result.can_be_satisfied) throw new Error('the presentations do not satisfy the dcql_query');
    tx.received = {
      claims,
      disclosed: Object.fromEntries(Object.entries(claims).map(([id, list]) => [id,
        list.flatMap((c) => leafPaths(Object.fromEntries(Object.entries(c).filter(([k]) => !FIXED.has(k))))).sort()])),
    };
    return { status: 'received' };
  }
}

function send(res, status, obj) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(obj));
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

// runWallet runs wallet.mjs as the Go tests do.
function runWallet(input, caPath) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(here, 'wallet.mjs')], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      try { resolveRun(JSON.parse(out)); } catch { reject(new Error(`wallet.mjs exited ${code}: ${out}`)); }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

// ---- cases -----------------------------------------------------------------

const pidQuery = (claims, extra = {}) => ({ credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: [PID] }, claims, ...extra }] });
const nameAndPostcode = pidQuery([{ path: ['given_name'] }, { path: ['address', 'postal_code'] }]);

// seen is what the verifier decodes; it differs from disclosed only for array
// elements, which RFC 9901 §7.3 renumbers once undisclosed ones are dropped.
const accepted = (disclosed, seen = disclosed, claimsOk = () => true) => ({ disclosed, seen, claimsOk });
const refused = (errorIncludes) => ({ refused: errorIncludes });
const rejected = { status: 400 };

const cases = [
  // the four combinations the Go side uses, plus DCQL selection rules (§6.4)
  ['x509_san_dns direct_post, request_uri POST', { prefix: 'x509_san_dns', mode: 'direct_post', post: true, query: nameAndPostcode },
    accepted({ pid: ['address.postal_code', 'given_name'] })],
  ['x509_san_dns direct_post.jwt A128GCM, request_uri GET', { prefix: 'x509_san_dns', mode: 'direct_post.jwt', query: nameAndPostcode },
    accepted({ pid: ['address.postal_code', 'given_name'] })],
  ['x509_hash direct_post, request_uri GET, array wildcard', { prefix: 'x509_hash', mode: 'direct_post',
    query: pidQuery([{ path: ['family_name'] }, { path: ['nationalities', null] }]) },
  accepted({ pid: ['family_name', 'nationalities.0', 'nationalities.1'] })],
  ['x509_hash direct_post.jwt A256GCM, request_uri POST, claim_sets', { prefix: 'x509_hash', mode: 'direct_post.jwt', enc: 'A256GCM', post: true,
    query: pidQuery([{ id: 'a', path: ['age_over_18'] }, { id: 'b', path: ['birthdate'] }], { claim_sets: [['a'], ['b']] }) },
  accepted({ pid: ['age_over_18'] })],
  ['redirect_uri (unsigned) direct_post, request_uri POST, values', { prefix: 'redirect_uri', mode: 'direct_post', post: true,
    query: pidQuery([{ path: ['given_name'], values: ['Erika'] }, { path: ['nationalities', 1] }]) },
  accepted({ pid: ['given_name', 'nationalities.1'] }, { pid: ['given_name', 'nationalities.0'] },
    (claims) => claims.pid[0].nationalities[0] === 'FR')],
  ['credential_sets with an optional set', { prefix: 'x509_san_dns', mode: 'direct_post', query: {
    credentials: [
      { id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: [PID] }, claims: [{ path: ['given_name'] }] },
      { id: 'dl', format: 'dc+sd-jwt', meta: { vct_values: [DL] }, claims: [{ path: ['document_number'] }] },
      { id: 'other', format: 'dc+sd-jwt', meta: { vct_values: ['urn:other'] } },
    ],
    credential_sets: [{ options: [['pid']] }, { options: [['other'], ['dl']], required: false }],
  } }, accepted({ dl: ['document_number'], pid: ['given_name'] })],
  ['no claims requested: nothing selectively disclosed', { prefix: 'x509_san_dns', mode: 'direct_post', query: pidQuery(undefined) },
    accepted({ pid: [] })],
  ['nothing matches: access_denied', { prefix: 'x509_san_dns', mode: 'direct_post',
    query: pidQuery([{ path: ['given_name'], values: ['Somebody'] }]) }, { verifierError: 'access_denied' }],

  // the wallet refuses and sends nothing
  ['refuse: chain to another trust anchor', { prefix: 'x509_san_dns', mode: 'direct_post', query: nameAndPostcode, anchor: 'rogue' },
    refused('trust anchor')],
  ['refuse: link and request object client_id differ', { prefix: 'x509_san_dns', mode: 'direct_post', query: nameAndPostcode,
    linkClientId: 'x509_san_dns:other.example' }, refused('client_id')],
  ['refuse: wallet_nonce not echoed', { prefix: 'x509_san_dns', mode: 'direct_post', post: true, dropWalletNonce: true, query: nameAndPostcode },
    refused('wallet_nonce')],
  ['refuse: x509_san_dns response_uri on another host', { prefix: 'x509_san_dns', mode: 'direct_post', query: nameAndPostcode,
    responseBase: 'https://127.0.0.1:1' }, refused('redirect_uri value MUST match')],
  ['refuse: x509_hash of another certificate', { prefix: 'x509_hash', mode: 'direct_post', query: nameAndPostcode, hashOf: 'ca' },
    refused('hash of the leaf')],
  ['refuse: typ is not oauth-authz-req+jwt', { prefix: 'x509_hash', mode: 'direct_post', query: nameAndPostcode, typ: 'jwt' },
    refused('typ')],
  ['refuse: request_uri redirects', { prefix: 'x509_san_dns', mode: 'direct_post', query: nameAndPostcode, redirectRequest: true },
    refused('302')],
  ['refuse: redirect_uri request that is signed', { prefix: 'redirect_uri', mode: 'direct_post', query: nameAndPostcode, signRedirectUri: true },
    refused('MUST NOT be signed')],

  // tampered responses: the library verifier must reject them
  ...['wrong_nonce', 'no_nonce', 'unprefixed_aud', 'old_iat', 'bad_sd_hash', 'bad_issuer_signature', 'wrong_state', 'unknown_query_id']
    .map((t) => [`tamper ${t}`, { prefix: 'x509_san_dns', mode: 'direct_post', query: nameAndPostcode, tamper: t }, rejected]),
  ['tamper wrong_enc_key', { prefix: 'x509_hash', mode: 'direct_post.jwt', query: nameAndPostcode, tamper: 'wrong_enc_key' }, rejected],
  ['tamper replay', { prefix: 'x509_san_dns', mode: 'direct_post.jwt', query: nameAndPostcode, tamper: 'replay' }, { statuses: [200, 400] }],
  ['tamper decline', { prefix: 'x509_hash', mode: 'direct_post', query: nameAndPostcode, tamper: 'decline' }, { verifierError: 'access_denied' }],
];

// check returns '' when the outcome is what the case expects, else why not.
function check(out, tx, want) {
  if (want.refused !== undefined) {
    if (out.ok) return `wallet did not refuse (status ${out.status})`;
    if (!out.error.includes(want.refused)) return `error ${JSON.stringify(out.error)} lacks ${JSON.stringify(want.refused)}`;
    if (tx.used) return 'wallet refused but still sent a response';
    return '';
  }
  if (!out.ok) return `wallet refused: ${out.error}`;
  if (want.statuses) return JSON.stringify(out.statuses) === JSON.stringify(want.statuses) ? '' : `statuses ${JSON.stringify(out.statuses)}`;
  if (want.status) return out.status === want.status ? '' : `status ${out.status} ${JSON.stringify(out.body)}`;
  if (out.status !== 200) return `status ${out.status} ${JSON.stringify(out.body)}`;
  if (want.verifierError) return tx.received?.error === want.verifierError ? '' : `verifier got ${JSON.stringify(tx.received)}`;
  const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v].sort()]).sort()));
  if (sorted(out.disclosed) !== sorted(want.disclosed)) return `wallet disclosed ${JSON.stringify(out.disclosed)}`;
  if (sorted(tx.received.disclosed) !== sorted(want.seen)) return `verifier saw ${JSON.stringify(tx.received.disclosed)}`;
  if (!want.claimsOk(tx.received.claims)) return `verifier got ${JSON.stringify(tx.received.claims)}`;
  if (out.client_id !== tx.clientId) return `client_id ${out.client_id}`;
  if (tx.c.post) { // §5.10: form-encoded wallet_metadata (a JSON string) and wallet_nonce
    const post = tx.walletPost;
    if (!post?.contentType?.startsWith('application/x-www-form-urlencoded')) return `POST content-type ${post?.contentType}`;
    const md = JSON.parse(post.form.wallet_metadata ?? 'null');
    if (!md?.vp_formats_supported || !post.form.wallet_nonce) return `POST form ${JSON.stringify(post.form)}`;
    if (tx.c.prefix === 'redirect_uri' && md.request_object_signing_alg_values_supported) return 'redirect_uri POST lists signing algs';
  }
  if (tx.c.mode === 'direct_post.jwt') {
    const h = tx.jweHeader;
    if (h?.alg !== 'ECDH-ES' || h.enc !== (tx.c.enc ?? 'A128GCM') || h.kid !== tx.encKid) return `jwe header ${JSON.stringify(h)}`;
  }
  return '';
}

// ---- verifier.mjs against wallet.mjs ----------------------------------------
//
// verifier.mjs is the verifier the Go tests of eidwallet's wallet side stand
// against; here wallet.mjs plays that wallet. An issuer with a kid and a
// Token Status List (served over HTTPS, encoded here by hand from Token
// Status List §4.1 so the library's decoder is checked too) makes the
// credentials.

const STATUS_VALID = 3;
const STATUS_REVOKED = 5;
const STATUS_SUSPENDED = 7;

// statusListJwt encodes statuses (index -> value, 2 bits each, LSB first,
// Token Status List §4.1) as a Status List Token signed by the issuer.
async function statusListJwt(signer, kid, uri, statuses) {
  const bytes = Buffer.alloc(4);
  for (const [i, v] of Object.entries(statuses)) bytes[Math.floor(i / 4)] |= v << ((i % 4) * 2);
  const header = { alg: 'ES256', typ: 'statuslist+jwt', kid };
  const payload = { iss: 'https://issuer.example', sub: uri, iat: nowSeconds(), ttl: 60,
    status_list: { bits: 2, lst: b64url(deflateSync(bytes)) } };
  const input = `${jsonPart(header)}.${jsonPart(payload)}`;
  return `${input}.${await signer(input)}`;
}

async function makeStatusIssuer(pki) {
  const keys = await ES256.generateKeyPair();
  const kid = 'issuer-key-1';
  const signer = await ES256.getSigner(keys.privateKey);
  const server = createServer({ key: pki.leafKeyPem, cert: pki.leafPem }, async (req, res) => {
    const uri = `https://localhost:${server.address().port}${req.url}`;
    if (req.url !== '/status/1') { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': 'application/statuslist+jwt' });
    res.end(await statusListJwt(signer, kid, uri, { [STATUS_VALID]: 0, [STATUS_REVOKED]: 1, [STATUS_SUSPENDED]: 2 }));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const statusUri = `https://localhost:${server.address().port}/status/1`;
  const issuer = new SDJwtVcInstance({ signer, signAlg: 'ES256', hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt });
  const holder = await ES256.generateKeyPair();
  const issue = async (idx, uri = statusUri) => ({
    sdjwt: await issuer.issue({
      iss: 'https://issuer.example', iat: nowSeconds(), exp: nowSeconds() + 3600, vct: PID, cnf: { jwk: holder.publicKey },
      status: { status_list: { idx, uri } },
      given_name: 'Erika', family_name: 'Mustermann', address: { locality: 'Koeln', postal_code: '51147' },
    }, { _sd: ['given_name', 'family_name', 'address'], address: { _sd: ['locality', 'postal_code'] } },
    { header: { kid } }),
    holder_jwk: holder.privateKey,
  });
  const other = await ES256.generateKeyPair();
  return {
    jwks: { keys: [{ ...keys.publicKey, kid, alg: 'ES256', use: 'sig' }] },
    otherJwks: { keys: [{ ...other.publicKey, kid, alg: 'ES256', use: 'sig' }] }, // same kid, another key
    valid: await issue(STATUS_VALID),
    revoked: await issue(STATUS_REVOKED),
    suspended: await issue(STATUS_SUSPENDED),
    unreachable: await issue(STATUS_VALID, 'https://localhost:1/status/1'),
    close: () => server.close(),
  };
}

// startVerifier runs verifier.mjs with cfg on stdin; lines[0] is its first
// line, lines[1] its second, exit its exit code.
function startVerifier(cfg, caPath) {
  const child = spawn(process.execPath, [join(here, 'verifier.mjs')], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const waiters = [];
  const lines = [0, 1].map(() => new Promise((ok) => waiters.push(ok)));
  let buf = '';
  let n = 0;
  let stderr = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      if (n < 2) waiters[n++](JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = new Promise((ok) => child.on('close', (code) => {
    while (n < 2) waiters[n++](null);
    ok(code);
  }));
  child.stdin.end(JSON.stringify(cfg));
  return { child, lines, exit, stderr: () => stderr };
}

const vQuery = pidQuery([{ path: ['given_name'] }, { path: ['address', 'postal_code'] }]);
// canonical sorts object members, so equal JSON values compare equal as text.
const canonical = (v) => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
const vClaimsOk = (r) => canonical(r.claims) === canonical({ pid: { given_name: 'Erika', address: { postal_code: '51147' } } });
const vAccepted = { valid: true };
const vRejected = (error) => ({ valid: false, error, walletStatus: 400 });
const vRefused = (errorIncludes) => ({ refused: errorIncludes });

const vCases = [
  // every way the Go wallet side will meet it: both prefixes, both modes, both request_uri methods
  ...['x509_san_dns', 'x509_hash'].flatMap((prefix) => ['direct_post', 'direct_post.jwt'].flatMap((mode) => ['get', 'post'].map((method) => [
    `verifier.mjs ${prefix} ${mode} request_uri ${method}`, { prefix, mode, method }, vAccepted]))),
  ['verifier.mjs direct_post.jwt enc A256GCM', { prefix: 'x509_hash', mode: 'direct_post.jwt', method: 'get', enc: ['A256GCM'] }, vAccepted],
  ['verifier.mjs status check: valid', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', status: 'check' }, { valid: true, statusFetches: 1 }],
  ['verifier.mjs status check: revoked', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', status: 'check', credential: 'revoked' },
    vRejected('credential_revoked')],
  ['verifier.mjs status check: suspended', { prefix: 'x509_hash', mode: 'direct_post.jwt', method: 'post', status: 'check', credential: 'suspended' },
    vRejected('credential_suspended')],
  ['verifier.mjs status check: list unreachable', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', status: 'check', credential: 'unreachable' },
    vRejected('status_unavailable')],
  ['verifier.mjs status ignore: a revoked credential is not looked up', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', credential: 'revoked' },
    { valid: true, statusFetches: 0 }],
  ['verifier.mjs decline: access_denied', { prefix: 'x509_san_dns', mode: 'direct_post.jwt', method: 'get', walletTamper: 'decline' },
    { valid: false, error: 'access_denied', walletStatus: 200 }],
  ['verifier.mjs nothing matches: access_denied', { prefix: 'x509_hash', mode: 'direct_post', method: 'get',
    query: pidQuery([{ path: ['given_name'], values: ['Somebody'] }]) }, { valid: false, error: 'access_denied', walletStatus: 200 }],
  ['verifier.mjs issuer key of another issuer', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', jwks: 'other' }, vRejected('invalid_signature')],
  ['verifier.mjs issuer not trusted', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', issuer: 'https://other.example' }, vRejected('untrusted_issuer')],

  // what wallet.mjs can break in its response: verifier.mjs names each check
  ...[['wrong_nonce', 'kb_nonce_mismatch'], ['no_nonce', 'kb_invalid'], ['unprefixed_aud', 'kb_aud_mismatch'],
    ['old_iat', 'kb_iat_out_of_window'], ['bad_sd_hash', 'kb_sd_hash_mismatch'], ['bad_issuer_signature', 'invalid_signature'],
    ['wrong_state', 'state_mismatch'], ['unknown_query_id', 'dcql_unsatisfied']]
    .map(([t, code]) => [`verifier.mjs rejects wallet tamper ${t}`, { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', walletTamper: t }, vRejected(code)]),
  ['verifier.mjs rejects wallet tamper wrong_enc_key', { prefix: 'x509_hash', mode: 'direct_post.jwt', method: 'get', walletTamper: 'wrong_enc_key' },
    vRejected('decryption_failed')],

  // verifier.mjs's tampers: wallet.mjs refuses and sends nothing
  ['verifier.mjs tamper bad_signature', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'bad_signature' }, vRefused('Error during verification of jwt.')],
  ['verifier.mjs tamper wrong_client_id (x509_san_dns)', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'wrong_client_id' }, vRefused('san dns names')],
  ['verifier.mjs tamper wrong_client_id (x509_hash)', { prefix: 'x509_hash', mode: 'direct_post', method: 'post', tamper: 'wrong_client_id' }, vRefused('hash of the leaf')],
  ['verifier.mjs tamper client_id_mismatch', { prefix: 'x509_hash', mode: 'direct_post', method: 'get', tamper: 'client_id_mismatch' }, vRefused('client_id')],
  ['verifier.mjs tamper no_wallet_nonce_echo', { prefix: 'x509_san_dns', mode: 'direct_post.jwt', method: 'post', tamper: 'no_wallet_nonce_echo' }, vRefused('wallet_nonce')],
  ['verifier.mjs tamper transaction_data', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'transaction_data' }, vRefused('transaction_data')],
  ['verifier.mjs tamper redirect', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'post', tamper: 'redirect' }, vRefused('302')],
  ['verifier.mjs tamper expired', { prefix: 'x509_hash', mode: 'direct_post', method: 'get', tamper: 'expired' }, vRefused("'exp' is in the past")],

  // responses wallet.mjs does not make, posted by hand
  ['verifier.mjs encrypted error response', { prefix: 'x509_hash', mode: 'direct_post.jwt', method: 'get',
    raw: async (req, { encrypt }) => ({ response: await encrypt({ error: 'access_denied', error_description: 'no', state: req.state }) }) },
  { raw: 200, valid: false, error: 'access_denied' }],
  ['verifier.mjs direct_post.jwt answered in clear', { prefix: 'x509_san_dns', mode: 'direct_post.jwt', method: 'get',
    raw: async (req) => ({ vp_token: JSON.stringify({ pid: ['x~'] }), state: req.state }) }, { raw: 400, valid: false, error: 'response_mode_mismatch' }],
  ['verifier.mjs response as JSON, not a form', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get',
    raw: async (req) => ({ vp_token: { pid: ['x~'] }, state: req.state }), json: true }, { raw: 400, valid: false, error: 'invalid_response' }],
  ['verifier.mjs presentation without KB-JWT', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get',
    raw: async (req, { sdjwt }) => ({ vp_token: JSON.stringify({ pid: [sdjwt] }), state: req.state }) }, { raw: 400, valid: false, error: 'kb_invalid' }],
  // Appendix B.3.3: with transaction_data, the KB-JWT carries its hashes
  ['verifier.mjs transaction_data answered with its hash', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'transaction_data',
    raw: async (req, { present }) => ({ vp_token: JSON.stringify({ pid: [await present(req, {
      transaction_data_hashes: req.transaction_data.map((t) => b64url(createHash('sha256').update(t).digest())) })] }), state: req.state }) },
  { raw: 200, valid: true, error: '' }],
  ['verifier.mjs transaction_data answered without its hash', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'transaction_data',
    raw: async (req, { present }) => ({ vp_token: JSON.stringify({ pid: [await present(req, {})] }), state: req.state }) },
  { raw: 400, valid: false, error: 'transaction_data_mismatch' }],

  // the process contract
  ['verifier.mjs no response: received false after timeout_seconds', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', timeout: 1 }, { noWallet: true }],
  ['verifier.mjs config error: exit 2', { prefix: 'x509_san_dns', mode: 'direct_post', method: 'get', tamper: 'no_such_tamper' }, { configError: 'unknown tamper' }],
];

// checkVerifier returns '' when the run is what the case expects, else why not.
function checkVerifier(c, want, first, out, second, code) {
  if (!first?.link) return `first line ${JSON.stringify(first)}`;
  const link = new URL(first.link);
  if (link.protocol !== 'openid4vp:' || link.searchParams.get('client_id') !== first.client_id
    || link.searchParams.get('request_uri') !== first.request_uri) return `link ${first.link}`;
  if ((link.searchParams.get('request_uri_method') === 'post') !== (c.method === 'post')) return `link ${first.link} (method ${c.method})`;
  if (!first.client_id.startsWith(`${c.prefix}:`) || !first.nonce || !first.state || !first.port) return `first line ${JSON.stringify(first)}`;
  if (code !== 0) return `verifier exited ${code}`;
  if (want.noWallet) {
    return second?.received === false && second.request_fetches.length === 0 ? '' : `second line ${JSON.stringify(second)}`;
  }
  const fetches = second?.request_fetches ?? [];
  if (want.refused !== undefined) {
    if (out.ok) return `wallet did not refuse (status ${out.status} ${JSON.stringify(out.body)})`;
    if (!out.error.includes(want.refused)) return `wallet error ${JSON.stringify(out.error)} lacks ${JSON.stringify(want.refused)}`;
    if (second?.received !== false) return `verifier received a response: ${JSON.stringify(second)}`;
    // the wallet did fetch the request (so it refused it), and never followed the redirect
    if (fetches.length === 0) return 'the wallet never fetched the request object';
    if (fetches.some((f) => f.path !== 'request')) return `the wallet followed the redirect: ${JSON.stringify(fetches)}`;
    return '';
  }
  if (!out.ok) return `wallet refused: ${out.error}`;
  if (out.status !== (want.walletStatus ?? 200)) return `wallet got ${out.status} ${JSON.stringify(out.body)}`;
  if (out.client_id !== first.client_id) return `wallet client_id ${out.client_id}`;
  if (!second?.received) return `second line ${JSON.stringify(second)}`;
  if (second.valid !== want.valid) return `valid ${second.valid}: ${second.error} ${second.error_description}`;
  if (second.error !== (want.error ?? '')) return `error ${second.error} (${second.error_description})`;
  if (want.walletStatus === 400 && out.body?.reason !== want.error) return `wallet body ${JSON.stringify(out.body)}`;
  // what the wallet sent and how
  const jwt = c.mode === 'direct_post.jwt';
  const formKeys = want.error === 'access_denied' ? ['error', 'error_description', 'state'] : jwt ? ['response'] : ['state', 'vp_token'];
  if (JSON.stringify(second.form_keys) !== JSON.stringify(formKeys)) return `form_keys ${JSON.stringify(second.form_keys)}`;
  if (fetches.length !== 1 || fetches[0].method !== c.method.toUpperCase()) return `request_fetches ${JSON.stringify(fetches)}`;
  if (c.method === 'post') { // §5.10: form with wallet_metadata (JSON) and wallet_nonce, echoed in the request object
    const f = fetches[0];
    if (!f.content_type.startsWith('application/x-www-form-urlencoded') || !f.wallet_metadata?.vp_formats_supported) return `POST ${JSON.stringify(f)}`;
    if (!f.wallet_nonce || second.wallet_nonce_received !== f.wallet_nonce || out.request.wallet_nonce !== f.wallet_nonce) return `wallet_nonce ${JSON.stringify(f)}`;
  } else if (second.wallet_nonce_received !== '') return `wallet_nonce_received ${second.wallet_nonce_received}`;
  if (jwt && want.error !== 'access_denied') {
    const h = second.jwe_header;
    if (h?.alg !== 'ECDH-ES' || h.enc !== (c.enc?.[0] ?? 'A128GCM') || !h.kid) return `jwe_header ${JSON.stringify(h)}`;
  } else if (second.jwe_header !== null) return `jwe_header ${JSON.stringify(second.jwe_header)}`;
  if (want.statusFetches !== undefined && second.status_list_fetches !== want.statusFetches) return `status_list_fetches ${second.status_list_fetches}`;
  if (!want.valid) return '';
  // what the verifier saw
  if (!vClaimsOk(second)) return `claims ${JSON.stringify(second.claims)}`;
  const kb = second.kb;
  if (kb.aud !== first.client_id || kb.nonce !== first.nonce || !kb.sd_hash || Math.abs(kb.iat - nowSeconds()) > 60) return `kb ${JSON.stringify(kb)}`;
  const p = second.presentations.pid;
  if (p?.length !== 1 || p[0].vct !== PID || JSON.stringify(p[0].kb) !== JSON.stringify(kb)) return `presentations ${JSON.stringify(second.presentations)}`;
  if (c.status === 'check' && p[0].status?.value !== 0) return `status ${JSON.stringify(p[0].status)}`;
  return '';
}

// rawCase fetches the request object itself (GET, trusting the chain
// verifier.mjs was given) and posts what c.raw makes of it.
async function rawCase(pki, issuer, c, want, first, v) {
  const agent = new Agent({ ca: pki.caPem });
  const call = (url, init) => new Promise((ok, ko) => {
    const r = httpsRequest(url, { ...init, agent }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => ok({ status: res.statusCode, text }));
    });
    r.on('error', ko);
    r.end(init.body);
  });
  const got = await call(first.request_uri, { method: 'GET' });
  const req = JSON.parse(Buffer.from(got.text.split('.')[1], 'base64url'));
  const encrypt = async (obj) => {
    const jwk = req.client_metadata.jwks.keys[0];
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(obj)))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128GCM', kid: jwk.kid }).encrypt(await importJWK(jwk, 'ECDH-ES'));
  };
  const present = async (r, extra) => {
    const holder = new SDJwtVcInstance({ hasher: digest, hashAlg: 'sha-256', kbSigner: await ES256.getSigner(issuer.valid.holder_jwk), kbSignAlg: 'ES256' });
    return holder.present(issuer.valid.sdjwt, { given_name: true, address: { postal_code: true } },
      { kb: { payload: { iat: nowSeconds(), aud: r.client_id, nonce: r.nonce, ...extra } } });
  };
  const body = await c.raw(req, { encrypt, present, sdjwt: issuer.valid.sdjwt });
  const posted = await call(req.response_uri, c.json
    ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }
    : { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
  const second = await v.lines[1];
  const code = await v.exit;
  if (code !== 0) return `verifier exited ${code}`;
  if (posted.status !== want.raw) return `verifier answered ${posted.status} ${posted.text}`;
  if (!second?.received || second.valid !== want.valid || second.error !== want.error) return `second line ${JSON.stringify(second)}`;
  if (want.raw === 400 && JSON.parse(posted.text).reason !== want.error) return `answer ${posted.text}`;
  return '';
}

async function runVerifierCase(pki, issuer, c, want) {
  const cfg = {
    tls_cert_pem: pki.leafPem,
    tls_key_pem: pki.leafKeyPem,
    port: 0,
    client_id_prefix: c.prefix,
    signing: { cert_chain_pem: [pki.leafPem, pki.caPem], key_pem: pki.leafKeyPem },
    response_mode: c.mode,
    request_uri_method: c.method,
    dcql_query: c.query ?? vQuery,
    issuer_jwks: c.jwks === 'other' ? issuer.otherJwks : issuer.jwks,
    issuer: c.issuer ?? 'https://issuer.example',
    status: c.status ?? 'ignore',
    tamper: c.tamper ?? '',
  };
  if (c.enc) cfg.enc_values = c.enc;
  if (c.timeout) cfg.timeout_seconds = c.timeout;
  const v = startVerifier(cfg, pki.caPath);
  try {
    const first = await v.lines[0];
    if (want.configError) {
      const code = await v.exit;
      return code === 2 && first?.error?.startsWith('config:') && first.error.includes(want.configError)
        ? '' : `exit ${code}, first line ${JSON.stringify(first)}`;
    }
    if (!first?.link) return `verifier said ${JSON.stringify(first)}: ${v.stderr()}`;
    if (c.raw) return await rawCase(pki, issuer, c, want, first, v);
    let out = null;
    if (!want.noWallet) {
      out = await runWallet({ link: first.link, credentials: [issuer[c.credential ?? 'valid']], trust_anchor_pem: pki.caPem,
        tamper: c.walletTamper ?? '' }, pki.caPath);
      if (!out.ok) v.child.kill('SIGTERM'); // it refused: the verifier waits no longer
    }
    const second = await v.lines[1];
    const why = checkVerifier(c, want, first, out, second, await v.exit);
    return why && v.stderr() ? `${why}\n${v.stderr()}` : why;
  } finally {
    v.child.kill('SIGKILL');
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'oid4vp-selftest-'));
  let failed = 0;
  try {
    const pki = makePki(dir);
    const { issuerPublic, credentials } = await makeCredentials();
    const verifier = new Verifier(pki, issuerPublic);
    await verifier.listen();
    try {
      for (const [name, c, want] of cases) {
        let why;
        try {
          const { tx, link } = await verifier.newTx(c);
          const out = await runWallet({
            link,
            credentials,
            trust_anchor_pem: c.anchor === 'rogue' ? pki.roguePem : pki.caPem,
            tamper: c.tamper ?? '',
          }, pki.caPath);
          why = check(out, tx, want);
        } catch (e) {
          why = `selftest error: ${e.stack ?? e}`;
        }
        if (why) failed++;
        console.log(`${why ? 'FAIL' : 'ok  '} ${name}${why ? `: ${why}` : ''}`);
      }
    } finally {
      verifier.close();
    }
    const issuer = await makeStatusIssuer(pki);
    try {
      for (const [name, c, want] of vCases) {
        let why;
        try {
          why = await runVerifierCase(pki, issuer, c, want);
        } catch (e) {
          why = `selftest error: ${e.stack ?? e}`;
        }
        if (why) failed++;
        console.log(`${why ? 'FAIL' : 'ok  '} ${name}${why ? `: ${why}` : ''}`);
      }
    } finally {
      issuer.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const total = cases.length + vCases.length;
  console.log(`${total - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
