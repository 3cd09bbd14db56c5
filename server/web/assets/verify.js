// The staff verifier page (/verify): sign in with the verifier API key,
// read a citizen's QR code (counter scanner, paste, or camera), redeem it
// with POST /v1/verify, and show the answer large enough to read at arm's
// length, then count down back to scanning.
//
// With no network (issue 12), an EIDC1: code is checked on this device
// against the last trust bundle (offline.js), once per code at this
// counter, and the check is queued for upload when the network returns. A
// service worker (sw.js) keeps the page itself.

import {
  $, el, api, showView, serverNow, mmss, typeName, claimName, claimText, isPortrait, ageClaims,
} from './common.js';
import * as offline from './offline.js';
import {
  t, tn, setT, setData, setNodes, dataSpan, regSpan, applyPage, loadTypes, timeText,
} from './i18n.js';

const KEY = 'eidwallet.verifier.key';      // sessionStorage only: gone when the tab closes
const NAME = 'eidwallet.verifier.name';
const VIEWS = ['signin-view', 'scan-view', 'busy-view', 'result-view', 'request-view'];
const RESULT_SECONDS = 15;
const SHARE_TEXT = /^EID1:[A-Z2-7]{26}$/;
const PRESENCE_TEXT = /^EIDP1:[A-Z2-7]{26}$/;

let view = '';
let busy = false;
let countdownTimer = 0;
let countdownLeft = 0;
let held = false;

function go(name) {
  view = name;
  showView(VIEWS, name);
  document.body.dataset.view = name;
}

// ---- sign-in ----

function apiKey() {
  return sessionStorage.getItem(KEY) || '';
}

function showWho() {
  const name = sessionStorage.getItem(NAME);
  if (name) setNodes($('who'), 'v.who.named', { name: dataSpan(name) });
  else setT($('who'), 'v.who');
  $('who').hidden = false;
  $('sign-out').hidden = false;
}

function signedOut(message) {
  stopCamera();
  stopCountdown();
  clearResult();
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(NAME);
  stopRequest();
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('flagged-box').hidden = true; // the next verifier's are its own (offline.flagged)
  $('api-key').value = '';
  const err = $('signin-error');
  if (message) setT(err, message);
  else err.textContent = '';
  err.hidden = !message;
  go('signin-view');
  $('api-key').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $('api-key').value.trim();
  const err = $('signin-error');
  err.hidden = true;
  if (!key) {
    setT(err, 'v.signin.empty');
    err.hidden = false;
    $('api-key').focus();
    return;
  }
  try {
    // Any verifier route checks the key; the log is the cheapest one.
    await api('GET', '/v1/verifier/verifications?limit=1', { token: key });
  } catch (e) {
    if (e.status === 401) setT(err, 'v.signin.refused');
    else if (e.status === 403) setT(err, 'v.signin.not_verifier');
    else if (e.status === 429) setT(err, 'v.signin.rate_limited', { s: e.retryAfter || '…' });
    else if (e.status === 0) setT(err, 'v.signin.network');
    else setT(err, 'v.signin.failed', { message: e.message });
    err.hidden = false;
    $('api-key').focus();
    return;
  }
  sessionStorage.setItem(KEY, key);
  $('api-key').value = '';
  showWho();
  toScan();
  syncOffline();
}

// ---- scanning ----

function toScan() {
  stopRequest();
  stopCountdown();
  clearResult();
  go('scan-view');
  showOfflineState();
  const input = $('scan-input');
  input.value = '';
  input.focus();
}

/** The scanned or typed text, as a scanner or a person may give it. */
function normalise(text) {
  const s = String(text || '').replace(/[\u200b-\u200d\ufeff]+/g, '').replace(/^\s+/, '');
  // A space is one of base45's characters (RFC 9285 §4): an EIDC1: code
  // keeps its spaces and loses only line breaks and tabs.
  if (/^EIDC1:/i.test(s)) return s.replace(/[\r\n\t]+/g, '').toUpperCase();
  return s.replace(/\s+/g, '').toUpperCase();
}

async function check(raw, source) {
  if (busy) return;
  const text = normalise(raw);
  showError('');
  if (!text) {
    $('scan-input').focus();
    return;
  }
  if (PRESENCE_TEXT.test(text)) {
    await startRequest(text);
    return;
  }
  if (offline.COMPACT_TEXT.test(text)) {
    await checkCompact(text, source);
    return;
  }
  if (!SHARE_TEXT.test(text)) {
    showInvalid(localProblem(text), '');
    return;
  }
  busy = true;
  go('busy-view');
  try {
    const resp = await api('POST', '/v1/verify', { token: apiKey(), json: { qr: text } });
    if (source === 'camera') camera.lastText = text;
    showValid(resp);
  } catch (e) {
    if (e.status === 401) {
      busy = false;
      signedOut('v.signin.key_gone');
      return;
    }
    if (source === 'camera') camera.lastText = text;
    const p = problem(e);
    showInvalid(p, e.code + (e.reason ? ' / ' + e.reason : ''));
  } finally {
    busy = false;
  }
}

// checkCompact checks an EIDC1: code: refused at once when this counter
// checked it before; online by POST /v1/verify (one-time at the service);
// on this device when there is no network, then queued for upload.
async function checkCompact(text, source) {
  busy = true;
  go('busy-view');
  try {
    const peek = offline.peek(text);
    if (peek && await offline.seen(peek.cti).catch(() => false)) {
      showInvalid(ALREADY_HERE, 'seen_at_this_counter');
      return;
    }
    if (navigator.onLine) {
      try {
        const resp = await api('POST', '/v1/verify', { token: apiKey(), json: { qr: text } });
        if (peek) await offline.markSeen(peek.cti, peek.exp).catch(() => {});
        showValid(resp);
        if (!$('tech').textContent) setT($('tech'), 'v.result.compact_online');
        return;
      } catch (e) {
        if (e.status === 401) {
          busy = false;
          signedOut('v.signin.key_gone');
          return;
        }
        if (e.status !== 0 || e.code === 'timeout') {
          showInvalid(problem(e), e.code + (e.reason ? ' / ' + e.reason : ''));
          return;
        }
        // No network after all: check it here.
      }
    }
    await checkHere(text);
  } finally {
    if (source === 'camera') camera.lastText = text;
    busy = false;
  }
}

// A refusal is {id, vars}: its words are v.why.<id> and v.why.<id>.detail.
const ALREADY_HERE = { id: 'already_here' };

// checkHere verifies an EIDC1: code on this device and queues the outcome.
async function checkHere(text) {
  const r = await offline.verify(text);
  const verifiedAt = new Date(serverNow()).toISOString();
  if (r.valid && !(await offline.markSeen(r.share.cti, r.share.exp).catch(() => false))) {
    showInvalid(ALREADY_HERE, 'seen_at_this_counter');
    return;
  }
  if (r.trusted) {
    await offline.enqueue(apiKey(), { cti: r.share.cti, verified_at: verifiedAt, result: r.valid ? 'valid' : r.reason, type: r.share.type })
      .catch(() => {});
  }
  if (r.valid) {
    const s = r.share;
    showValid({
      offline: true,
      cti: s.cti,
      documents: [{ type: s.type, issuer: { id: s.issuer, name: s.issuerName }, claims: s.claims }],
    });
  } else {
    showInvalid(offlineProblem(r.reason), 'offline / ' + r.reason);
  }
  showOfflineState();
}

// Plain words for the offline verifier's reasons (offline.Reason).
function offlineProblem(reason) {
  switch (reason) {
    case 'cannot_verify_offline':
    case 'status_unknown':
      return { id: 'cannot_verify_offline' };
    case 'expired':
      return { id: 'share_expired' };
    case 'not_yet_valid':
      return { id: 'not_yet_valid' };
    case 'credential_revoked':
    case 'credential_suspended':
    case 'invalid_signature':
      return { id: reason };
    case 'unknown_key':
    case 'not_authorized_for_type':
      return { id: 'unknown_key' };
    case 'unsupported_alg':
      return { id: 'unsupported_alg' };
    default:
      return { id: 'unreadable' };
  }
}

/** What is wrong with a text that is not a share code at all. */
function localProblem(text) {
  if (text.startsWith('EIDR1:')) return { id: 'request_code' };
  return { id: 'not_a_code' };
}

// The API's verification reasons (SPEC §5) with words of their own.
const reasons = new Set([
  'credential_revoked', 'credential_suspended', 'credential_expired', 'invalid_signature',
  'untrusted_issuer', 'issuer_not_authorized_for_type', 'device_revoked',
]);

// Plain words for the API's errors (SPEC §5) and verification reasons.
function problem(e) {
  switch (e.code) {
    case 'share_already_redeemed':
    case 'share_expired':
    case 'share_cancelled':
    case 'not_found':
      return { id: e.code };
    case 'forbidden':
      if (e.reason === 'audience_mismatch' || e.reason === 'claims_not_registered') return { id: e.reason };
      return { id: 'forbidden' };
    case 'rate_limited':
      return { id: 'rate_limited', vars: { s: e.retryAfter || '…' } };
    case 'status_unavailable':
    case 'storage_unavailable':
    case 'server_error':
      return { id: 'unavailable' };
    case 'verification_failed':
      if (reasons.has(e.reason)) return { id: e.reason };
      if (String(e.reason).startsWith('kb_')) return { id: 'kb' };
      return { id: 'verification_failed' };
    case 'network':
      return { id: 'network' };
    case 'timeout':
      return { id: 'timeout' };
    case 'invalid_request':
      return { id: 'invalid_request' };
    default:
      return { id: 'other', vars: { message: e.message || '' } };
  }
}

// ---- the result screen ----

function clearResult() {
  $('announce').textContent = '';
  for (const id of ['reason', 'name', 'badges', 'tech']) $(id).textContent = '';
  $('result-view').dataset.result = '';
  $('claims').replaceChildren();
  $('documents').replaceChildren();
  const img = $('portrait');
  img.hidden = true;
  img.removeAttribute('src');
  $('verdict').textContent = '';
  $('result-view').classList.remove('ok', 'bad');
}

// Claims shown in their own places, not in the list.
const placed = new Set(['full_name', 'portrait']);

function showValid(resp) {
  clearResult();
  if (resp.verifier && resp.verifier.name) {
    sessionStorage.setItem(NAME, resp.verifier.name);
    showWho();
  }
  const rv = $('result-view');
  rv.classList.add('ok');
  setT($('verdict'), 'v.verdict.valid');
  $('result-view').dataset.result = 'valid';
  const docs = resp.documents || [];
  let name = '';
  let portrait = '';
  const ages = new Map();
  const rows = [];
  for (const d of docs) {
    const claims = d.claims || {};
    if (!name && typeof claims.full_name === 'string') name = claims.full_name;
    if (!portrait && isPortrait(claims.portrait)) portrait = claims.portrait;
    for (const [n, v] of ageClaims(claims)) ages.set(n, v);
    for (const [k, v] of Object.entries(claims)) {
      if (placed.has(k) || /^age_over_\d+$/.test(k)) continue;
      rows.push([claimName(k, d.type), claimText(k, v)]);
    }
    const issuer = d.issuer && (d.issuer.name || d.issuer.id);
    $('documents').append(setNodes(el('li'), issuer ? 'v.result.doc' : 'v.result.doc_unknown', {
      type: regSpan(typeName(d.type), 'doc-type'),
      issuer: dataSpan(issuer || '', 'doc-issuer'),
    }));
  }
  if (resp.offline) setT($('reason'), 'v.result.offline');
  else setT($('reason'), docs.length === 1 ? 'v.result.checked.one' : 'v.result.checked.other', { n: docs.length });
  setData($('name'), name);
  if (portrait) {
    const img = $('portrait');
    img.src = portrait;
    img.hidden = false;
  }
  for (const [n, v] of [...ages.entries()].sort((a, b) => a[0] - b[0])) {
    $('badges').append(setT(el('span', { class: v ? 'badge badge-yes' : 'badge badge-no' }), v ? 'v.badge.over' : 'v.badge.under', { n }));
  }
  for (const [k, v] of rows) $('claims').append(el('dt', { 'data-reg': '', text: k }), el('dd', { 'data-value': '', text: v }));
  if (resp.offline) setT($('tech'), 'v.result.tech_offline', { code: resp.cti });
  else if (resp.share_id) setT($('tech'), 'v.result.tech_share', { id: resp.share_id });
  else $('tech').textContent = '';
  finishResult();
}

function showInvalid(p, code) {
  clearResult();
  $('result-view').classList.add('bad');
  setT($('verdict'), 'v.verdict.invalid');
  $('result-view').dataset.result = 'invalid';
  setT($('reason'), `v.why.${p.id}`, p.vars);
  setT($('name'), `v.why.${p.id}.detail`, p.vars);
  if (code) setT($('tech'), 'v.result.tech_code', { code });
  else $('tech').textContent = '';
  finishResult();
}

function finishResult() {
  go('result-view');
  // One sentence for screen readers: the verdict, then the reason or name.
  $('announce').textContent = `${$('verdict').textContent}. ${$('reason').textContent}. ${$('name').textContent}`;
  $('announce').dataset.t = 'v.announce'; // made of catalogue text and data
  held = false;
  $('hold').setAttribute('aria-pressed', 'false');
  setT($('hold'), 'v.result.hold');
  startCountdown(RESULT_SECONDS);
  $('next').focus();
}

function startCountdown(seconds) {
  stopCountdown();
  countdownLeft = seconds;
  const bar = $('countdown');
  bar.max = seconds;
  renderCountdown();
  countdownTimer = setInterval(() => {
    if (held) return;
    countdownLeft -= 1;
    renderCountdown();
    if (countdownLeft <= 0) toScan();
  }, 1000);
}

function renderCountdown() {
  $('countdown').value = Math.max(0, countdownLeft);
  if (held) setT($('countdown-text'), 'v.result.held');
  else setT($('countdown-text'), 'v.result.countdown_text', { s: Math.max(0, countdownLeft) });
}

function stopCountdown() {
  clearInterval(countdownTimer);
  countdownTimer = 0;
}

function toggleHold() {
  held = !held;
  $('hold').setAttribute('aria-pressed', String(held));
  setT($('hold'), held ? 'v.result.resume' : 'v.result.hold');
  renderCountdown();
}

// ---- camera ----

const camera = {
  stream: null,
  timer: 0,
  detect: null,     // async (video) => text or ''
  canvas: null,
  lastText: '',     // the last code checked from the camera: not checked again while it stays in view
  lastSeen: 0,
};

async function toggleCamera() {
  if (camera.stream) {
    stopCamera();
    return;
  }
  const status = $('camera-status');
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setT(status, 'v.camera.insecure');
    return;
  }
  setT(status, 'v.camera.starting');
  try {
    camera.detect = await makeDetector();
    camera.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    camera.stream = null;
    setT(status, e && e.name === 'NotAllowedError' ? 'v.camera.denied'
      : e && e.name === 'NotFoundError' ? 'v.camera.none' : 'v.camera.failed');
    return;
  }
  const video = $('camera-video');
  video.srcObject = camera.stream;
  video.hidden = false;
  try {
    await video.play();
  } catch {
    // autoplay of a muted stream is allowed; a failure shows as no frames
  }
  setT($('camera-toggle'), 'v.camera.stop');
  $('camera-toggle').setAttribute('aria-pressed', 'true');
  setT(status, 'v.camera.hold');
  scheduleScan();
}

function stopCamera() {
  clearTimeout(camera.timer);
  camera.timer = 0;
  if (camera.stream) for (const t of camera.stream.getTracks()) t.stop();
  camera.stream = null;
  camera.lastText = '';
  const video = $('camera-video');
  video.srcObject = null;
  video.hidden = true;
  setT($('camera-toggle'), 'v.camera.start');
  $('camera-toggle').setAttribute('aria-pressed', 'false');
  $('camera-status').textContent = '';
}

function scheduleScan() {
  clearTimeout(camera.timer);
  camera.timer = setTimeout(scanFrame, 150);
}

async function scanFrame() {
  if (!camera.stream) return;
  const video = $('camera-video');
  if (view === 'scan-view' && !busy && video.readyState >= 2) {
    let text = '';
    try {
      text = normalise(await camera.detect(video));
    } catch {
      text = '';
    }
    const now = Date.now();
    if (text && text === camera.lastText && now - camera.lastSeen < 60000) {
      camera.lastSeen = now; // the same code still in view: checked already
    } else if (text) {
      camera.lastSeen = now;
      await check(text, 'camera');
    }
  }
  if (camera.stream) scheduleScan();
}

// makeDetector uses the browser's BarcodeDetector where it reads QR codes,
// and jsQR (served from this binary) elsewhere.
async function makeDetector() {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const bd = new window.BarcodeDetector({ formats: ['qr_code'] });
        return async (video) => {
          const codes = await bd.detect(video);
          return codes.length ? codes[0].rawValue : '';
        };
      }
    } catch {
      // fall through to jsQR
    }
  }
  await loadScript('/vendor/jsQR.js');
  camera.canvas = document.createElement('canvas');
  const ctx = camera.canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    // At most 800 px across: enough for a version-2 code, cheap to decode.
    const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    if (!w || !h) return '';
    camera.canvas.width = w;
    camera.canvas.height = h;
    ctx.drawImage(video, 0, 0, w, h);
    const img = ctx.getImageData(0, 0, w, h);
    const code = window.jsQR(img.data, w, h, { inversionAttempts: 'attemptBoth' });
    return code ? code.data : '';
  };
}

function loadScript(src) {
  if (window.jsQR) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = el('script', { src });
    s.addEventListener('load', () => resolve());
    s.addEventListener('error', () => reject(new Error('could not load ' + src)));
    document.head.append(s);
  });
}

// ---- request mode (SPEC §3.4) ----

// What the counter can ask for. The service refuses a request for claims
// the verifier is not registered for (403), and the page says so.
const TEMPLATES = [
  { key: 'age18', claims: { national_id: ['age_over_18', 'portrait'] } },
  { key: 'name_photo', claims: { national_id: ['full_name', 'portrait'] } },
  { key: 'name_birth_photo', claims: { national_id: ['full_name', 'birth_date', 'portrait'] } },
  { key: 'health', claims: { health_insurance: ['full_name', 'card_number'] } },
  { key: 'licence', claims: { driver_licence: ['full_name', 'classes', 'expiry_date'] } },
].map((x) => ({ ...x, label: t(`v.tpl.${x.key}`), purpose: t(`v.tpl.${x.key}.purpose`) }));
const REQUEST_SECONDS = 120;

let request = null; // {id, status, expiresAt, presence, abort}
let requestTimer = 0;
let qrURL = '';

function template() {
  return TEMPLATES[Number($('ask-template').value) || 0];
}

function fillTemplates() {
  const sel = $('ask-template');
  TEMPLATES.forEach((x, i) => sel.append(setT(el('option', { value: String(i) }), `v.tpl.${x.key}`)));
  $('ask-purpose').value = TEMPLATES[0].purpose;
  sel.addEventListener('change', () => {
    // A purpose the staff wrote themselves is kept.
    const p = $('ask-purpose');
    if (!p.value.trim() || TEMPLATES.some((t) => t.purpose === p.value)) p.value = template().purpose;
  });
}

function claimList(claims) {
  return Object.entries(claims).map(([type, names]) => t('v.request.claims_of', {
    claims: names.map((n) => claimName(n, type)).join(', '), type: typeName(type),
  })).join('; ');
}

// startRequest makes a request: a code to show (EIDR1: for the eidwallet
// app, or an openid4vp:// link for any OpenID4VP 1.0 wallet, issue 11),
// or, with the text of a presence code the staff scanned, one sent to that
// citizen's app. A presence code comes from the eidwallet app, so that
// request is always EIDR1: whatever the wallet choice says (the service
// refuses presence with openid4vp).
async function startRequest(presence) {
  if (busy) return;
  const tpl = template();
  const purpose = $('ask-purpose').value.trim() || tpl.purpose;
  const oid4vp = !presence && $('ask-wallet').value === 'openid4vp';
  const body = { claims: tpl.claims, purpose, ttl_seconds: REQUEST_SECONDS };
  if (presence) body.presence = presence;
  // client_id_prefix and response_mode are left to the service's
  // defaults (x509_hash, direct_post.jwt: a signed request, §5.9.3, and
  // an encrypted response, §8.3, as HAIP 1.0 §5 asks).
  if (oid4vp) body.protocol = 'openid4vp';
  busy = true;
  showError('');
  go('busy-view');
  let resp;
  try {
    resp = await api('POST', '/v1/verifier/requests', { token: apiKey(), json: body });
  } catch (e) {
    busy = false;
    if (e.status === 401) {
      signedOut('v.signin.key_gone');
      return;
    }
    const why = e.status === 403 ? ['v.ask.err.forbidden']
      : e.status === 404 && presence ? ['v.ask.err.presence']
        : e.status === 429 ? ['v.ask.err.rate_limited', { s: e.retryAfter || '…' }]
          : e.status === 0 ? ['v.ask.err.network']
            : ['v.ask.err.other', { message: e.message }];
    toScan();
    showError(...why);
    return;
  }
  busy = false;
  request = { id: resp.request_id, status: resp.status, expiresAt: Date.parse(resp.expires_at), presence: !!presence, oid4vp, abort: new AbortController() };
  go('request-view');
  setT($('request-title'), presence ? 'v.request.title.presence' : oid4vp ? 'v.request.title.oid4vp' : 'v.request.title.app');
  setNodes($('request-what'), 'v.request.what', { claims: regSpan(claimList(tpl.claims)), purpose: dataSpan(purpose) });
  $('request-qr').alt = t(oid4vp ? 'v.request.alt.wallet' : 'v.request.alt.app');
  setT($('request-text-label'), oid4vp ? 'v.request.text.link' : 'v.request.text.code');
  $('request-text').value = resp.qr_text || '';
  $('request-text-box').hidden = !resp.qr_text;
  // A wallet on this device (the staff's own phone or tablet) is invoked
  // by the same link as a custom URL scheme (OpenID4VP 1.0 §9; openid4vp://
  // is the scheme of §13.1.2).
  const link = $('request-link');
  if (oid4vp && resp.qr_text) link.href = resp.qr_text;
  else link.removeAttribute('href');
  $('request-link-box').hidden = !(oid4vp && resp.qr_text);
  $('request-progress').max = Math.max(1, Math.round((request.expiresAt - serverNow()) / 1000));
  $('request-status').className = 'qr-status';
  const img = $('request-qr');
  img.hidden = true;
  if (resp.qr_text) loadRequestQR(request);
  tickRequest();
  requestTimer = setInterval(tickRequest, 1000);
  $('request-stop').focus();
  pollRequest(request);
}

async function loadRequestQR(r) {
  try {
    const resp = await api('GET', `/v1/verifier/requests/${encodeURIComponent(r.id)}/qr.svg?size=320`, { token: apiKey(), raw: true, signal: r.abort.signal });
    const blob = await resp.blob();
    if (request !== r) return;
    if (qrURL) URL.revokeObjectURL(qrURL);
    qrURL = URL.createObjectURL(blob);
    const img = $('request-qr');
    img.src = qrURL;
    img.hidden = !scannable(r);
  } catch {
    // the text below still works
  }
}

// scannable reports whether a request's code is still worth showing. An
// EIDR1: code is spent once the app resolved it; an OpenID4VP link stays
// good until the request is answered, so a citizen whose first wallet
// lacks the document can scan it with another (the service serves it as
// long, wallet.Service.RequestQR).
function scannable(r) {
  return r.status === 'created' || (r.oid4vp && r.status === 'delivered');
}

function tickRequest() {
  if (!request) return;
  const left = (request.expiresAt - serverNow()) / 1000;
  $('request-progress').value = Math.max(0, left);
  const waiting = request.status === 'delivered'
    ? (request.oid4vp ? 'v.request.wait.opened' : 'v.request.wait.looking')
    : request.presence ? 'v.request.wait.sent'
      : request.oid4vp ? 'v.request.wait.wallet' : 'v.request.wait.scan';
  setT($('request-status'), waiting, { left: mmss(left) });
}

// pollRequest long-polls the request's state (GET ?wait=) until it is
// answered or expires. Long-polling, not EventSource: an EventSource
// cannot send the API key in an Authorization header.
async function pollRequest(r) {
  while (request === r) {
    let res;
    try {
      res = await api('GET', `/v1/verifier/requests/${encodeURIComponent(r.id)}?wait=25&since=${encodeURIComponent(r.status)}`,
        { token: apiKey(), signal: r.abort.signal });
    } catch (e) {
      if (request !== r) return;
      if (e.status === 401) {
        signedOut('v.signin.key_gone');
        return;
      }
      await new Promise((ok) => setTimeout(ok, 2000)); // a blip: try again
      continue;
    }
    if (request !== r) return;
    r.status = res.status;
    switch (res.status) {
      case 'approved':
        stopRequest();
        showValid(res.result || {});
        return;
      case 'declined':
        // An OpenID4VP wallet declines with an error response (OpenID4VP
        // 1.0 §8.5), which need not be the citizen's choice: a wallet
        // without a matching document says the same.
        stopRequest();
        showInvalid({ id: r.oid4vp ? 'declined_wallet' : 'declined' }, 'request_declined');
        return;
      case 'expired':
        stopRequest();
        showInvalid({ id: 'no_answer' }, 'request_expired');
        return;
      default: {
        const show = scannable(r) && !!$('request-text').value;
        $('request-qr').hidden = !show || !qrURL;
        $('request-text-box').hidden = !show;
        $('request-link-box').hidden = !show || !r.oid4vp;
        tickRequest();
      }
    }
  }
}

function stopRequest() {
  clearInterval(requestTimer);
  requestTimer = 0;
  if (request) request.abort.abort();
  request = null;
  if (qrURL) URL.revokeObjectURL(qrURL);
  qrURL = '';
  $('request-qr').removeAttribute('src');
  $('request-text').value = '';
  $('request-link').removeAttribute('href');
  $('request-link-box').hidden = true;
}

function showError(key, vars) {
  const e = $('ask-error');
  if (key) setT(e, key, vars);
  else e.textContent = '';
  e.hidden = !key;
}

// ---- keyboard ----

// A counter scanner is a keyboard: whatever it types while nothing else
// takes text goes to the code field, even on the result screen.
function onKeydown(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.key.length !== 1) {
    if ((view === 'result-view' || view === 'request-view') && ev.key === 'Escape') toScan();
    return;
  }
  const t = document.activeElement;
  const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
  if (typing) return;
  if ((view === 'result-view' || view === 'request-view') && ev.key !== ' ') {
    toScan(); // focuses the field: the key lands in it
  } else if (view === 'scan-view') {
    $('scan-input').focus();
  }
}

function onPaste(ev) {
  // A pasted share code is checked at once; anything else stays in the
  // field for the person to look at.
  const text = normalise(ev.clipboardData ? ev.clipboardData.getData('text') : '');
  if (SHARE_TEXT.test(text) || offline.COMPACT_TEXT.test(text)) {
    ev.preventDefault();
    $('scan-input').value = text;
    check(text, 'paste');
  }
}

// ---- offline ----

const SYNC_MS = 5 * 60 * 1000; // how often, while online, the trust data is renewed and the queue sent

// showOfflineState says under the scan field whether codes can be checked
// with no network, and what waits for upload.
async function showOfflineState() {
  const [st, n] = await Promise.all([
    offline.trustState().catch(() => ({ ready: false, reason: 'none' })),
    apiKey() ? offline.queued(apiKey()).catch(() => 0) : 0,
  ]);
  let text;
  if (!st.ready) {
    text = t(st.reason === 'stale' ? 'v.offline.stale' : 'v.offline.not_ready');
  } else {
    text = t(navigator.onLine ? 'v.offline.online' : 'v.offline.offline', { from: timeText(st.issuedAt), until: timeText(st.usableUntil) });
  }
  if (n) text += ' ' + tn('v.offline.queued', n);
  $('offline-status').textContent = text;
  $('offline-status').dataset.t = 'v.offline';
  await showFlagged();
}

async function showFlagged() {
  const list = apiKey() ? await offline.flagged(apiKey()).catch(() => []) : [];
  const ul = $('flagged-list');
  ul.replaceChildren(...list.map((f) => setNodes(el('li'), 'v.flagged.item', {
    type: regSpan(typeName(f.type)), at: timeText(Date.parse(f.verified_at)),
  })));
  $('flagged-box').hidden = list.length === 0;
}

let syncing = null;

// syncOffline renews the trust data and sends the queue, when online.
function syncOffline() {
  if (!navigator.onLine) {
    showOfflineState();
    return Promise.resolve();
  }
  if (!syncing) {
    syncing = (async () => {
      await offline.refreshTrust();
      await offline.pruneSeen().catch(() => {});
      if (apiKey()) {
        const r = await offline.upload(apiKey()).catch(() => null);
        if (r && r.unauthorized) signedOut('v.signin.key_gone');
        if (r && r.flagged) setT($('announce'), r.flagged === 1 ? 'v.offline.flagged.one' : 'v.offline.flagged.other', { n: r.flagged });
      }
      await showOfflineState();
    })().finally(() => { syncing = null; });
  }
  return syncing;
}

function startOffline() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/assets/sw.js', { scope: '/verify' }).catch(() => {
      // no worker: the page still works online, and offline while it stays open
    });
  }
  window.addEventListener('online', () => syncOffline());
  window.addEventListener('offline', () => showOfflineState());
  setInterval(() => syncOffline(), SYNC_MS);
  // The state line follows the clock: a bundle that grows too old while
  // the page stays open says so.
  setInterval(() => { if (view === 'scan-view') showOfflineState(); }, 30 * 1000);
  $('flagged-dismiss').addEventListener('click', async () => {
    await offline.dismissFlagged(apiKey()).catch(() => {});
    await showFlagged();
    $('scan-input').focus();
  });
  syncOffline();
}

async function init() {
  applyPage();
  // Sign-in works before the types have loaded: a form the browser
  // submitted itself would put the key in the URL. The key's input has no
  // name either, so that even then it would not.
  $('signin-form').addEventListener('submit', signIn);
  await loadTypes();
  $('scan-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    check($('scan-input').value, 'typed');
  });
  $('scan-input').addEventListener('paste', onPaste);
  $('camera-toggle').addEventListener('click', toggleCamera);
  $('next').addEventListener('click', toScan);
  $('ask-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    startRequest('');
  });
  $('request-stop').addEventListener('click', toScan);
  fillTemplates();
  $('hold').addEventListener('click', toggleHold);
  $('sign-out').addEventListener('click', () => signedOut(''));
  document.addEventListener('keydown', onKeydown);
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stopCamera();
  });
  if (apiKey()) {
    showWho();
    toScan();
  } else {
    signedOut('');
  }
  startOffline();
}

init();
