package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

// regexpWait is the wait a Retry-After date 30 s ahead gives, counted
// down from when the page read it.
var regexpWait = regexp.MustCompile(`Wait (2[0-9]|30) seconds`)

// TestBrowserProxyAnswers: the staff page behind a reverse proxy that
// answers for the service (docs/pages.md): a 502 page of the proxy's is
// "Cannot check now — do not accept", not a bare HTTP status; a 429 whose
// Retry-After is an HTTP-date says how many seconds to wait; and no answer
// at all ends, after 35 s, in "No answer — do not accept", not on
// "Checking…" for ever.
func TestBrowserProxyAnswers(t *testing.T) {
	chromiumPath(t)
	h := newBrowserHarness(t)
	w := h.setup()
	target, _ := url.Parse(h.url)
	upstream := httputil.NewSingleHostReverseProxy(target)
	var mode atomic.Int32 // 0 through, 1 a 502 page, 2 a 429 with a date, 3 no answer
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/verify" {
			switch mode.Load() {
			case 1:
				rw.Header().Set("Content-Type", "text/html")
				rw.WriteHeader(http.StatusBadGateway)
				_, _ = rw.Write([]byte("<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"))
				return
			case 2:
				rw.Header().Set("Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
				rw.Header().Set("Content-Type", "text/html")
				rw.WriteHeader(http.StatusTooManyRequests)
				_, _ = rw.Write([]byte("<html>slow down</html>"))
				return
			case 3: // held until the page gives up
				select {
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
				return
			}
		}
		upstream.ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)

	b := newBrowser(t, proxy.URL, "")
	tb := b.newTab(t)
	signIn(tb, w.verifierKey)
	_, code := shareFor(h, w, 300, "full_name")

	// refused scans the code with the proxy in mode m and waits for the
	// refusal, its reason and its words, then goes back to scanning.
	refused := func(m int32, wait time.Duration, what, reason string, detail ...string) string {
		t.Helper()
		mode.Store(m)
		tb.typeKeys(code + kb.Enter)
		waitVerdict(tb, "NOT VALID", wait)
		contains(t, what, tb.text("reason"), reason)
		contains(t, what, tb.text("name"), detail...)
		got := tb.text("name")
		tb.typeKeys(kb.Escape)
		tb.waitView("scan-view")
		return got
	}
	refused(1, 10*time.Second, "a proxy's 502", "Cannot check now", "Do not accept")
	for _, p := range tb.takeProblems() { // the browser logs the 502 it was sent, and nothing else
		if !strings.Contains(p, "status of 502") {
			t.Errorf("browser: %s", p)
		}
	}
	if got := refused(2, 10*time.Second, "a proxy's 429", "Too many checks"); !regexpWait.MatchString(got) {
		t.Errorf("a 429 with a date 30 s ahead: %q, want a wait of 20 to 30 seconds", got)
	}
	// No answer: after 35 s (past the service's 30 s store bound) the page
	// gives up and says the code may have been used, not "not checked".
	refused(3, 45*time.Second, "no answer", "No answer", "Do not accept", "may still have used the code")

	// Through again: the share was never spent by the refusals.
	mode.Store(0)
	tb.typeKeys(code + kb.Enter)
	waitVerdict(tb, "VALID", 10*time.Second)
	tb.checkClean()
}
