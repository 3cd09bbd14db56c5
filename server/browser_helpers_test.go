package server_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive Debian's Chromium, headless, through the DevTools
// protocol (chromedp). Where Chromium is missing they skip, saying how to
// install it; nothing else makes them skip.

// defaultChromium is where Debian's chromium package puts the browser.
const defaultChromium = "/usr/bin/chromium"

// chromiumPath is the browser to drive: $EIDWALLET_CHROMIUM, else
// /usr/bin/chromium. The test is skipped when it is missing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("EIDWALLET_CHROMIUM")
	if p == "" {
		p = defaultChromium
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		t.Skipf("browser tests need Chromium at %s (not found): install it with `apt-get install -y chromium`, "+
			"or set EIDWALLET_CHROMIUM to a Chromium or Chrome binary", p)
	}
	return p
}

// browser is one headless Chromium for a test, talking to one server.
type browser struct {
	t     *testing.T
	ctx   context.Context // the browser's first tab; new tabs derive from it
	base  string          // the server, http://127.0.0.1:port
	host  string          // 127.0.0.1:port
	shots []string        // folders screenshots go to
	seq   atomic.Int32    // orders screenshot files
}

// newBrowser starts Chromium with the flags this machine needs (no
// sandbox as root, no GPU, no QUIC, no background networking, a fresh
// profile) and a fake camera that plays y4m, if given, in English.
func newBrowser(t *testing.T, base, y4m string) *browser {
	t.Helper()
	return startBrowser(t, base, y4m, "en-US")
}

// startBrowser is newBrowser with Chromium's user interface language set
// to lang (navigator.languages and Accept-Language follow it).
func startBrowser(t *testing.T, base, y4m, lang string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
	)
	if y4m != "" {
		opts = append(opts,
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", y4m),
		)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: the browser is gone before t.TempDir
	// removes its profile.
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
	})
	// The first Do starts the browser and binds its life to the context it
	// is given: this one, without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}

	b := &browser{t: t, ctx: ctx, base: base, host: u.Host}
	dir := filepath.Join(t.TempDir(), "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.shots = append(b.shots, dir)
	if extra := os.Getenv("EIDWALLET_SCREENSHOTS"); extra != "" {
		if err := os.MkdirAll(extra, 0o755); err != nil {
			t.Fatalf("EIDWALLET_SCREENSHOTS: %v", err)
		}
		b.shots = append(b.shots, extra)
	}
	t.Logf("screenshots (%s): %s", lang, strings.Join(b.shots, " and "))
	return b
}

// tab is one browser tab (in its own window, so it is never a background
// tab with throttled timers) that records what requirement (d) forbids:
// console errors, uncaught exceptions, browser-log errors, and requests
// leaving the test server.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context

	mu       sync.Mutex
	problems []string
	warnings []string
	requests int
}

// apiErrorLine is the browser's log line for an API answer with a 4xx
// status: the pages show those answers (401 at sign-in, 409 already used);
// they are not page errors.
var apiErrorLine = regexp.MustCompile(`^Failed to load resource: the server responded with a status of 4\d\d`)

func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t, b: b}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewWindow(true), chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	// The first Do opens the tab for the life of ctx; later actions get
	// timeouts of their own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tb.do(chromedp.EmulateViewport(1280, 900))
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		switch string(ev.Type) {
		case "error", "assert":
			tb.problems = append(tb.problems, msg)
		case "warning":
			tb.warnings = append(tb.warnings, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("exception: %s (%s:%d)", msg, d.URL, d.LineNumber+1))
	case *log.EventEntryAdded:
		e := ev.Entry
		switch {
		case e.Level == log.EntryLevelError && e.Source == log.EntrySourceNetwork && apiErrorLine.MatchString(e.Text) && tb.local(e.URL):
		case e.Level == log.EntryLevelError:
			tb.problems = append(tb.problems, fmt.Sprintf("log %s error: %s %s", e.Source, e.Text, e.URL))
		case e.Level == log.EntryLevelWarning:
			tb.warnings = append(tb.warnings, fmt.Sprintf("log %s warning: %s", e.Source, e.Text))
		}
	case *network.EventRequestWillBeSent:
		tb.requests++
		if !tb.local(ev.Request.URL) {
			tb.problems = append(tb.problems, "request leaves the test server: "+ev.Request.URL)
		}
	}
}

// local reports whether a URL stays on the machine: the test server on
// 127.0.0.1, or data: and blob: URLs made by the page.
func (tb *tab) local(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob":
		return true
	case "http", "https":
		return u.Host == tb.b.host && u.Hostname() == "127.0.0.1"
	}
	return false
}

// takeProblems returns what requirement (d) forbids that the tab saw
// since the last call, and forgets it.
func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, w := range tb.warnings {
		tb.t.Logf("browser warning (allowed): %s", w)
	}
	p := tb.problems
	tb.problems, tb.warnings = nil, nil
	return p
}

// checkClean is requirement (d) for everything the tab did so far.
func (tb *tab) checkClean() {
	tb.t.Helper()
	tb.mu.Lock()
	n := tb.requests
	tb.mu.Unlock()
	if n == 0 {
		tb.t.Error("no network request was seen: the request listener is not working")
	}
	for _, p := range tb.takeProblems() {
		tb.t.Errorf("browser: %s", p)
	}
}

// do runs actions, failing the test with a screenshot on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail("%v", err)
	}
}

// fail stops the test with a screenshot of the page as it was.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	tb.shot("FAILED-" + strings.ReplaceAll(tb.t.Name(), "/", "-"))
	tb.mu.Lock()
	for _, p := range tb.problems {
		tb.t.Errorf("browser: %s", p)
	}
	tb.mu.Unlock()
	tb.t.Fatalf(format, args...)
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate %.80q: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true.
func (tb *tab) waitFor(what, predicate string, timeout time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		tb.fail("waiting for %s: %v", what, err)
	}
}

// waitView waits until the page shows a view (the data-view of <body>).
func (tb *tab) waitView(view string) {
	tb.t.Helper()
	tb.waitFor("view "+view, fmt.Sprintf(`document.body && document.body.dataset.view === %q`, view), 15*time.Second)
}

// text is the text of the element with the id.
func (tb *tab) text(id string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ''`, id))
}

// activeID is the id of the focused element ("" for none or body).
func (tb *tab) activeID() string {
	tb.t.Helper()
	return eval[string](tb, `(document.activeElement && document.activeElement !== document.body && document.activeElement.id) || ''`)
}

// typeKeys types into whatever has the focus, one key event per
// character, as a keyboard-wedge scanner does.
func (tb *tab) typeKeys(s string) {
	tb.t.Helper()
	tb.do(chromedp.KeyEvent(s))
}

// shot saves a screenshot of the whole page as <seq>-<name>.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := fmt.Sprintf("%02d-%s.png", tb.b.seq.Add(1), name)
	for _, dir := range tb.b.shots {
		if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
			tb.t.Errorf("screenshot %s: %v", name, err)
		}
	}
}

// phone shows the page on a phone-sized screen (390 × 844 CSS pixels,
// mobile): it checks that nothing is wider than the screen, saves a
// screenshot, and goes back to the desktop size.
func (tb *tab) phone(name string) {
	tb.t.Helper()
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	// Let layout settle at the new width.
	tb.waitFor("phone layout", `document.documentElement.clientWidth === 390`, 5*time.Second)
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 390 {
		tb.t.Errorf("%s: the page is %d px wide on a 390 px phone screen (scrolls sideways)", name, w)
	}
	tb.shot(name + "-phone")
	tb.do(chromedp.EmulateViewport(1280, 900))
}

// ---- accessibility ----

// a11yScript checks the page as it is now: every form control has a label
// (label[for], aria-label or aria-labelledby), every button a name, every
// image an alt; the text of every visible element has a contrast of at
// least 4.5:1 with what is behind it (3:1 for large text, WCAG 1.4.3);
// and no element has a positive tabindex.
const a11yScript = `(() => {
  const problems = [];
  const visible = (e) => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const name = (e) => e.id ? '#' + e.id : e.tagName.toLowerCase() + ' "' + (e.textContent || '').trim().slice(0, 40) + '"';
  const labels = [...document.querySelectorAll('label[for]')];
  for (const c of document.querySelectorAll('input, select, textarea, progress, meter')) {
    if (c.type === 'hidden') continue;
    const byFor = c.id && labels.some((l) => l.htmlFor === c.id && l.textContent.trim() !== '');
    const byAria = (c.getAttribute('aria-label') || '').trim() !== '';
    const ids = (c.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
    const byRef = ids.length > 0 && ids.every((id) => { const r = document.getElementById(id); return r && r.textContent.trim() !== ''; });
    if (!byFor && !byAria && !byRef) problems.push('form control without a label: ' + name(c));
  }
  for (const b of document.querySelectorAll('button')) {
    if (!b.textContent.trim() && !(b.getAttribute('aria-label') || '').trim()) problems.push('button without a name: ' + name(b));
  }
  for (const i of document.querySelectorAll('img')) {
    if (!i.hasAttribute('alt')) problems.push('image without alt: ' + name(i));
  }
  for (const e of document.querySelectorAll('[tabindex]')) {
    if (e.tabIndex > 0) problems.push('positive tabindex: ' + name(e));
  }
  const parse = (s) => {
    const m = /^rgba?\(([^)]+)\)$/.exec(s);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => { const a = top[3]; return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1); };
  const background = (e) => {
    const layers = [];
    for (let n = e; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let acc = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) acc = over(layers[i], acc);
    return acc;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  let checked = 0;
  for (const e of document.body.querySelectorAll('*')) {
    if (!visible(e) || e.disabled) continue;
    const field = /^(INPUT|SELECT|TEXTAREA)$/.test(e.tagName) && e.type !== 'checkbox' && e.type !== 'radio';
    const hasText = field || [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!hasText) continue;
    const cs = getComputedStyle(e);
    const fgRaw = parse(cs.color);
    if (!fgRaw) { problems.push('colour not understood: ' + cs.color + ' on ' + name(e)); continue; }
    const bg = background(e);
    const fg = over(fgRaw, bg);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (Number(cs.fontWeight) >= 700 && size >= 18.66);
    const need = large ? 3 : 4.5;
    const r = ratio(fg, bg);
    checked++;
    if (r < need) problems.push('contrast ' + r.toFixed(2) + ':1 < ' + need + ':1 for ' + name(e) + ' (' + cs.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + '))');
  }
  return { problems, checked };
})()`

type a11yResult struct {
	Problems []string `json:"problems"`
	Checked  int      `json:"checked"`
}

// focusScript describes the focused element and whether it shows a focus
// indicator: an outline of at least 2 px, or a box shadow, in a colour with
// 3:1 contrast against what is around it (WCAG 1.4.11, 2.4.7).
const focusScript = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return { id: '' };
  const id = e.id || (e.tagName.toLowerCase() + ':' + (e.textContent || '').trim().slice(0, 30));
  const cs = getComputedStyle(e);
  const width = parseFloat(cs.outlineWidth) || 0;
  const outline = cs.outlineStyle !== 'none' && width >= 2;
  const shadow = cs.boxShadow && cs.boxShadow !== 'none';
  let contrast = 0;
  const parse = (s) => { const m = /rgba?\(([^)]+)\)/.exec(s); if (!m) return null; return m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  let bg = [255, 255, 255];
  for (let n = e.parentElement; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    if (c && (c.length < 4 || c[3] >= 1)) { bg = c; break; }
  }
  const oc = parse(outline ? cs.outlineColor : cs.boxShadow || '');
  if (oc) { const x = lum(oc), y = lum(bg); contrast = (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  return { id, indicator: outline || shadow, contrast };
})()`

type focusInfo struct {
	ID        string  `json:"id"`
	Indicator bool    `json:"indicator"`
	Contrast  float64 `json:"contrast"`
}

// focusOrderScript lists the ids of the visible, enabled elements that take
// focus from the Tab key, in document order: what the tab order must be.
const focusOrderScript = `[...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
  .filter((e) => !e.disabled && e.tabIndex >= 0 && e.checkVisibility({ checkVisibilityCSS: true }))
  .map((e) => e.id || (e.tagName.toLowerCase() + ':' + (e.textContent || '').trim().slice(0, 30)))`

// checkA11y runs the accessibility check on the page as it is: labels and
// contrast (a11yScript), then the keyboard: it tabs through the whole page
// from the top, and the focus must visit every focusable element once, in
// document order (and in the order want gives, when given), each with a
// visible focus indicator. The focus is left where it was.
func (tb *tab) checkA11y(state string, want ...string) {
	tb.t.Helper()
	for _, p := range tb.a11yProblems(want...) {
		tb.t.Errorf("%s: %s", state, p)
	}
}

// a11yProblems is checkA11y's findings.
func (tb *tab) a11yProblems(want ...string) []string {
	tb.t.Helper()
	var problems []string
	r := eval[a11yResult](tb, a11yScript)
	if r.Checked == 0 {
		problems = append(problems, "the contrast check found no text")
	}
	problems = append(problems, r.Problems...)

	before := tb.activeID()
	order := eval[[]string](tb, focusOrderScript)
	// Start from the top of the document.
	eval[bool](tb, `(() => { if (document.activeElement) document.activeElement.blur();
	  document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); return true; })()`)
	var got []string
	for i := 0; i < len(order)+3; i++ {
		tb.do(chromedp.KeyEvent(kb.Tab))
		f := eval[focusInfo](tb, focusScript)
		if f.ID == "" || (len(got) > 0 && f.ID == got[0]) {
			break // out of the page, or round again
		}
		if !f.Indicator {
			problems = append(problems, fmt.Sprintf("%s shows no focus indicator", f.ID))
		} else if f.Contrast < 3 {
			problems = append(problems, fmt.Sprintf("the focus indicator of %s has contrast %.2f:1 (< 3:1)", f.ID, f.Contrast))
		}
		got = append(got, f.ID)
	}
	if strings.Join(got, " ") != strings.Join(order, " ") {
		problems = append(problems, fmt.Sprintf("tab order %q, want document order %q", got, order))
	}
	// The language switch (VI, EN) sits in every page's header, after the
	// staff page's sign-out button: expected lists name the page's own
	// controls, the switch is put where it is.
	if len(want) > 0 && slices.Contains(order, "lang-vi") {
		at := 0
		if want[0] == "sign-out" {
			at = 1
		}
		want = slices.Insert(slices.Clone(want), at, "lang-vi", "lang-en")
	}
	if len(want) > 0 && strings.Join(got, " ") != strings.Join(want, " ") {
		problems = append(problems, fmt.Sprintf("tab order %q, want %q", got, want))
	}
	if before != "" {
		eval[bool](tb, fmt.Sprintf(`(document.getElementById(%q) || document.body).focus(), true`, before))
	}
	return problems
}

// ---- the fake camera ----

// writeY4M writes a YUV4MPEG2 video of frames identical frames, 640 × 480,
// 4:2:0, showing img centred on white: what Chromium's
// --use-file-for-fake-video-capture plays as the camera.
func writeY4M(path string, img image.Image, frames int) error {
	const w, h = 640, 480
	b := img.Bounds()
	if b.Dx() > w-40 || b.Dy() > h-40 {
		return fmt.Errorf("y4m: image %dx%d does not fit %dx%d with a margin", b.Dx(), b.Dy(), w, h)
	}
	luma := make([]byte, w*h)
	for i := range luma {
		luma[i] = 255 // white margin
	}
	x0, y0 := (w-b.Dx())/2, (h-b.Dy())/2
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			// C420jpeg is full-range: Y is the plain grey level.
			g := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			luma[(y0+y)*w+x0+x] = g.Y
		}
	}
	chroma := make([]byte, (w/2)*(h/2))
	for i := range chroma {
		chroma[i] = 128 // no colour
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	for range frames {
		bw.WriteString("FRAME\n")
		bw.Write(luma)
		bw.Write(chroma) // U
		bw.Write(chroma) // V
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// decodePNG decodes a PNG answer.
func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decode QR PNG: %v", err)
	}
	return img
}

// walletCitizen sets up what a demo-wallet run needs: an issuer issuerID
// (named issuerName) of identity cards, a card with a portrait for a
// citizen not enrolled yet, their activation code, and a counter verifier
// registered for what the citizen will share (SPEC §3.7: an unbound share
// redeems only there). It returns the code and the counter.
func (h *harness) walletCitizen(issuerID, issuerName, citizen, name, counterID, counterName string) (string, api.VerifierView) {
	h.t.Helper()
	h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{
		ID: issuerID, Name: issuerName, Types: []string{credentials.NationalID}}, 201, nil)
	var ik api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/"+issuerID+"/api-keys", h.admin, nil, 201, &ik)
	h.call("POST", "/v1/issuer/credentials", ik.Key, api.IssueRequest{
		CitizenID: citizen, Type: credentials.NationalID, ExpiresAt: time.Now().AddDate(1, 0, 0),
		Claims: map[string]any{
			"id_number": citizen, "full_name": name, "birth_date": "1990-05-06", "sex": "F",
			"nationality": "VN", "issue_date": "2024-01-02", "expiry_date": "2034-01-02", "portrait": testPortrait(h.t),
		}}, 201, nil)
	var code api.ActivationCodeResponse
	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: citizen}, 201, &code)
	var counter api.VerifierView
	h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{
		ID: counterID, Name: counterName, Category: "post",
		Claims: map[string][]string{credentials.NationalID: {"full_name", "portrait", "age_over_18"}}}, 201, &counter)
	return code.Code, counter
}
