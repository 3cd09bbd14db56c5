package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// The operator's statistics page (/admin, issue 13 item 3) in Chromium,
// in Vietnamese and English: sign-in with the admin token, the charts
// drawn as SVG by the page, the numbers behind a click, the hidden counts
// shown as such, by hour, the CSV download, on a phone; no console error,
// every string from the catalogue of the page's language.

var adminWords = map[string]struct{ title, signIn, verifications, numbers, hidden string }{
	"vi": {"Thống kê sử dụng định danh điện tử", "Đăng nhập", "Lượt xác minh", "Xem số liệu", "ẩn"},
	"en": {"e-ID usage statistics", "Sign in", "Verifications", "Show the numbers", "hidden"},
}

func TestBrowserAdmin(t *testing.T) {
	chromiumPath(t)
	h, w := statsHarness(t, 0) // the default threshold: 10
	// 14 shares verified, 3 of them again (refused: a hidden count), one
	// code that is not one; 11 documents issued (12 with the world's).
	var qrs []string
	for range 14 {
		_, qr := w.share(h, "full_name")
		w.verify(h, qr, 200)
		qrs = append(qrs, qr)
	}
	for _, qr := range qrs[:3] {
		w.verify(h, qr, 409)
	}
	w.verify(h, "not a code", 400)
	for i := range 11 {
		h.call("POST", "/v1/issuer/credentials", w.issuerKey, api.IssueRequest{CitizenID: fmt.Sprintf("0791000000%02d", i),
			Type: credentials.HealthInsurance, Claims: healthClaims(testFullName), ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}, 201, nil)
	}

	for _, lang := range []string{"vi", "en"} {
		words := adminWords[lang]
		t.Run(lang, func(t *testing.T) {
			b := startBrowser(t, h.url, "", lang)
			tb := b.newTab(t)
			tb.do(chromedp.Navigate(h.url + "/admin"))
			tb.waitView("signin-view")
			if got := eval[string](tb, `document.documentElement.lang`); got != lang {
				t.Errorf("<html lang> %q, want %q", got, lang)
			}
			contains(t, "title", tb.text("signin-title"), words.signIn)
			contains(t, "bar", eval[string](tb, `document.querySelector('.bar-title').textContent`), words.title)
			tb.shot(lang + "-admin-signin")
			tb.checkCatalogue(lang + " admin sign-in")
			tb.checkA11y(lang+" admin sign-in", "admin-token", "signin-submit")

			tb.typeKeys("not-the-admin-token" + kb.Enter)
			tb.waitFor("sign-in error", `!document.getElementById('signin-error').hidden`, 10*time.Second)
			tb.checkCatalogue(lang + " admin sign-in refused")
			eval[bool](tb, `(() => { const k = document.getElementById('admin-token'); k.value = ''; k.focus(); return true; })()`)
			tb.typeKeys(h.admin + kb.Enter)
			tb.waitView("stats-view")
			tb.waitFor("charts", `!!document.body.dataset.drawn`, 10*time.Second)
			if got := eval[string](tb, `sessionStorage.getItem('eidwallet.admin.token') === null ? '' : 'kept'`); got != "kept" {
				t.Error("the token is not in sessionStorage")
			}
			if got := eval[int](tb, `localStorage.length - (localStorage.getItem('eidwallet.lang') === null ? 0 : 1)`); got != 0 {
				t.Errorf("localStorage holds %d items beside the language", got)
			}

			// The charts, drawn by the page: bars of valid verifications and of
			// the type, a line of issuance, points of latency.
			for what, sel := range map[string]string{
				"verification bars": "#chart-verifications svg rect.bar.c-total", // the breakdown is hidden
				"type bars":         "#chart-types svg rect.bar",
				"flow bars":         "#chart-flows svg rect.bar",
				"issuance":          "#chart-events svg .c-issuance",
				"latency":           "#chart-latency svg .c-p50",
			} {
				if n := eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)); n == 0 {
					t.Errorf("%s: nothing drawn (%s)", what, sel)
				}
			}
			// 18 verifications: 14 valid, 4 refused. The 4 is under 10, so it
			// is hidden, and the 14 with it (18 − 14 would give it back); 12
			// documents issued, none revoked, one phone enrolled (hidden).
			contains(t, "key figures", eval[string](tb, `document.getElementById('figures').textContent`), words.verifications)
			want := []string{"18", words.hidden, words.hidden, "12", "0", words.hidden}
			if got := eval[[]string](tb, `[...document.querySelectorAll('#figures dd')].map((e) => e.textContent)`); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("key figures %q, want %q", got, want)
			}
			reasons := eval[string](tb, `document.getElementById('chart-reasons').textContent`)
			contains(t, "reasons", reasons, words.hidden)
			if n := eval[int](tb, `document.querySelectorAll('#chart-reasons svg rect').length`); n != 0 {
				t.Errorf("%d bars drawn for hidden reasons", n)
			}
			tb.shot(lang + "-admin-stats")
			tb.checkCatalogue(lang + " admin statistics")
			// Labels and contrast (the charts' text too); not the tab walk of
			// checkA11y, whose model of one stop per control does not fit a
			// date input (day, month, year and its picker are stops of their
			// own, as the browser makes them).
			r := eval[a11yResult](tb, a11yScript)
			if r.Checked == 0 {
				t.Error("the contrast check found no text")
			}
			for _, p := range r.Problems {
				t.Errorf("%s admin statistics: %s", lang, p)
			}

			// The numbers, one click away.
			tb.do(chromedp.Click(chromedp.CSS(`#chart-types summary`)))
			tb.waitFor("the numbers", `document.querySelector('#chart-types details').open`, 5*time.Second)
			contains(t, "type table", eval[string](tb, `document.querySelector('#chart-types table').textContent`), "17")
			contains(t, "summary", eval[string](tb, `document.querySelector('#chart-types summary').textContent`), words.numbers)
			tb.shot(lang + "-admin-numbers")
			tb.checkCatalogue(lang + " admin numbers")

			// By hour: today's 24 buckets.
			eval[bool](tb, `(() => { const s = document.getElementById('range-by'); s.value = 'hour';
			  const today = new Date().toISOString().slice(0, 10);
			  document.getElementById('range-from').value = today; document.getElementById('range-to').value = today; return true; })()`)
			before := eval[string](tb, `document.body.dataset.drawn`)
			tb.do(chromedp.Click(chromedp.ID("range-show")))
			tb.waitFor("charts by hour", fmt.Sprintf(`document.body.dataset.drawn !== %q`, before), 10*time.Second)
			if n := eval[int](tb, `document.querySelectorAll('#chart-verifications details tbody tr').length`); n != 24 {
				t.Errorf("by hour: %d rows, want 24", n)
			}
			tb.shot(lang + "-admin-by-hour")
			tb.phone(lang + "-admin-by-hour")
			tb.checkCatalogue(lang + " admin by hour")

			// A period the service refuses is said so before asking it.
			eval[bool](tb, `(() => { document.getElementById('range-from').value = '2026-01-01'; return true; })()`)
			tb.do(chromedp.Click(chromedp.ID("range-show")))
			tb.waitFor("range error", `!document.getElementById('stats-error').hidden`, 5*time.Second)
			tb.checkCatalogue(lang + " admin bad range")

			// The CSV of the period.
			eval[bool](tb, `(() => { document.getElementById('range-from').value = document.getElementById('range-to').value; return true; })()`)
			tb.do(chromedp.Click(chromedp.ID("csv")))
			tb.waitFor("csv", `document.getElementById('stats-status').dataset.t === 'a.csv.done'`, 10*time.Second)

			tb.do(chromedp.Click(chromedp.ID("sign-out")))
			tb.waitView("signin-view")
			if got := eval[string](tb, `sessionStorage.getItem('eidwallet.admin.token') || ''`); got != "" {
				t.Error("the token outlives sign-out")
			}
			tb.checkClean()
		})
	}
}
