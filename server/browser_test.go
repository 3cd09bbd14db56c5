package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/prometheus/client_golang/prometheus"
)

// The web pages of issue 5, in real Chromium against the real service:
// (a) a keyboard-wedge scanner, (b) the camera, (c) the demo wallet from
// enrolment to a share the staff page verifies, and (d) in all of them no
// console error and no request leaving 127.0.0.1. Every page state is
// screenshotted and checked for labels, contrast, focus indicators and tab
// order.

// wantPageCSP is the Content-Security-Policy every page must carry.
const wantPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// newBrowserHarness is the real service and handler on 127.0.0.1 with the
// real clock: the browser signs assertions and key-binding JWTs with its
// own clock, as a phone would.
func newBrowserHarness(t *testing.T) *harness {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	svc, _ := servicetest.New(t, wallet.Config{PublicURL: publicURL, Logger: logger})
	admin, err := svc.BootstrapAdmin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := server.New(server.Config{Service: svc, Logger: logger, Registerer: reg, Gatherer: reg})
	ts := httptest.NewServer(h) // 127.0.0.1:0
	t.Cleanup(ts.Close)
	// The clock only dates what the test itself sends (valid_until).
	return &harness{t: t, url: ts.URL, handler: h, svc: svc, clock: &clock{t: time.Now()}, reg: reg, logs: logs, admin: admin, client: ts.Client(), public: publicURL}
}

// shareFor creates and approves a share with a lifetime, as the app would.
func shareFor(h *harness, w *world, ttl int, claims ...string) (id, qrText string) {
	h.t.Helper()
	view := approvedShare(h, w, api.ShareRequest{TTLSeconds: ttl,
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: claims}}})
	return view.ShareID, view.QRText
}

// approvedShare creates req's share and approves it with KB-JWTs of the
// world's device dated by the wall clock (the browser harness runs on it).
func approvedShare(h *harness, w *world, req api.ShareRequest) api.ShareView {
	h.t.Helper()
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, req, 201, &created)
	var kbs []string
	for _, ts := range created.ToSign {
		kbj, err := credentials.SignKB(w.device, credentials.KB{Nonce: ts.Nonce, Aud: ts.Aud, IssuedAt: time.Now().Unix(), SDHash: ts.SDHash})
		if err != nil {
			h.t.Fatal(err)
		}
		kbs = append(kbs, kbj)
	}
	var view api.ShareView
	h.call("POST", "/v1/me/shares/"+created.ShareID+"/approve", w.token, api.ApproveRequest{KBJWTs: kbs}, 200, &view)
	return view
}

// signIn opens the staff page in tb and signs in with key.
func signIn(tb *tab, key string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.b.base + "/verify"))
	tb.waitView("signin-view")
	tb.do(chromedp.Focus(chromedp.ID("api-key")))
	tb.typeKeys(key + kb.Enter)
	tb.waitView("scan-view")
}

// waitVerdict waits for the result screen with the given verdict.
func waitVerdict(tb *tab, verdict string, timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor("verdict "+verdict, `document.body.dataset.view === 'result-view' && document.getElementById('verdict').textContent === '`+verdict+`'`, timeout)
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

var shareText = regexp.MustCompile(`^EID1:[A-Z2-7]{26}$`)

func TestBrowser(t *testing.T) {
	chromiumPath(t) // skip at once, before building anything, when there is no browser
	h := newBrowserHarness(t)
	w := h.setup()

	// The camera's video is made from the service's own PNG of a live share
	// before the browser starts (Chromium takes the file as a flag).
	camID, _ := shareFor(h, w, 300, "full_name")
	resp := h.request("GET", "/v1/me/shares/"+camID+"/qr.png?size=360", w.token, "", nil)
	pngBytes := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("qr.png: %d %s", resp.StatusCode, pngBytes)
	}
	qrImage := decodePNG(t, pngBytes)
	if b := qrImage.Bounds(); b.Dx() != 360 || b.Dy() != 360 {
		t.Fatalf("qr.png?size=360 is %dx%d", b.Dx(), b.Dy()) // SPEC §4: size is honoured
	}
	y4m := filepath.Join(t.TempDir(), "camera.y4m")
	if err := writeY4M(y4m, qrImage, 10); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, h.url, y4m)

	t.Run("keyboard wedge", func(t *testing.T) {
		tb := b.newTab(t)
		tb.do(chromedp.Navigate(h.url + "/verify"))
		tb.waitView("signin-view")
		if id := tb.activeID(); id != "api-key" {
			t.Errorf("focus on arrival is %q, want the key field", id)
		}
		tb.shot("verify-signin")
		tb.checkA11y("staff sign-in", "api-key", "signin-submit")

		// A wrong key is refused in plain words and not kept.
		tb.typeKeys("not-a-verifier-key" + kb.Enter)
		tb.waitFor("sign-in error", `!document.getElementById('signin-error').hidden`, 10*time.Second)
		contains(t, "sign-in error", tb.text("signin-error"), "not accepted")
		tb.shot("verify-signin-refused")
		tb.checkA11y("staff sign-in refused", "api-key", "signin-submit")

		eval[bool](tb, `(() => { const k = document.getElementById('api-key'); k.value = ''; k.focus(); return true; })()`)
		tb.typeKeys(w.verifierKey + kb.Enter)
		tb.waitView("scan-view")
		if !eval[bool](tb, `sessionStorage.getItem('eidwallet.verifier.key') === `+jsString(w.verifierKey)+` && localStorage.length === 0`) {
			t.Error("the API key is not in session storage only")
		}
		// A counter scanner types into whatever has the focus: the code
		// field must have it.
		if id := tb.activeID(); id != "scan-input" {
			t.Errorf("focus on the scan screen is %q, want scan-input", id)
		}
		tb.shot("verify-scan")
		tb.phone("verify-scan")
		tb.checkA11y("staff scan", "sign-out", "scan-input", "scan-submit", "camera-toggle", "ask-wallet", "ask-template", "ask-purpose", "ask-start")

		_, qrText := shareFor(h, w, 60, "full_name", "card_number")
		tb.typeKeys(qrText + kb.Enter)
		waitVerdict(tb, "VALID", 10*time.Second)
		if got := tb.text("name"); got != testFullName {
			t.Errorf("name %q, want %q", got, testFullName)
		}
		contains(t, "documents", tb.text("documents"), "Health insurance card", "Social Security")
		contains(t, "claims", tb.text("claims"), "Card number", testCard)
		contains(t, "countdown", tb.text("countdown-text"), "Back to scanning in")
		tb.shot("verify-valid")
		tb.phone("verify-valid")
		tb.checkA11y("staff valid result", "sign-out", "next", "hold")

		// The same code again, typed by the scanner while the result is
		// still on screen: refused as already used.
		tb.typeKeys(qrText + kb.Enter)
		waitVerdict(tb, "NOT VALID", 10*time.Second)
		contains(t, "reason", tb.text("reason"), "Already used")
		contains(t, "explanation", tb.text("name"), "scanned before")
		tb.shot("verify-already-used")
		tb.phone("verify-already-used")
		tb.checkA11y("staff refused result", "sign-out", "next", "hold")

		// Escape goes back to scanning with an empty, focused field.
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		if id, v := tb.activeID(), eval[string](tb, `document.getElementById('scan-input').value`); id != "scan-input" || v != "" {
			t.Errorf("after Escape: focus %q, field %q; want an empty, focused scan-input", id, v)
		}
		// Pasting a share code checks it at once, without Enter.
		_, pasted := shareFor(h, w, 60, "full_name")
		eval[bool](tb, `(() => { const dt = new DataTransfer(); dt.setData('text/plain', ' `+pasted+`\n');
		  document.getElementById('scan-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		  return true; })()`)
		waitVerdict(tb, "VALID", 10*time.Second)
		contains(t, "screen reader announcement", tb.text("announce"), "VALID", testFullName)
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")

		// Text that is no share code is refused without a call.
		tb.typeKeys("HELLO WORLD" + kb.Enter)
		waitVerdict(tb, "NOT VALID", 5*time.Second)
		contains(t, "reason", tb.text("reason"), "Not an e-ID code")
		tb.checkClean()
	})

	t.Run("camera", func(t *testing.T) {
		tb := b.newTab(t)
		signIn(tb, w.verifierKey)
		tb.do(chromedp.Click(chromedp.ID("camera-toggle")))
		waitVerdict(tb, "VALID", 20*time.Second)
		if got := tb.text("name"); got != testFullName {
			t.Errorf("name %q, want %q", got, testFullName)
		}
		contains(t, "share", tb.text("tech"), camID)
		tb.shot("verify-camera-valid")

		// Back to scanning while the same code is still before the camera:
		// it is not checked a second time.
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		tb.waitFor("camera frames", `document.getElementById('camera-video').readyState >= 2`, 10*time.Second)
		time.Sleep(1500 * time.Millisecond)
		if v := eval[string](tb, `document.body.dataset.view`); v != "scan-view" {
			t.Errorf("the code still in view was checked again: view %q, verdict %q", v, tb.text("verdict"))
		}
		contains(t, "camera status", tb.text("camera-status"), "Hold the citizen")
		tb.shot("verify-camera")
		tb.checkA11y("staff camera", "sign-out", "scan-input", "scan-submit", "camera-toggle", "ask-wallet", "ask-template", "ask-purpose", "ask-start")
		tb.do(chromedp.Click(chromedp.ID("camera-toggle")))
		tb.waitFor("camera off", `document.getElementById('camera-video').hidden`, 5*time.Second)
		tb.checkClean()
	})

	t.Run("request mode", func(t *testing.T) {
		tb := b.newTab(t)
		signIn(tb, w.verifierKey)
		// The pharmacy is registered for the health insurance card only: a
		// request for the identity card is refused in plain words.
		tb.do(chromedp.Click(chromedp.ID("ask-start")))
		tb.waitFor("refusal", `!document.getElementById('ask-error').hidden`, 10*time.Second)
		contains(t, "refusal", tb.text("ask-error"), "not registered")
		tb.shot("verify-request-refused")

		// A request code the citizen's app scans (EIDR1:).
		tb.do(chromedp.SetValue(chromedp.ID("ask-template"), "3"))
		eval[bool](tb, `(() => { const p = document.getElementById('ask-purpose'); p.value = 'Prescription pick-up'; return true; })()`)
		tb.do(chromedp.Click(chromedp.ID("ask-start")))
		tb.waitView("request-view")
		tb.waitFor("request QR", `(() => { const i = document.getElementById('request-qr'); return !i.hidden && i.complete && i.naturalWidth > 0; })()`, 10*time.Second)
		reqText := eval[string](tb, `document.getElementById('request-text').value`)
		if !strings.HasPrefix(reqText, "EIDR1:") {
			t.Fatalf("request text %q", reqText)
		}
		contains(t, "request", tb.text("request-what"), "Name, Card number", "Prescription pick-up")
		tb.shot("verify-request-qr")
		tb.phone("verify-request-qr")
		tb.checkA11y("staff request code", "sign-out", "request-text", "request-stop")

		// The citizen's app resolves it: the page sees it delivered.
		var rv api.RequestView
		h.call("POST", "/v1/me/requests:resolve", w.token, api.ResolveRequest{QR: reqText}, 200, &rv)
		if rv.Verifier.Name != "Corner Pharmacy" || rv.Purpose != "Prescription pick-up" {
			t.Errorf("the app sees %+v", rv)
		}
		tb.waitFor("delivered", `document.getElementById('request-status').textContent.includes('looking at the request')`, 10*time.Second)
		if eval[bool](tb, `!document.getElementById('request-qr').hidden`) {
			t.Error("the request code is still shown after the citizen scanned it")
		}
		tb.shot("verify-request-delivered")

		// The citizen approves on the phone: the staff page shows the answer.
		answerRequest(h, w, rv.RequestID, "full_name", "card_number")
		waitVerdict(tb, "VALID", 35*time.Second)
		if got := tb.text("name"); got != testFullName {
			t.Errorf("name %q, want %q", got, testFullName)
		}
		contains(t, "claims", tb.text("claims"), "Card number", testCard)
		tb.shot("verify-request-approved")

		// The other way in: staff scan the citizen's presence code, the
		// request goes to the app, and the citizen declines.
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		var pres api.PresenceResponse
		h.call("POST", "/v1/me/presence", w.token, nil, 201, &pres)
		tb.typeKeys(pres.QRText + kb.Enter)
		tb.waitView("request-view")
		contains(t, "request title", tb.text("request-title"), "answer on the phone")
		if !eval[bool](tb, `document.getElementById('request-qr').hidden && document.getElementById('request-text-box').hidden`) {
			t.Error("a presence request shows a request code")
		}
		tb.shot("verify-request-presence")
		var pending struct {
			Requests []api.RequestView `json:"requests"`
		}
		h.call("GET", "/v1/me/requests", w.token, nil, 200, &pending)
		if len(pending.Requests) != 1 || pending.Requests[0].Purpose != "Prescription pick-up" {
			t.Fatalf("the app has %+v waiting", pending.Requests)
		}
		h.call("POST", "/v1/me/requests/"+pending.Requests[0].RequestID+"/decline", w.token, nil, 200, nil)
		waitVerdict(tb, "NOT VALID", 35*time.Second)
		contains(t, "reason", tb.text("reason"), "Declined")
		tb.shot("verify-request-declined")
		tb.checkClean()
	})

	// The checks above must be able to fail: a page with planted faults
	// fails each of them.
	t.Run("checks catch faults", func(t *testing.T) {
		tb := b.newTab(t)
		tb.do(chromedp.Navigate(h.url + "/verify"))
		tb.waitView("signin-view")
		eval[bool](tb, plantFaults)
		found := strings.Join(tb.a11yProblems("api-key", "signin-submit"), "\n")
		for _, want := range []string{
			"form control without a label: #planted-input",
			"for #planted-faint",
			"api-key shows no focus indicator",
			"positive tabindex: #planted-tabindex",
			"tab order",
		} {
			if !strings.Contains(found, want) {
				t.Errorf("the accessibility check missed %q; it found:\n%s", want, found)
			}
		}
		// A console error and a script the CSP refuses, then a request to
		// another port from a page without a CSP.
		eval[bool](tb, `(() => { console.error('planted error');
		  const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s); return true; })()`)
		tb.do(chromedp.Navigate("about:blank"))
		eval[bool](tb, `(fetch('http://127.0.0.1:1/planted').catch(() => {}), true)`)
		time.Sleep(500 * time.Millisecond)
		got := strings.Join(tb.takeProblems(), "\n")
		for _, want := range []string{"planted error", "Content Security Policy", "request leaves the test server: http://127.0.0.1:1/planted"} {
			if !strings.Contains(got, want) {
				t.Errorf("the console and network check missed %q; it found:\n%s", want, got)
			}
		}
	})

	t.Run("demo wallet", func(t *testing.T) {
		// The identity card of a citizen not enrolled yet, with a portrait,
		// and a counter registered for what the citizen will share.
		const citizen, name = "079123456789", "Tran Thi Browser"
		code, counter := h.walletCitizen("mps", "Population Registry", citizen, name, "counter", "Post Office Counter")

		wt := b.newTab(t)
		wt.do(chromedp.Navigate(h.url + "/demo/wallet"))
		wt.waitView("enrol-view")
		if id := wt.activeID(); id != "citizen-id" {
			t.Errorf("focus on arrival is %q, want citizen-id", id)
		}
		wt.shot("wallet-enrol")
		wt.phone("wallet-enrol")
		wt.checkA11y("wallet enrol", "citizen-id", "activation-code", "device-name", "enrol-submit")

		// Keyboard only: type, Tab, type, Enter.
		wt.typeKeys(citizen + kb.Tab + code + kb.Enter)
		wt.waitView("home-view")
		wt.waitFor("documents", `!!document.querySelector('#documents input[data-claim="full_name"]')`, 10*time.Second)

		// The device key: a P-256 private key in IndexedDB that can sign and
		// can never be exported.
		key := eval[map[string]any](wt, keyCheckScript)
		if key["type"] != "private" || key["extractable"] != false || key["curve"] != "P-256" || key["export"] != "InvalidAccessError" {
			t.Errorf("device key %v: want a non-extractable P-256 private key that refuses export", key)
		}
		wt.shot("wallet-documents")
		wt.phone("wallet-documents")
		wt.checkA11y("wallet documents")

		for _, c := range []string{"full_name", "portrait", "age_over_18"} {
			wt.do(chromedp.Click(chromedp.CSS(`#documents input[data-claim="` + c + `"]`)))
		}
		wt.do(chromedp.Click(chromedp.ID("share-submit")))
		wt.waitView("confirm-view")
		confirm := wt.text("confirm-list")
		contains(t, "confirmation", confirm, "Citizen identity card", "Name", "Portrait", "Over 18")
		contains(t, "who could redeem it", wt.text("confirm-meta"), "Post Office Counter")
		if strings.Contains(confirm, "Date of birth") {
			t.Errorf("confirmation %q lists a claim that was not chosen", confirm)
		}
		wt.shot("wallet-confirm")
		wt.checkA11y("wallet confirm", "approve", "decline")

		wt.do(chromedp.Click(chromedp.ID("approve")))
		wt.waitView("qr-view")
		wt.waitFor("QR image", `(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`, 10*time.Second)
		qrText := eval[string](wt, `document.getElementById('qr-text').value`)
		if !shareText.MatchString(qrText) {
			t.Fatalf("qr text %q is not a share code", qrText)
		}
		if s := wt.text("qr-status"); !regexp.MustCompile(`^Valid for (1:00|0:[0-5]\d) · one use$`).MatchString(s) {
			t.Errorf("QR status %q, want a countdown from 1:00", s)
		}
		wt.shot("wallet-qr")
		wt.phone("wallet-qr")
		wt.checkA11y("wallet QR")

		// The staff page verifies the share the browser wallet signed.
		st := b.newTab(t)
		signIn(st, counter.APIKey.Key)
		st.typeKeys(qrText + kb.Enter)
		waitVerdict(st, "VALID", 10*time.Second)
		if got := st.text("name"); got != name {
			t.Errorf("name %q, want %q", got, name)
		}
		contains(t, "age badge", st.text("badges"), "Over 18")
		contains(t, "documents", st.text("documents"), "Citizen identity card", "Population Registry")
		if !eval[bool](st, `(() => { const i = document.getElementById('portrait'); return !i.hidden && i.complete && i.naturalWidth > 0; })()`) {
			t.Error("the shared portrait is not shown")
		}
		if c := st.text("claims"); c != "" {
			t.Errorf("claims %q shown beyond name, portrait and age", c)
		}
		st.shot("verify-valid-portrait")
		st.phone("verify-valid-portrait")
		st.checkA11y("staff result with portrait", "sign-out", "next", "hold")
		st.checkClean()

		// The wallet sees the redemption, and its activity log says who.
		wt.waitFor("redeemed", `document.getElementById('qr-status').textContent.includes('Checked by the verifier')`, 10*time.Second)
		wt.shot("wallet-qr-used")
		wt.do(chromedp.Click(chromedp.ID("qr-done")))
		wt.waitView("home-view")
		wt.waitFor("documents loaded", `document.getElementById('status').textContent === '' && !!document.querySelector('#documents input')`, 10*time.Second)
		wt.do(chromedp.Click(chromedp.ID("tab-activity")))
		wt.waitFor("activity", `document.getElementById('activity').textContent.includes('Shared with counter')`, 10*time.Second)
		contains(t, "activity", wt.text("activity"), "Device enrolled", "Share approved", "Citizen identity card: ", "Name", "Portrait", "Over 18")
		wt.shot("wallet-activity")
		wt.checkA11y("wallet activity")

		// The key outlives the page: a reload signs a new assertion with it.
		wt.do(chromedp.Navigate(h.url + "/demo/wallet"))
		wt.waitView("home-view")
		wt.waitFor("documents after reload", `!!document.querySelector('#documents input[data-claim="full_name"]')`, 10*time.Second)

		// Revoked from another device, the browser's assertion is refused
		// (400 invalid_grant, RFC 7523 §3.1) and the page says it is no
		// longer enrolled.
		deviceID := eval[string](wt, `new Promise((resolve, reject) => {
  const open = indexedDB.open('eidwallet-demo');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('device').objectStore('device').get('current');
    get.onsuccess = () => { open.result.close(); resolve(get.result.deviceId); };
    get.onerror = () => reject(get.error);
  };
})`)
		phone := &world{citizen: citizen}
		phone.enroll(h)
		h.call("DELETE", "/v1/me/devices/"+deviceID, phone.token, nil, 204, nil)
		wt.do(chromedp.Navigate(h.url + "/demo/wallet"))
		wt.waitView("enrol-view")
		wt.waitFor("no longer enrolled", `document.getElementById('status').textContent.includes('no longer enrolled')`, 10*time.Second)
		wt.checkClean()
	})
}

// plantFaults breaks the sign-in page in the ways the accessibility check
// looks for (through the CSSOM, which the CSP allows).
const plantFaults = `(() => {
  const input = document.createElement('input');
  input.id = 'planted-input';
  const faint = document.createElement('p');
  faint.id = 'planted-faint';
  faint.textContent = 'faint text';
  faint.style.color = '#b8b8b8';
  const tabbed = document.createElement('div');
  tabbed.id = 'planted-tabindex';
  tabbed.tabIndex = 2;
  tabbed.textContent = 'jumps the queue';
  const key = document.getElementById('api-key');
  key.style.outline = 'none';
  key.style.boxShadow = 'none';
  document.getElementById('signin-form').append(input, faint, tabbed);
  return true;
})()`

// answerRequest is the citizen's app approving a request with claims of
// the world's credential: prepare, sign the KB-JWTs, approve.
func answerRequest(h *harness, w *world, id string, claims ...string) {
	h.t.Helper()
	var prepared api.RequestPrepared
	h.call("POST", "/v1/me/requests/"+id+"/prepare", w.token, api.PrepareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: claims}}}, 200, &prepared)
	var kbs []string
	for _, ts := range prepared.ToSign {
		kbj, err := credentials.SignKB(w.device, credentials.KB{Nonce: ts.Nonce, Aud: ts.Aud, IssuedAt: time.Now().Unix(), SDHash: ts.SDHash})
		if err != nil {
			h.t.Fatal(err)
		}
		kbs = append(kbs, kbj)
	}
	h.call("POST", "/v1/me/requests/"+id+"/approve", w.token, api.ApproveRequest{KBJWTs: kbs}, 200, nil)
}

// keyCheckScript reads the device key back from IndexedDB and tries to
// export it.
const keyCheckScript = `new Promise((resolve, reject) => {
  const open = indexedDB.open('eidwallet-demo');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('device').objectStore('device').get('current');
    get.onerror = () => reject(get.error);
    get.onsuccess = () => {
      const k = get.result.privateKey;
      open.result.close();
      crypto.subtle.exportKey('pkcs8', k).then(() => 'exported', (e) => e.name).then((exp) =>
        resolve({ type: k.type, extractable: k.extractable, curve: k.algorithm.namedCurve, export: exp }));
    };
  };
})`

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// testPortrait is a small drawn PNG portrait, as a data URI (SPEC §2).
func testPortrait(t *testing.T) string {
	t.Helper()
	const w, h = 60, 80
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 205, G: 220, B: 235, A: 255}
			dx, dy := x-w/2, y-30
			if dx*dx+dy*dy < 15*15 || (y > 50 && dx*dx < (y-42)*(y-42)) {
				c = color.RGBA{R: 90, G: 100, B: 120, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestPages checks how the pages are served, without a browser: the strict
// CSP, no inline code, everything from /assets/ in the binary, and the
// API's own headers untouched.
func TestPages(t *testing.T) {
	h := newHarness(t)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	refs := regexp.MustCompile(`(?i)\s(?:src|href)="([^"]*)"`)
	for _, path := range []string{"/verify", "/demo/wallet", "/admin"} {
		resp := h.request("GET", path, "", "", nil)
		body := string(readAll(t, resp))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != wantPageCSP {
			t.Errorf("%s: CSP %q, want %q", path, got, wantPageCSP)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", path, k, got, v)
			}
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s: inline code or style %q", path, m)
		}
		for _, m := range refs.FindAllStringSubmatch(body, -1) {
			if !strings.HasPrefix(m[1], "/assets/") && !strings.HasPrefix(m[1], "/vendor/") {
				t.Errorf("%s: loads %q, not from this binary's /assets/ or /vendor/", path, m[1])
			}
			r := h.request("GET", m[1], "", "", nil)
			readAll(t, r)
			if r.StatusCode != 200 {
				t.Errorf("%s: %s answers %d", path, m[1], r.StatusCode)
			}
		}
	}
	if pp := h.request("GET", "/verify", "", "", nil).Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=(self)") {
		t.Errorf("/verify Permissions-Policy %q does not allow the camera", pp)
	}
	resp := h.request("GET", "/demo/wallet", "", "", nil)
	if body := string(readAll(t, resp)); !strings.Contains(body, `<meta name="eidwallet-token-endpoint" content="`+publicURL+`/v1/token">`) {
		t.Error("the wallet page does not carry the token endpoint")
	}

	// Assets: types, validators, the jsQR licence, 404 for the rest.
	for path, ct := range map[string]string{
		"/assets/verify.js":    "text/javascript; charset=utf-8",
		"/assets/app.css":      "text/css; charset=utf-8",
		"/vendor/jsQR.js":      "text/javascript; charset=utf-8",
		"/vendor/jsQR.LICENSE": "text/plain; charset=utf-8",
		"/assets/icon.svg":     "image/svg+xml",
	} {
		resp := h.request("GET", path, "", "", nil)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || len(body) == 0 {
			t.Errorf("%s: %d %q (%d bytes), want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ct)
			continue
		}
		etag := resp.Header.Get("ETag")
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("If-None-Match", etag)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if etag == "" || rec.Code != 304 || rec.Body.Len() != 0 {
			t.Errorf("%s: revalidation with ETag %q answers %d", path, etag, rec.Code)
		}
	}
	if lic := string(readAll(t, h.request("GET", "/vendor/jsQR.LICENSE", "", "", nil))); !strings.Contains(lic, "Apache License") {
		t.Error("jsQR's licence is not served with it")
	}
	wantError(t, h.request("GET", "/assets/nothing.js", "", "", nil), 404, "not_found")
	wantError(t, h.request("GET", "/assets/../pages.go", "", "", nil), 404, "not_found")
	wantError(t, h.request("GET", "/vendor/%2e%2e%2fpages.go", "", "", nil), 404, "not_found")

	// The API keeps its own, stricter policy.
	resp = h.request("GET", "/healthz", "", "", nil)
	readAll(t, resp)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("API CSP %q changed", csp)
	}
}

// TestWriteY4M checks the fake camera's file format: header, then per
// frame the marker and the Y, U and V planes of 4:2:0.
func TestWriteY4M(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 100, 100)) // black square
	path := filepath.Join(t.TempDir(), "x.y4m")
	if err := writeY4M(path, img, 3); err != nil {
		t.Fatal(err)
	}
	b := must(os.ReadFile(path))
	header := "YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
	frame := len("FRAME\n") + 640*480*3/2
	if !strings.HasPrefix(string(b), header) || len(b) != len(header)+3*frame {
		t.Fatalf("y4m: %d bytes, header %q", len(b), b[:min(len(b), 50)])
	}
	y := b[len(header)+len("FRAME\n"):]
	if y[0] != 255 || y[240*640+320] != 0 || y[640*480] != 128 {
		t.Errorf("y4m planes: corner %d, centre %d, chroma %d; want 255, 0, 128", y[0], y[240*640+320], y[640*480])
	}
	if err := writeY4M(path, image.NewGray(image.Rect(0, 0, 700, 100)), 1); err == nil {
		t.Error("an image wider than the frame was accepted")
	}
}
