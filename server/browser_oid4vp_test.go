package server_test

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/makiuchi-d/gozxing"
	zxqrcode "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// The staff page's request mode with "Any EU-compatible wallet" (issue 11
// item 3), in real Chromium against the real service: the page makes an
// OpenID4VP request, shows its openid4vp:// link as a QR code, as text and
// as a link, and a standard wallet (the Go one of openid4vp_test.go) takes
// the link from the page, presents or declines, and the page shows the
// outcome it long-polled for.

// TestBrowserOpenID4VP: the staff page's OpenID4VP request, approved with
// the disclosed claims shown, and declined; a presence code scanned while
// OpenID4VP is chosen still makes an app request.
func TestBrowserOpenID4VP(t *testing.T) {
	chromiumPath(t) // skip before building anything when there is no browser
	h := newBrowserHarness(t)
	w := h.setup()
	ow := w.oid4vpWallet(h)
	b := newBrowser(t, h.url, "")
	tb := b.newTab(t)
	signIn(tb, w.verifierKey)

	// The choice is on the scan screen, the eidwallet app first: a counter
	// that does nothing keeps the EIDR1: flow it had.
	if got := eval[string](tb, `document.getElementById('ask-wallet').value`); got != "eidr1" {
		t.Errorf("wallet choice on arrival %q, want eidr1", got)
	}
	contains(t, "wallet choice", tb.text("ask-wallet"), "eidwallet app (EIDR1:)", "Any EU-compatible wallet (OpenID4VP)")
	tb.shot("verify-scan-wallet-choice")
	tb.phone("verify-scan-wallet-choice")
	tb.checkA11y("staff scan with the wallet choice",
		"sign-out", "scan-input", "scan-submit", "camera-toggle", "ask-wallet", "ask-template", "ask-purpose", "ask-start")

	t.Run("approved", func(t *testing.T) {
		tb.t = t // one tab for the three: the wallet choice carries over
		link := startOID4VPRequest(t, tb)
		tb.shot("verify-oid4vp-qr")
		tb.phone("verify-oid4vp-qr")
		tb.checkA11y("staff OpenID4VP request", "sign-out", "request-text", "request-link", "request-stop")

		// The page asked with the defaults: x509_hash, direct_post.jwt.
		h.clock.Set(time.Now()) // the wallet dates its checks and KB-JWT by this clock
		r := ow.resolve(link)
		if p, _ := openid4vp.ClientIDPrefix(r.clientID); p != openid4vp.PrefixX509Hash || r.obj.ResponseMode != openid4vp.DirectPostJWT {
			t.Errorf("request of prefix %q, mode %q; want the defaults %s, %s", p, r.obj.ResponseMode, openid4vp.PrefixX509Hash, openid4vp.DirectPostJWT)
		}
		if q := must(openid4vp.ParseQuery(r.obj.DCQLQuery)); len(q.Credentials) != 1 || q.Credentials[0].ID != credentials.HealthInsurance || len(q.Credentials[0].Claims) != 2 {
			t.Errorf("dcql_query %s, want the template's two health insurance claims", r.obj.DCQLQuery)
		}
		tb.waitFor("delivered", `document.getElementById('request-status').textContent.includes('A wallet opened the request')`, 35*time.Second)
		// Unlike an EIDR1: code, the link stays good until the request is
		// answered (wallet.Service.RequestQR), so it stays on screen.
		if !eval[bool](tb, `!document.getElementById('request-qr').hidden && !document.getElementById('request-link-box').hidden`) {
			t.Error("the OpenID4VP code is hidden once a wallet opened it")
		}
		tb.shot("verify-oid4vp-delivered")

		if status, body := ow.answer(r, answerOpts{claims: []string{"full_name", "card_number"}}); status != 200 {
			t.Fatalf("the wallet's response: %d %s", status, body)
		}
		waitVerdict(tb, "VALID", 35*time.Second)
		if got := tb.text("name"); got != testFullName {
			t.Errorf("name %q, want %q", got, testFullName)
		}
		contains(t, "claims", tb.text("claims"), "Card number", testCard)
		contains(t, "documents", tb.text("documents"), "Health insurance card", "Social Security")
		tb.shot("verify-oid4vp-approved")
		tb.checkA11y("staff OpenID4VP result", "sign-out", "next", "hold")
		tb.checkClean()
	})

	t.Run("declined", func(t *testing.T) {
		tb.t = t
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		// The choice outlives the request: the next citizen is asked the same way.
		if got := eval[string](tb, `document.getElementById('ask-wallet').value`); got != "openid4vp" {
			t.Fatalf("wallet choice after a request %q, want openid4vp", got)
		}
		link := startOID4VPRequest(t, tb)
		h.clock.Set(time.Now())
		r := ow.resolve(link)
		// §8.5: the wallet answers with an error response.
		if status, body := ow.post(r, map[string]any{"error": "access_denied", "state": r.obj.State}, nil); status != 200 {
			t.Fatalf("the wallet's error response: %d %s", status, body)
		}
		waitVerdict(tb, "NOT VALID", 35*time.Second)
		contains(t, "reason", tb.text("reason"), "Declined")
		contains(t, "explanation", tb.text("name"), "wallet declined")
		tb.shot("verify-oid4vp-declined")
		tb.checkClean()
	})

	t.Run("presence code", func(t *testing.T) {
		tb.t = t
		// A presence code is the eidwallet app's: scanned while OpenID4VP
		// is chosen, it still sends an EIDR1: request to that app (the
		// service refuses presence with openid4vp).
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		var pres api.PresenceResponse
		h.call("POST", "/v1/me/presence", w.token, nil, 201, &pres)
		tb.typeKeys(pres.QRText + kb.Enter)
		tb.waitView("request-view")
		contains(t, "request title", tb.text("request-title"), "answer on the phone")
		if !eval[bool](tb, `document.getElementById('request-qr').hidden && document.getElementById('request-link-box').hidden`) {
			t.Error("a presence request shows a code or a link")
		}
		var pending struct {
			Requests []api.RequestView `json:"requests"`
		}
		h.call("GET", "/v1/me/requests", w.token, nil, 200, &pending)
		if len(pending.Requests) != 1 {
			t.Fatalf("the app has %d requests waiting, want 1", len(pending.Requests))
		}
		h.call("POST", "/v1/me/requests/"+pending.Requests[0].RequestID+"/decline", w.token, nil, 200, nil)
		waitVerdict(tb, "NOT VALID", 35*time.Second)
		contains(t, "explanation", tb.text("name"), "declined the request on the phone")
		tb.checkClean()
	})
}

// startOID4VPRequest chooses "Any EU-compatible wallet" and the health
// insurance template on the scan screen, shows the request code, and
// returns the link the page shows: the same in the <a>, in the text field
// and, decoded from a screenshot of the QR image, in the code.
func startOID4VPRequest(t *testing.T, tb *tab) string {
	t.Helper()
	tb.do(chromedp.SetValue(chromedp.ID("ask-wallet"), "openid4vp"))
	tb.do(chromedp.SetValue(chromedp.ID("ask-template"), "3"))
	eval[bool](tb, `(() => { const p = document.getElementById('ask-purpose'); p.value = 'Prescription pick-up'; return true; })()`)
	tb.do(chromedp.Click(chromedp.ID("ask-start")))
	tb.waitView("request-view")
	tb.waitFor("request QR", `(() => { const i = document.getElementById('request-qr'); return !i.hidden && i.complete && i.naturalWidth > 0; })()`, 10*time.Second)
	contains(t, "request title", tb.text("request-title"), "with their wallet")
	contains(t, "request", tb.text("request-what"), "Name, Card number", "Prescription pick-up")
	link := eval[string](tb, `document.getElementById('request-link').getAttribute('href') || ''`)
	if !strings.HasPrefix(link, openid4vp.SchemeOpenID4VP+"://?") {
		tb.fail("the page's link %q is not an openid4vp:// link", link)
	}
	if text := eval[string](tb, `document.getElementById('request-text').value`); text != link {
		t.Errorf("the text field shows %q, the link is %q", text, link)
	}
	if eval[bool](tb, `document.getElementById('request-link-box').hidden`) {
		t.Error("the link is not shown")
	}
	if got := tb.qrText("request-qr"); got != link {
		t.Errorf("the QR image reads %q, want the link %q", got, link)
	}
	return link
}

// qrText reads the QR code of an image element as the page shows it: a
// screenshot of the element, read by ZXing's QR reader (what many scanners
// and wallets run).
func (tb *tab) qrText(id string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID(id)))
	if err != nil {
		tb.fail("screenshot #%s: %v", id, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		tb.fail("decode the screenshot of #%s: %v", id, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		tb.fail("binarize #%s: %v", id, err)
	}
	res, err := zxqrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		tb.fail("read the QR code of #%s: %v", id, err)
	}
	return res.GetText()
}
