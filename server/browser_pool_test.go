package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/eidwallet/eidwallet/api"
)

// The demo wallet's pool of one-time device keys (issue 12 item 5, batch
// copies; SPEC §6), in real Chromium against the real service: the page
// registers non-extractable keys, each share presents a copy bound to
// another of them, a spent key is deleted, an installation from before the
// pool (IndexedDB version 1) gains one, and removing the device drops it.

// poolKeys is what the page keeps in its key pool, read back from IndexedDB.
type poolKeys struct {
	Version  int      `json:"version"`
	Count    int      `json:"count"`
	Kids     []string `json:"kids"`
	Crypto   bool     `json:"crypto"`   // every private key is a CryptoKey
	Bad      []string `json:"bad"`      // keys that are not what they should be
	Export   string   `json:"export"`   // what exporting the first private key as a JWK did
	DeviceID string   `json:"deviceId"` // the device record's
	Kid      string   `json:"kid"`      // the device key's thumbprint
}

// poolDBScript opens the page's database at whatever version it has, as
// poolKeysScript and poolTokenScript do.
const poolDBScript = `
  const open = () => new Promise((resolve, reject) => {
    const r = indexedDB.open('eidwallet-demo');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const all = (d, store) => new Promise((resolve, reject) => {
    if (!d.objectStoreNames.contains(store)) return resolve({ keys: [], values: [] });
    const tx = d.transaction(store);
    const keys = tx.objectStore(store).getAllKeys();
    const values = tx.objectStore(store).getAll();
    tx.oncomplete = () => resolve({ keys: keys.result, values: values.result });
    tx.onerror = () => reject(tx.error);
  });
  const b64u = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const text64 = (s) => b64u(new TextEncoder().encode(s));
  const thumb = async (j) => b64u(await crypto.subtle.digest('SHA-256',
    new TextEncoder().encode(JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x, y: j.y }))));
`

// poolKeysScript describes the key pool: each entry a P-256 private
// CryptoKey that cannot be exported, kept under the thumbprint of its
// public key, for the current device.
const poolKeysScript = `(async () => {` + poolDBScript + `
  const d = await open();
  try {
    const dev = await all(d, 'device');
    const cur = dev.values[dev.keys.indexOf('current')] || {};
    const pool = await all(d, 'pool');
    const out = { version: d.version, count: pool.values.length, kids: pool.keys, crypto: true, bad: [], export: '',
      deviceId: cur.deviceId || '', kid: cur.kid || '' };
    for (let i = 0; i < pool.values.length; i++) {
      const v = pool.values[i], k = v && v.privateKey;
      if (!(k instanceof CryptoKey)) { out.crypto = false; out.bad.push(pool.keys[i] + ': not a CryptoKey'); continue; }
      if (k.type !== 'private' || k.extractable || k.algorithm.name !== 'ECDSA' || k.algorithm.namedCurve !== 'P-256' || !k.usages.includes('sign')) {
        out.bad.push(pool.keys[i] + ': ' + JSON.stringify({ type: k.type, extractable: k.extractable, alg: k.algorithm, usages: k.usages }));
      }
      if (!v.jwk || await thumb(v.jwk) !== pool.keys[i]) out.bad.push(pool.keys[i] + ': not kept under its thumbprint');
      if (v.deviceId !== cur.deviceId) out.bad.push(pool.keys[i] + ': of device ' + v.deviceId);
    }
    if (pool.values.length && pool.values[0].privateKey instanceof CryptoKey) {
      out.export = await crypto.subtle.exportKey('jwk', pool.values[0].privateKey).then(() => 'exported', (e) => e.name);
    }
    return out;
  } finally {
    d.close();
  }
})()`

// poolTokenScript gets an access token for the page's device, signing the
// assertion with the device key the page keeps (SPEC §3.1 step 3): the
// test then asks the service about the device's pool itself.
const poolTokenScript = `(async () => {` + poolDBScript + `
  const d = await open();
  const dev = await all(d, 'device');
  d.close();
  const cur = dev.values[dev.keys.indexOf('current')];
  const iat = Math.floor(Date.now() / 1000);
  const aud = document.querySelector('meta[name="eidwallet-token-endpoint"]').content;
  const input = text64(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: cur.kid })) + '.' + text64(JSON.stringify({
    iss: cur.deviceId, sub: cur.deviceId, aud, iat, exp: iat + 60, jti: b64u(crypto.getRandomValues(new Uint8Array(16))) }));
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, cur.privateKey, new TextEncoder().encode(input));
  const r = await fetch('/v1/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: input + '.' + b64u(sig) }).toString() });
  if (!r.ok) throw new Error('token: ' + r.status + ' ' + await r.text());
  return (await r.json()).access_token;
})()`

// poolV1Script is the page as it was before the pool: it makes a device
// key, enrols it and keeps it in version 1 of the database, which has the
// device store only.
func poolV1Script(citizen, code string) string {
	return `(async () => {` + poolDBScript + `
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const pub = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y };
  const r = await fetch('/v1/enrollments', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ citizen_id: ` + jsString(citizen) + `, activation_code: ` + jsString(code) + `, device_key: jwk, device_name: 'Version 1 page' }) });
  if (r.status !== 201) throw new Error('enrol: ' + r.status + ' ' + await r.text());
  const e = await r.json();
  const device = { privateKey: pair.privateKey, jwk, kid: await thumb(jwk), deviceId: e.device_id, holderId: e.holder_id, name: 'Version 1 page' };
  const d = await new Promise((resolve, reject) => {
    const o = indexedDB.open('eidwallet-demo', 1);
    o.onupgradeneeded = () => o.result.createObjectStore('device');
    o.onsuccess = () => resolve(o.result);
    o.onerror = () => reject(o.error);
  });
  await new Promise((resolve, reject) => {
    const tx = d.transaction('device', 'readwrite');
    tx.objectStore('device').put(device, 'current');
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  d.close();
  return e.device_id;
})()`
}

// poolState is GET /v1/me/device/keys (pointers: a member missing from
// the answer is told from a zero).
type poolState struct {
	Free      *int `json:"free"`
	Copies    *int `json:"copies"` // beside the contract's three, when the service says it
	Wanted    *int `json:"wanted"`
	BatchSize *int `json:"batch_size"`
}

func (p poolState) String() string {
	v := func(n *int) string {
		if n == nil {
			return "absent"
		}
		return fmt.Sprint(*n)
	}
	return fmt.Sprintf("free %s, copies %s, wanted %s, batch_size %s", v(p.Free), v(p.Copies), v(p.Wanted), v(p.BatchSize))
}

// jwkThumbprint is the RFC 7638 thumbprint of a P-256 public JWK (the
// members in lexicographic order, no white space).
func jwkThumbprint(t *testing.T, jwk map[string]any) string {
	t.Helper()
	for _, m := range []string{"crv", "kty", "x", "y"} {
		if _, ok := jwk[m].(string); !ok {
			t.Fatalf("cnf.jwk %v has no %s", jwk, m)
		}
	}
	b, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{jwk["crv"].(string), jwk["kty"].(string), jwk["x"].(string), jwk["y"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// presentationCnf is the cnf.jwk of the issuer JWT of an SD-JWT
// presentation, and its thumbprint.
func presentationCnf(t *testing.T, presentation string) (map[string]any, string) {
	t.Helper()
	jwt, _, _ := strings.Cut(presentation, "~")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("presentation %.60q… does not start with a JWT", presentation)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("issuer JWT payload: %v", err)
	}
	var payload struct {
		Cnf struct {
			JWK map[string]any `json:"jwk"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatalf("issuer JWT payload %s: %v", raw, err)
	}
	if payload.Cnf.JWK == nil {
		t.Fatalf("issuer JWT payload %s has no cnf.jwk", raw)
	}
	return payload.Cnf.JWK, jwkThumbprint(t, payload.Cnf.JWK)
}

// poolShare shares the full name and card number from the page and
// answers the EID1: text of the approved share.
func poolShare(wt *tab) string {
	wt.t.Helper()
	for _, c := range []string{"full_name", "card_number"} {
		wt.do(chromedp.Click(chromedp.CSS(`#documents input[data-claim="` + c + `"]`)))
	}
	wt.do(chromedp.Click(chromedp.ID("share-submit")))
	wt.waitFor("the confirmation", `document.body.dataset.view === 'confirm-view' || !document.getElementById('share-error').hidden`, 15*time.Second)
	if e := wt.text("share-error"); eval[bool](wt, `!document.getElementById('share-error').hidden`) {
		wt.fail("sharing refused: %s", e)
	}
	wt.do(chromedp.Click(chromedp.ID("approve")))
	wt.waitFor("the QR code", `document.body.dataset.view === 'qr-view' || !document.getElementById('confirm-error').hidden`, 15*time.Second)
	if e := wt.text("confirm-error"); eval[bool](wt, `!document.getElementById('confirm-error').hidden`) {
		wt.fail("approval refused: %s", e)
	}
	qr := eval[string](wt, `document.getElementById('qr-text').value`)
	if !shareText.MatchString(qr) {
		wt.fail("qr text %q is not a share code", qr)
	}
	return qr
}

func TestBrowserKeyPool(t *testing.T) {
	chromiumPath(t) // skip at once when there is no browser
	h := newBrowserHarness(t)
	w := h.setup() // the citizen's health insurance card, and a pharmacy registered for its name and number

	activation := func() string {
		t.Helper()
		var code api.ActivationCodeResponse
		h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: w.citizen}, 201, &code)
		return code.Code
	}

	t.Run("batch copies", func(t *testing.T) {
		b := newBrowser(t, h.url, "")
		wt := b.newTab(t)
		wt.do(chromedp.Navigate(h.url + "/demo/wallet"))
		wt.waitView("enrol-view")
		wt.typeKeys(w.citizen + kb.Tab + activation() + kb.Enter)
		wt.waitView("home-view")
		wt.waitFor("documents", `!!document.querySelector('#documents input[data-claim="card_number"]')`, 10*time.Second)

		// The page registers keys in the background; the service then
		// signs copies bound to them. Once at least two copies are made,
		// two shares can present two: the service says how many it holds,
		// or else, at least, the keys held here that are no longer free.
		wt.waitFor("the pool registered", `document.body.dataset.pool === 'ready'`, 30*time.Second)
		token := eval[string](wt, poolTokenScript)
		var st poolState
		var held poolKeys
		deadline := time.Now().Add(30 * time.Second)
		for {
			h.call("GET", "/v1/me/device/keys", token, nil, 200, &st)
			held = eval[poolKeys](wt, poolKeysScript)
			if st.Free == nil || st.Wanted == nil || st.BatchSize == nil {
				t.Fatalf("GET /v1/me/device/keys: %s", st)
			}
			if (st.Copies != nil && *st.Copies >= 2) || (st.Copies == nil && held.Count-*st.Free >= 2) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s the page holds %d pool keys and the service says %s: fewer than two copies of the document are made",
					held.Count, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("pool: the page holds %d keys; the service says %s", held.Count, st)

		// Each pool key is a P-256 CryptoKey that signs and cannot be
		// exported, kept under its thumbprint for this device.
		if held.Version != 2 || !held.Crypto || len(held.Bad) > 0 || held.Export != "InvalidAccessError" {
			t.Errorf("pool keys: version %d, all CryptoKeys %v, export %q, problems %q; want version 2, non-extractable CryptoKeys that refuse export",
				held.Version, held.Crypto, held.Export, held.Bad)
		}

		// Two shares of the same document: two copies, two keys.
		var cnfs []string
		for i := range 2 {
			// The keys held before the share (the page adds more after each).
			pool := map[string]bool{}
			for _, k := range eval[poolKeys](wt, poolKeysScript).Kids {
				pool[k] = true
			}
			qr := poolShare(wt)
			var vr api.VerifyResponse
			h.call("POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qr}, 200, &vr)
			if vr.Result != "valid" || len(vr.Documents) != 1 {
				t.Fatalf("share %d: %+v", i+1, vr)
			}
			doc := vr.Documents[0]
			if doc.HolderBinding != "verified" || doc.Claims["card_number"] != testCard {
				t.Errorf("share %d: holder binding %q, claims %v", i+1, doc.HolderBinding, doc.Claims)
			}
			jwk, kid := presentationCnf(t, doc.Presentation)
			if kid == held.Kid {
				t.Errorf("share %d presents the copy bound to the device key %v, not one of its pool", i+1, jwk)
			} else if !pool[kid] {
				t.Errorf("share %d presents a copy bound to %s, a key the page does not hold", i+1, kid)
			}
			cnfs = append(cnfs, kid)
			wt.do(chromedp.Click(chromedp.ID("qr-done")))
			wt.waitView("home-view")
			// The documents drawn anew: none chosen.
			wt.waitFor("documents", `!!document.querySelector('#documents input[data-claim="card_number"]') && !document.querySelector('#documents input:checked')`, 10*time.Second)
		}
		if cnfs[0] == cnfs[1] {
			t.Errorf("both shares present the copy bound to %s: they can be linked", cnfs[0])
		}

		// The spent keys are gone; the rest stays.
		after := eval[poolKeys](wt, poolKeysScript)
		for _, k := range after.Kids {
			if k == cnfs[0] || k == cnfs[1] {
				t.Errorf("the spent key %s is still in IndexedDB", k)
			}
		}
		if after.Count == 0 || len(after.Bad) > 0 {
			t.Errorf("after two shares the pool has %d keys, problems %q", after.Count, after.Bad)
		}
		wt.waitFor("the pool refilled", `document.body.dataset.pool === 'ready'`, 30*time.Second)
		if s := wt.text("status"); s != "" {
			t.Errorf("status %q after the shares, want none", s)
		}
		wt.checkClean()
	})

	t.Run("upgrade and removal", func(t *testing.T) {
		// A browser enrolled by the page of before the pool: version 1 of
		// the database, with the device store only.
		b := newBrowser(t, h.url, "")
		wt := b.newTab(t)
		wt.do(chromedp.Navigate(h.url + "/verify"))
		wt.waitView("signin-view")
		deviceID := eval[string](wt, poolV1Script(w.citizen, activation()))

		// Today's page keeps that device and gains a pool.
		wt.do(chromedp.Navigate(h.url + "/demo/wallet"))
		wt.waitView("home-view")
		wt.waitFor("documents", `!!document.querySelector('#documents input[data-claim="card_number"]')`, 10*time.Second)
		wt.waitFor("the pool registered", `document.body.dataset.pool === 'ready'`, 30*time.Second)
		held := eval[poolKeys](wt, poolKeysScript)
		if held.Version != 2 || held.DeviceID != deviceID || held.Count == 0 || len(held.Bad) > 0 {
			t.Errorf("after the upgrade: version %d, device %q (want %q), %d pool keys, problems %q",
				held.Version, held.DeviceID, deviceID, held.Count, held.Bad)
		}

		// Removing the device drops its pool with it.
		wt.do(chromedp.Click(chromedp.ID("forget")))
		wt.waitView("enrol-view")
		gone := eval[poolKeys](wt, poolKeysScript)
		if gone.DeviceID != "" || gone.Count != 0 {
			t.Errorf("after removal: device %q, %d pool keys left", gone.DeviceID, gone.Count)
		}
		// ... and leaves nothing of the citizen's in the page.
		left := eval[string](wt, `['documents', 'activity', 'confirm-list'].map((id) => document.getElementById(id).textContent).join('')`)
		if strings.TrimSpace(left) != "" {
			t.Errorf("after removal the page still holds %q", left)
		}
		wt.checkClean()
	})
}
