// interop.mjs drives the OpenWallet Foundation SD-JWT libraries
// (@sd-jwt/sd-jwt-vc, @sd-jwt/crypto-nodejs, @sd-jwt/jwt-status-list) for
// credentials/interop_test.go. It reads one JSON document on stdin,
//
//   {"requests": [{"op": "verify" | "issue" | "present" | "status_decode" | "status_issue", ...}, ...]}
//
// and writes {"responses": [...]} on stdout, one response per request, in
// order. A request that throws yields {"ok": false, "error": "..."}; only a
// malformed document makes the process exit non-zero. Every clock is the
// request's "now" (seconds), never the machine's, so runs are deterministic.
//
// Install once: npm ci --prefix credentials/testdata/interop

import { createHash } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import {
  StatusList,
  createHeaderAndPayload,
  getListFromStatusListJWT,
} from '@sd-jwt/jwt-status-list';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodeJSON = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

// hasher is what the library calls for disclosure digests and sd_hash.
const hasher = (data, alg) => digest(data, alg);

// thumbprint is RFC 7638 for an EC key, computed here independently of Go:
// the required members in lexicographic order, no whitespace, SHA-256.
function thumbprint(jwk) {
  const canon = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64url(createHash('sha256').update(canon).digest());
}

const publicOnly = ({ kty, crv, x, y }) => ({ kty, crv, x, y });

// jwksVerifier returns a Verifier that takes the key from a JWKS by the kid
// in the JWT's own header (the data the library passes is header.payload),
// so it serves the credential and the status list token alike. It refuses
// any alg but ES256 because the library never looks at the header's alg.
function jwksVerifier(jwks) {
  const cache = new Map();
  return async (data, sig) => {
    const header = decodeJSON(data.split('.')[0]);
    if (header.alg !== 'ES256') throw new Error(`issuer jwt alg ${header.alg}`);
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new Error(`no key in the jwks for kid ${header.kid}`);
    if (!cache.has(jwk.kid)) cache.set(jwk.kid, await ES256.getVerifier(jwk));
    return cache.get(jwk.kid)(data, sig);
  };
}

// kbVerifier checks the KB-JWT with the holder key the credential binds
// (cnf.jwk, RFC 7800), which is how RFC 9901 §7.3 step 3 finds it.
async function kbVerifier(data, sig, payload) {
  const header = decodeJSON(data.split('.')[0]);
  if (header.alg !== 'ES256') throw new Error(`kb-jwt alg ${header.alg}`);
  const jwk = payload?.cnf?.jwk;
  if (!jwk) throw new Error('credential has no cnf.jwk');
  return (await ES256.getVerifier(jwk))(data, sig);
}

// verify: {presentation, issuer_jwks, status_lists: {uri: token}, aud,
// nonce, now, max_kb_age, type_metadata?}. Key binding is always required.
// With type_metadata (a Type Metadata document), the library loads it as
// the credential's vct's metadata and parses it (SD-JWT VC Type Metadata
// format), answering what it made of it.
async function verify(req) {
  const sdjwt = new SDJwtVcInstance({
    hasher,
    hashAlg: 'sha-256',
    verifier: jwksVerifier(req.issuer_jwks),
    kbVerifier,
    // Status lists come from the request, never the network.
    statusListFetcher: async (uri) => {
      const token = req.status_lists?.[uri];
      if (!token) throw new Error(`no status list for ${uri}`);
      return token;
    },
    // So does type metadata: the document for the vct it was given for.
    loadTypeMetadataFormat: req.type_metadata !== undefined,
    vctFetcher: async (vct) => {
      if (req.type_metadata?.vct !== vct) throw new Error(`no type metadata for ${vct}`);
      return req.type_metadata;
    },
  });
  // keyBindingNonce makes the library require a KB-JWT, verify it with
  // kbVerifier, compare its nonce and recompute sd_hash.
  const res = await sdjwt.verify(req.presentation, {
    currentDate: req.now,
    keyBindingNonce: req.nonce,
  });
  if (!res.kb) throw new Error('library returned no key binding');
  // RFC 9901 §7.3 step 5 also wants aud and iat checked; the library leaves
  // both to the caller (0.19.0 compares only the nonce), so check them here.
  if (res.kb.payload.aud !== req.aud) throw new Error(`kb-jwt aud ${res.kb.payload.aud}`);
  const age = req.now - res.kb.payload.iat;
  if (age < -60 || age > req.max_kb_age) throw new Error(`kb-jwt iat ${res.kb.payload.iat} outside the window`);
  // The library recomputes sd_hash over its own re-encoding of the
  // presentation; this one is over the exact bytes received (§4.3.1).
  const upToLastTilde = req.presentation.slice(0, req.presentation.lastIndexOf('~') + 1);
  const sdHashExact = b64url(createHash('sha256').update(upToLastTilde, 'ascii').digest());
  const issuerKey = req.issuer_jwks.keys.find((k) => k.kid === res.header?.kid);
  return {
    valid: true,
    claims: res.payload,
    header: res.header,
    kb: res.kb.payload,
    kb_header: res.kb.header,
    sd_hash_exact: sdHashExact,
    issuer_thumbprint: issuerKey ? thumbprint(issuerKey) : '',
    type_metadata: res.typeMetadata?.mergedTypeMetadata,
  };
}

// issue: {issuer_jwk (private), kid, holder_jwk (private), iss, vct, iat,
// exp, status, claims, frame, presentation_frame, aud, nonce, kb_iat}.
// The library issues, presents with key binding, and verifies its own
// presentation as a sanity check.
async function issue(req) {
  const holderPublic = publicOnly(req.holder_jwk);
  const sdjwt = new SDJwtVcInstance({
    signer: await ES256.getSigner(req.issuer_jwk),
    signAlg: 'ES256',
    verifier: await ES256.getVerifier(publicOnly(req.issuer_jwk)),
    kbSigner: await ES256.getSigner(req.holder_jwk),
    kbSignAlg: 'ES256',
    kbVerifier,
    hasher,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
    // For the self-check only: an all-valid list from the same issuer.
    statusListFetcher: async (uri) =>
      (await statusIssue({ ...req, bits: 1, size: 1024, set: {}, sub: uri, exp: 0, ttl: 0 })).token,
  });
  const payload = {
    iss: req.iss,
    vct: req.vct,
    iat: req.iat,
    exp: req.exp,
    cnf: { jwk: req.cnf_jwk ?? holderPublic },
    ...req.claims,
  };
  if (req.status) payload.status = req.status;
  const credential = await sdjwt.issue(payload, req.frame, { header: { kid: req.kid } });
  const presentation = await sdjwt.present(credential, req.presentation_frame, {
    kb: { payload: { iat: req.kb_iat, aud: req.aud, nonce: req.nonce } },
  });
  await sdjwt.verify(presentation, { currentDate: req.kb_iat, keyBindingNonce: req.nonce });
  return {
    sdjwt: credential,
    presentation,
    claims: await sdjwt.getClaims(presentation),
  };
}

// present: {sdjwt, holder_jwk (private), presentation_frame, aud, nonce,
// kb_iat}. The library acts as the holder's wallet on a credential someone
// else issued: it selects disclosures and signs the KB-JWT.
async function present(req) {
  const sdjwt = new SDJwtVcInstance({
    kbSigner: await ES256.getSigner(req.holder_jwk),
    kbSignAlg: 'ES256',
    hasher,
    hashAlg: 'sha-256',
  });
  const presentation = await sdjwt.present(req.sdjwt, req.presentation_frame, {
    kb: { payload: { iat: req.kb_iat, aud: req.aud, nonce: req.nonce } },
  });
  return { presentation, claims: await sdjwt.getClaims(presentation) };
}

// status_decode: {token, indices} → the statuses the library reads.
function statusDecode(req) {
  const list = getListFromStatusListJWT(req.token);
  return {
    bits: list.getBitsPerStatus(),
    size: list.statusList.length,
    statuses: req.indices.map((i) => list.getStatus(i)),
  };
}

// status_issue: {issuer_jwk (private), kid, bits, size, set: {idx: value},
// iss, sub, iat, exp, ttl} → a Status List Token signed with the issuer key.
async function statusIssue(req) {
  const list = new StatusList(new Array(req.size).fill(0), req.bits);
  for (const [idx, v] of Object.entries(req.set)) list.setStatus(Number(idx), v);
  const claims = { iss: req.iss, sub: req.sub, iat: req.iat };
  if (req.exp) claims.exp = req.exp;
  if (req.ttl) claims.ttl = req.ttl;
  const { header, payload } = createHeaderAndPayload(list, claims, {
    alg: 'ES256',
    typ: 'statuslist+jwt',
    kid: req.kid,
  });
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = await (await ES256.getSigner(req.issuer_jwk))(input);
  return { token: `${input}.${sig}`, lst: payload.status_list.lst };
}

const ops = { verify, issue, present, status_decode: statusDecode, status_issue: statusIssue };

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const responses = [];
  for (const req of doc.requests) {
    try {
      const op = ops[req.op];
      if (!op) throw new Error(`unknown op ${req.op}`);
      responses.push({ ok: true, ...(await op(req)) });
    } catch (err) {
      responses.push({ ok: false, valid: false, error: String(err?.message ?? err) });
    }
  }
  process.stdout.write(JSON.stringify({ responses }));
}

main().catch((err) => {
  process.stderr.write(`interop.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
