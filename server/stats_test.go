package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/offline"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"golang.org/x/time/rate"
)

// The usage statistics (issue 13 item 3) over HTTP on the real store: a
// known mix of every flow read back exactly, small counts suppressed,
// the CSV, and the parameters refused.

// statsHarness is a harness whose statistics show counts from min (the
// default threshold when 0), on a clock set to the wall clock (the
// approvals' KB-JWTs are dated by it) and then held.
func statsHarness(t *testing.T, min int) (*harness, *world) {
	t.Helper()
	// Many shares of one holder: no quota in the way.
	h := startHarnessWith(t, wallet.Config{StatsThreshold: min}, nil, func(c *server.Config) {
		c.RateLimits = server.RateLimits{SharesPerHolder: server.Limit{Rate: rate.Inf}}
	})
	h.clock.Set(time.Now())
	return h, h.setup()
}

// stats reads the statistics of query.
func (h *harness) stats(query string) *api.Stats {
	h.t.Helper()
	var st api.Stats
	h.call("GET", "/v1/admin/stats?"+query, h.admin, nil, 200, &st)
	return &st
}

// hourQuery asks for the hour of the harness's clock.
func (h *harness) hourQuery() string {
	at := h.clock.Now().UTC().Truncate(time.Hour)
	return "by=hour&from=" + at.Format(time.RFC3339) + "&to=" + at.Add(time.Hour).Format(time.RFC3339)
}

// verify posts qr to /v1/verify with the world's verifier and wants status.
func (w *world) verify(h *harness, qr string, status int) {
	h.t.Helper()
	resp := h.request("POST", "/v1/verify", w.verifierKey, "application/json", mustJSON(h.t, api.VerifyRequest{QR: qr}))
	if body := readAll(h.t, resp); resp.StatusCode != status {
		h.t.Fatalf("verify %.20s: %d %s, want %d", qr, resp.StatusCode, body, status)
	}
}

// offlineShare is an approved offline share's EIDC1: code, its KB-JWT
// dated by the harness's clock.
func (w *world) offlineShare(h *harness, claims ...string) string {
	h.t.Helper()
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{Offline: true, TTLSeconds: 120,
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: claims}}}, 201, &created)
	var view api.ShareView
	h.call("POST", "/v1/me/shares/"+created.ShareID+"/approve", w.token, api.ApproveRequest{KBJWTs: w.signToSign(h, created.ToSign)}, 200, &view)
	if !strings.HasPrefix(view.OfflineQRText, offline.Prefix) {
		h.t.Fatalf("offline share without an EIDC1: code: %+v", view)
	}
	return view.OfflineQRText
}

// n is a shown count.
func n(v int64) *int64 { return &v }

// counts compares a breakdown with want (nil: suppressed).
func counts(t *testing.T, what string, got map[string]*int64, want map[string]*int64) {
	t.Helper()
	show := func(m map[string]*int64) string {
		var parts []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		}) {
			if m[k] == nil {
				parts = append(parts, k+"=null")
			} else {
				parts = append(parts, fmt.Sprintf("%s=%d", k, *m[k]))
			}
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	if show(got) != show(want) {
		t.Errorf("%s: %s, want %s", what, show(got), show(want))
	}
}

func total(t *testing.T, what string, got, want *int64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil || *got != *want:
		t.Errorf("%s: %v, want %v", what, show(got), show(want))
	}
}

func show(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestStatsCountEveryFlow drives a known mix of every flow — shares
// valid, replayed, malformed and unknown; a request approved and one
// declined; an OpenID4VP response refused and one accepted; an offline
// code verified online and two uploaded; issuance, revocation,
// suspension, reinstatement and enrolment — and reads back exactly those
// counts, by hour and by day, in JSON and in CSV, with no identifier in
// any of them.
func TestStatsCountEveryFlow(t *testing.T) {
	h, w := statsHarness(t, 1) // every count shown: exact
	hi := credentials.HealthInsurance

	// Issuance (one in setup, two here), status changes, enrolment (setup).
	var second, third api.IssueResponse
	for _, out := range []*api.IssueResponse{&second, &third} {
		h.call("POST", "/v1/issuer/credentials", w.issuerKey, api.IssueRequest{CitizenID: w.citizen, Type: hi,
			Claims: healthClaims(testFullName), ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}, 201, out)
	}
	status := func(id, st string) {
		h.call("POST", "/v1/issuer/credentials/"+id+"/status", w.issuerKey, api.StatusRequest{Status: st}, 200, nil)
	}
	status(second.CredentialID, api.StatusRevoked)
	status(third.CredentialID, api.StatusSuspended)
	status(third.CredentialID, api.StatusValid)
	status(third.CredentialID, api.StatusValid) // no change: not counted

	// Shares: three valid, one replayed, a malformed code, an unknown one.
	var replay string
	for range 3 {
		_, replay = w.share(h, "full_name")
		w.verify(h, replay, 200)
	}
	w.verify(h, replay, 409)
	w.verify(h, "not a code", 400)
	w.verify(h, "EID1:"+strings.Repeat("A", 26), 404)

	// Requests: one approved, one declined.
	for _, decide := range []string{"approve", "decline"} {
		r := w.newRequest(h, "full_name")
		var view api.RequestView
		h.call("POST", "/v1/me/requests:resolve", w.token, api.ResolveRequest{QR: r.QRText}, 200, &view)
		if decide == "approve" {
			answerRequest(h, w, view.RequestID, "full_name")
		} else {
			h.call("POST", "/v1/me/requests/"+view.RequestID+"/decline", w.token, nil, 200, nil)
		}
	}

	// OpenID4VP: a response refused (its KB-JWT has another nonce), then
	// the right one.
	ow := w.oid4vpWallet(h)
	r := ow.resolve(w.newOID4VPRequest(h, "", "").QRText)
	if status, body := ow.answer(r, answerOpts{nonce: "not-the-nonce-of-the-request"}); status != 400 {
		t.Fatalf("refused response: %d %s", status, body)
	}
	if status, body := ow.answer(r, answerOpts{}); status != 200 {
		t.Fatalf("response: %d %s", status, body)
	}

	// Offline: a code verified online, two verifications uploaded.
	w.verify(h, w.offlineShare(h, "full_name"), 200)
	cti := func() string { return base64.RawURLEncoding.EncodeToString(must(randomBytes(12))) }
	var up api.OfflineUploadResult
	h.call("POST", "/v1/verifier/offline-verifications", w.verifierKey, api.OfflineVerifications{Verifications: []api.OfflineVerification{
		{CTI: cti(), VerifiedAt: h.clock.Now().Add(-time.Second), Result: "valid", Type: hi},
		{CTI: cti(), VerifiedAt: h.clock.Now().Add(-time.Second), Result: string(offline.ReasonExpired), Type: hi},
	}}, 200, &up)

	st := h.stats(h.hourQuery())
	if len(st.Buckets) != 1 || st.By != api.StatsByHour || st.Threshold != 1 || st.SuppressedCells != 0 {
		t.Fatalf("answer: by %s, %d buckets, threshold %d, %d suppressed", st.By, len(st.Buckets), st.Threshold, st.SuppressedCells)
	}
	for _, c := range []struct {
		name string
		sc   api.StatsCounts
	}{{"bucket", st.Buckets[0]}, {"totals", st.Totals}} {
		v := c.sc.Verifications
		total(t, c.name+" verifications", v.Total, n(13))
		counts(t, c.name+" by flow", v.ByFlow, map[string]*int64{"share": n(6), "request": n(2), "openid4vp": n(2), "offline": n(3)})
		counts(t, c.name+" by outcome", v.ByOutcome, map[string]*int64{"valid": n(7), "failed": n(6)})
		counts(t, c.name+" by reason", v.ByReason, map[string]*int64{"share_already_redeemed": n(1), "invalid_request": n(1),
			"not_found": n(1), "declined": n(1), "kb_nonce_mismatch": n(1), "expired": n(1)})
		// The malformed and the unknown code name no type.
		counts(t, c.name+" by type", v.ByType, map[string]*int64{hi: n(11)})
		// Refusals before any read are counted under the verifier's
		// category too (read when the tally is written).
		counts(t, c.name+" by category", v.ByCategory, map[string]*int64{"pharmacy": n(13)})
		// On the held clock every verification took no time: the first
		// bucket (0 to 0.5 ms), of 11 timed (uploads are not).
		if p := v.Latency; p.P50MS == nil || p.P99MS == nil || *p.P50MS != 0.25 || *p.P99MS > 0.5 || *p.P99MS < *p.P50MS {
			t.Errorf("%s latency: p50 %v p99 %v, want 0.25 and at most 0.5", c.name, p.P50MS, p.P99MS)
		}
		total(t, c.name+" issuance", c.sc.Issuance.Total, n(3))
		counts(t, c.name+" issuance by type", c.sc.Issuance.ByType, map[string]*int64{hi: n(3)})
		total(t, c.name+" revocation", c.sc.Revocation.Total, n(1))
		total(t, c.name+" suspension", c.sc.Suspension.Total, n(1))
		total(t, c.name+" reinstatement", c.sc.Reinstatement.Total, n(1))
		counts(t, c.name+" reinstatement by type", c.sc.Reinstatement.ByType, map[string]*int64{hi: n(1)})
		total(t, c.name+" enrolment", c.sc.Enrolment.Total, n(1))
	}

	// By day: the same counts in the day's bucket, the other days zero.
	day := h.clock.Now().UTC().Truncate(24 * time.Hour)
	byDay := h.stats("by=day&from=" + day.Add(-24*time.Hour).Format(time.RFC3339) + "&to=" + day.Add(24*time.Hour).Format(time.RFC3339))
	if len(byDay.Buckets) != 2 || !byDay.Buckets[1].Start.Equal(day) {
		t.Fatalf("by day: %d buckets", len(byDay.Buckets))
	}
	total(t, "the day before", byDay.Buckets[0].Verifications.Total, n(0))
	total(t, "the day", byDay.Buckets[1].Verifications.Total, n(13))
	counts(t, "the day by flow", byDay.Buckets[1].Verifications.ByFlow, st.Totals.Verifications.ByFlow)
	// Without a range: the last 30 days up to the end of today.
	if def := h.stats(""); def.By != api.StatsByDay || len(def.Buckets) != wallet.DefaultStatsDays || *def.Totals.Verifications.Total != 13 {
		t.Errorf("default range: by %s, %d buckets, %v verifications", def.By, len(def.Buckets), show(def.Totals.Verifications.Total))
	}

	// The answer names no holder, device, credential, issuer or citizen
	// (the verifier's id is its category here, "pharmacy": the category
	// is what is counted).
	_, raw := h.call("GET", "/v1/admin/stats?"+h.hourQuery(), h.admin, nil, 200, nil)
	for _, id := range []string{w.holderID, w.deviceID, w.credential.CredentialID, second.CredentialID, w.citizen, w.issuerID, "Corner Pharmacy"} {
		if bytes.Contains(raw, []byte(id)) {
			t.Errorf("the statistics name %q", id)
		}
	}

	// CSV, by ?format=csv and by Accept, the same counts.
	for _, ask := range []struct{ query, accept string }{{"&format=csv", ""}, {"", "text/csv"}} {
		req := must(http.NewRequest("GET", h.url+"/v1/admin/stats?"+h.hourQuery()+ask.query, nil))
		req.Header.Set("Authorization", "Bearer "+h.admin)
		if ask.accept != "" {
			req.Header.Set("Accept", ask.accept)
		}
		resp := must(h.client.Do(req))
		body := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="eidwallet-stats-`) {
			t.Fatalf("csv %+v: %d %s %s", ask, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		rows := must(csv.NewReader(bytes.NewReader(body)).ReadAll())
		if !slices.Equal(rows[0], []string{"bucket", "event", "dimension", "value", "n", "suppressed"}) {
			t.Fatalf("csv header %v", rows[0])
		}
		start := h.clock.Now().UTC().Truncate(time.Hour).Format(api.TimeLayout)
		for _, want := range [][]string{
			{start, "verification", "total", "", "13", "false"},
			{start, "verification", "flow", "offline", "3", "false"},
			{start, "verification", "reason", "kb_nonce_mismatch", "1", "false"},
			{"total", "verification", "outcome", "valid", "7", "false"},
			{"total", "issuance", "type", hi, "3", "false"},
			{"total", "enrolment", "total", "", "1", "false"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
				t.Errorf("csv %+v: no row %v in\n%s", ask, want, body)
			}
		}
	}
	// JSON stays the default, and is what Accept: application/json gets.
	req := must(http.NewRequest("GET", h.url+"/v1/admin/stats?"+h.hourQuery(), nil))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Accept", "application/json, text/csv")
	if resp := must(h.client.Do(req)); resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Accept: application/json, text/csv: %s", resp.Header.Get("Content-Type"))
	} else {
		readAll(t, resp)
	}
}

// TestStatsSuppressSmallCounts: with the default threshold, a count under
// 10 is null, and so is the smallest other count of each sum it is in,
// so that none follows from a total; the rest is shown.
func TestStatsSuppressSmallCounts(t *testing.T) {
	h, w := statsHarness(t, 0)
	var replayed []string
	for i := range 12 {
		_, qr := w.share(h, "full_name")
		w.verify(h, qr, 200)
		if i < 3 {
			replayed = append(replayed, qr)
		}
	}
	for _, qr := range replayed {
		w.verify(h, qr, 409)
	}
	st := h.stats(h.hourQuery())
	if st.Threshold != 10 || wallet.DefaultStatsThreshold != 10 {
		t.Fatalf("threshold %d, want 10", st.Threshold)
	}
	for _, c := range []struct {
		name string
		sc   api.StatsCounts
	}{{"bucket", st.Buckets[0]}, {"totals", st.Totals}} {
		v := c.sc.Verifications
		// 15 verifications: 12 valid, 3 failed. The 3 is hidden, and the
		// 12 with it, or 15 − 12 would give it back.
		total(t, c.name+" verifications", v.Total, n(15))
		counts(t, c.name+" by outcome", v.ByOutcome, map[string]*int64{"valid": nil, "failed": nil})
		counts(t, c.name+" by reason", v.ByReason, map[string]*int64{"share_already_redeemed": nil})
		counts(t, c.name+" by flow", v.ByFlow, map[string]*int64{"share": n(15)})
		counts(t, c.name+" by category", v.ByCategory, map[string]*int64{"pharmacy": n(15)})
		if v.Latency.P50MS == nil || v.Latency.P99MS == nil {
			t.Errorf("%s latency of 15 timed verifications suppressed", c.name)
		}
		// One issuance and one enrolment (setup): hidden; none revoked: 0.
		total(t, c.name+" issuance", c.sc.Issuance.Total, nil)
		counts(t, c.name+" issuance by type", c.sc.Issuance.ByType, map[string]*int64{credentials.HealthInsurance: nil})
		total(t, c.name+" enrolment", c.sc.Enrolment.Total, nil)
		total(t, c.name+" revocation", c.sc.Revocation.Total, n(0))
	}
	// Per answer: valid, failed, the reason, issuance and its type, and
	// enrolment, in the bucket and in the totals.
	if st.SuppressedCells != 12 {
		t.Errorf("%d suppressed cells, want 12", st.SuppressedCells)
	}
	// Suppressed in the CSV too: no n, suppressed true.
	_, body := h.call("GET", "/v1/admin/stats?"+h.hourQuery()+"&format=csv", h.admin, nil, 200, nil)
	if !bytes.Contains(body, []byte(",verification,outcome,failed,,true\n")) || bytes.Contains(body, []byte(",failed,3,")) {
		t.Errorf("csv of a suppressed count:\n%s", body)
	}
	// A small timed count: its latency is not shown either.
	h2, w2 := statsHarness(t, 0)
	_, qr := w2.share(h2, "full_name")
	w2.verify(h2, qr, 200)
	if l := h2.stats(h2.hourQuery()).Totals.Verifications.Latency; l.P50MS != nil || l.P99MS != nil {
		t.Errorf("latency of one verification shown: %v %v", l.P50MS, l.P99MS)
	}
}

// TestStatsParameters: from and to in RFC 3339 UTC on bucket boundaries,
// from before to, a bounded range, by day or hour, each once and short,
// format json or csv; an admin's only.
func TestStatsParameters(t *testing.T) {
	h, w := statsHarness(t, 0)
	day := "2026-03-01T00:00:00Z"
	for _, q := range []string{
		"by=week",
		"from=yesterday",
		"from=2026-03-01",
		"from=2026-03-01T00:00:00%2B07:00", // UTC only
		"by=hour&from=2026-03-01T09:30:00Z",
		"by=day&from=2026-03-01T09:00:00Z",
		"from=" + day + "&to=" + day,
		"from=2026-03-02T00:00:00Z&to=" + day,
		"by=hour&from=" + day + "&to=2026-04-02T00:00:00Z", // 32 days by hour
		"by=day&from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
		"from=1999-12-31T00:00:00Z&to=2000-01-01T00:00:00Z",
		"from=" + day + "&from=" + day,
		"by=" + strings.Repeat("d", 41),
		"format=xml",
	} {
		e := wantError(t, h.request("GET", "/v1/admin/stats?"+q, h.admin, "", nil), 400, "invalid_request")
		if e.Description == "" {
			t.Errorf("%s: no description", q)
		}
	}
	// The longest ranges are taken.
	h.stats("by=hour&from=" + day + "&to=2026-04-01T00:00:00Z")
	h.stats("by=day&from=2025-03-01T00:00:00Z&to=2026-03-02T00:00:00Z")

	wantError(t, h.request("GET", "/v1/admin/stats", "", "", nil), 401, "unauthenticated")
	wantError(t, h.request("GET", "/v1/admin/stats", w.verifierKey, "", nil), 403, "forbidden")
	wantError(t, h.request("GET", "/v1/admin/stats", w.issuerKey, "", nil), 403, "forbidden")
	if resp := h.request("HEAD", "/v1/admin/stats", h.admin, "", nil); resp.StatusCode != 200 {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
}

// TestStatsStorageFailure: a store that cannot be read is 503
// storage_unavailable, never an empty answer (SPEC §5, THREATS T42).
func TestStatsStorageFailure(t *testing.T) {
	store := &failingStore{Store: servicetest.Open(t)}
	h := newHarnessOver(t, store)
	store.armed.Store(true)
	wantError(t, h.request("GET", "/v1/admin/stats", h.admin, "", nil), 503, "storage_unavailable")
	store.armed.Store(false)
	h.stats("")
}

// TestVerifyForgivesScannerBlanks: both kinds of code, as a counter's
// keyboard-wedge scanner types them (an Enter after, a blank before), are
// redeemed as the code itself would be (qr.Parse, offline.Parse).
func TestVerifyForgivesScannerBlanks(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	_, code := w.share(h, "full_name")
	w.verify(h, " "+code+"\r\n", 200)
	w.verify(h, "\t"+w.offlineShare(h, "full_name")+"\r\n", 200)
}

// TestPendingShareHasNoCode: THREATS T17, a share used before its
// approval. A pending share carries no code to scan: its creation answers
// none, its QR image is 409 until the holder approves, and its view holds
// no qr_text.
func TestPendingShareHasNoCode(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}, 201, &created)
	if created.Status != api.SharePending {
		t.Fatalf("created %+v", created)
	}
	wantError(t, h.request("GET", "/v1/me/shares/"+created.ShareID+"/qr.png", w.token, "", nil), 409, "conflict")
	var view api.ShareView
	h.call("GET", "/v1/me/shares/"+created.ShareID, w.token, nil, 200, &view)
	if view.QRText != "" || view.Status != api.SharePending {
		t.Errorf("a pending share's view: %+v", view)
	}
}
