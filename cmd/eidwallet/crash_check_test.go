package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// The checks after a restart (THREATS T31). Every restart checks, without
// changing anything, every acknowledged write there is (credentials and
// their status, shares, devices, both logs and the chains), and, with a
// request that would change something if the write were lost, every one
// acknowledged since the previous restart: an acknowledged redemption
// answers 409, an acknowledged jti is a replay, a revoked device gets no
// token, a revoked credential cannot be reinstated. The last restart does
// those for everything, and redeems each share still waiting, exactly
// once. A request cut by the kill may have been done or not; the check
// finds out which, and from then on holds the service to it.

// check compares the restarted service with the ledger; final is the last
// restart.
func (w *crashWorld) check(ctx context.Context, cn *crashConn, final bool) {
	w.checkCredentials(ctx, cn, final)
	w.checkShares(ctx, cn, final)
	w.checkTokens(ctx, cn, final)
	w.checkDevices(ctx, cn, final)
	w.checkLogs(ctx, cn)
}

// retry calls fn again while the service answers 429 (the checks of a
// long run can outgrow a rate limit's burst).
func retry(fn func() error) error {
	for i := 0; ; i++ {
		err := fn()
		ce := serviceError(err)
		if ce == nil || ce.Status != http.StatusTooManyRequests || i == 100 {
			return err
		}
		time.Sleep(min(max(ce.RetryAfter, 50*time.Millisecond), time.Second))
	}
}

// refusedWith reports whether err is exactly the SPEC §5 answer status
// and error.
func refusedWith(err error, status int, code api.Code) bool {
	ce := serviceError(err)
	return ce != nil && ce.Status == status && ce.Code == code
}

// grantRefused reports whether err is the token endpoint's 400
// invalid_grant (RFC 7523 §3.1) for the reason its description names:
// the one code covers every refusal of an assertion.
func grantRefused(err error, why string) bool {
	ce := serviceError(err)
	return refusedWith(err, http.StatusBadRequest, api.CodeInvalidGrant) && strings.Contains(ce.Description, why)
}

func (w *crashWorld) checkCredentials(ctx context.Context, cn *crashConn, final bool) {
	t := w.t
	var views []*api.CredentialView
	if err := retry(func() (err error) { views, err = cn.holder[w.issuee].Credentials(ctx); return err }); err != nil {
		t.Fatalf("check: credentials: %v", err)
	}
	got := map[string]*api.CredentialView{}
	for _, v := range views {
		got[v.ID] = v
	}
	lists := map[int]*credentials.StatusList{}
	for id, r := range w.creds {
		v, ok := got[id]
		if !ok {
			t.Errorf("credential %s: issued and acknowledged, missing after the restart", id)
			continue
		}
		if v.Status != r.status && (r.pending == "" || v.Status != r.pending) {
			t.Errorf("credential %s: status %q after the restart, acknowledged %q (cut: %q)", id, v.Status, r.status, r.pending)
		}
		r.status, r.pending = v.Status, ""
		if r.list >= 0 {
			w.checkStatusList(ctx, cn, lists, r)
		}
		if r.status == api.StatusRevoked && (!r.revokedChecked || final) {
			err := retry(func() error {
				_, err := cn.issuer.SetStatus(ctx, id, api.StatusRequest{Status: api.StatusValid})
				return err
			})
			if !refusedWith(err, http.StatusConflict, api.CodeConflict) {
				t.Errorf("credential %s: reinstating the revoked credential answered %v, want 409 conflict", id, err)
			}
			r.revokedChecked = true
		}
	}
	for id, v := range got {
		if w.creds[id] == nil { // issued, cut by the kill, and kept: from now on it must stay
			w.creds[id] = &credRecord{id: id, status: v.Status, list: -1}
		}
	}
}

// checkStatusList checks that the issuer's published status list says
// what the holder's view says (both are written in one transaction).
func (w *crashWorld) checkStatusList(ctx context.Context, cn *crashConn, lists map[int]*credentials.StatusList, r *credRecord) {
	t := w.t
	lst, ok := lists[r.list]
	if !ok {
		jwt, err := cn.c.StatusList(ctx, "mps", r.list)
		if err != nil {
			t.Fatalf("check: status list %d: %v", r.list, err)
		}
		if lst, err = decodeStatusList(jwt); err != nil {
			t.Fatalf("check: status list %d: %v", r.list, err)
		}
		lists[r.list] = lst
	}
	want := map[string]uint8{api.StatusValid: credentials.StatusValid, api.StatusRevoked: credentials.StatusInvalid,
		api.StatusSuspended: credentials.StatusSuspended}[r.status]
	if v, err := lst.Get(r.index); err != nil || v != want {
		t.Errorf("credential %s: status list %d index %d holds %d (%v), want %d (%s)", r.id, r.list, r.index, v, err, want, r.status)
	}
}

// decodeStatusList reads the list out of a Status List Token; its
// signature is the business of other tests.
func decodeStatusList(jwt string) (*credentials.StatusList, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWS")
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c struct {
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	return credentials.DecodeStatusList(c.StatusList.Bits, c.StatusList.Lst, 0)
}

func (w *crashWorld) checkShares(ctx context.Context, cn *crashConn, final bool) {
	t := w.t
	views := map[string]*api.ShareView{}
	for _, h := range w.sharers {
		var vs []*api.ShareView
		if err := retry(func() (err error) { vs, err = cn.holder[h].Shares(ctx); return err }); err != nil {
			t.Fatalf("check: shares: %v", err)
		}
		for _, v := range vs {
			views[v.ShareID] = v
		}
	}
	redeem := func(s *shareRecord) error {
		var resp *api.VerifyResponse
		err := retry(func() error {
			return w.write("redeem", func() (err error) { resp, err = cn.audit.Verify(ctx, s.qr); return err })
		})
		if err == nil {
			s.valid++
			if resp.Result != "valid" {
				t.Errorf("share %s: redeemed after the restart with result %q", s.id, resp.Result)
			}
		}
		return err
	}
	for id, s := range w.shares {
		if time.Since(s.made) > 280*time.Second {
			continue // about to expire (a long EIDWALLET_TEST_CRASH_CYCLES run)
		}
		v, ok := views[id]
		switch {
		case s.uncertain:
			// Approval cut by the kill: pending or active, nothing else.
			if ok && v.Status != api.SharePending && v.Status != api.ShareActive {
				t.Errorf("share %s: approval cut by the kill, status %q after the restart", id, v.Status)
			}
			continue
		case !ok:
			t.Errorf("share %s: approval acknowledged, share missing after the restart", id)
			continue
		}
		want := []string{api.ShareActive}
		switch {
		case s.redeemed:
			want = []string{api.ShareRedeemed}
		case s.redeemSent:
			want = append(want, api.ShareRedeemed)
		}
		if !slices.Contains(want, v.Status) {
			t.Errorf("share %s: status %q after the restart, want one of %q", id, v.Status, want)
		}
		switch {
		case s.redeemed && (!s.redeemChecked || final):
			// An acknowledged redemption is never redeemable again.
			if err := redeem(s); !refusedWith(err, http.StatusConflict, api.CodeAlreadyRedeemed) {
				t.Errorf("share %s: redemption acknowledged, then POST /v1/verify after the restart answered %v, want 409 share_already_redeemed", id, err)
			}
			s.redeemChecked = true
		case s.redeemSent && !s.redeemed:
			// Redemption cut by the kill: done (409) or not (200), once.
			err := redeem(s)
			switch {
			case err == nil && v.Status == api.ShareRedeemed:
				t.Errorf("share %s: listed as redeemed after the restart, then redeemed again", id)
			case err != nil && !refusedWith(err, http.StatusConflict, api.CodeAlreadyRedeemed):
				t.Errorf("share %s: redemption cut by the kill, then POST /v1/verify answered %v, want 200 or 409 share_already_redeemed", id, err)
			}
			s.redeemed, s.redeemChecked = true, err != nil
			if final && err == nil {
				if err := redeem(s); !refusedWith(err, http.StatusConflict, api.CodeAlreadyRedeemed) {
					t.Errorf("share %s: second redemption answered %v, want 409 share_already_redeemed", id, err)
				}
			}
		case final && !s.redeemed:
			// Approved and never redeemed: redeemable exactly once.
			if err := redeem(s); err != nil {
				t.Errorf("share %s: approval acknowledged, first redemption after the restart answered %v, want 200", id, err)
			}
			if err := redeem(s); !refusedWith(err, http.StatusConflict, api.CodeAlreadyRedeemed) {
				t.Errorf("share %s: second redemption answered %v, want 409 share_already_redeemed", id, err)
			}
			s.redeemed, s.redeemChecked = true, true
		}
		if s.valid > 1 {
			t.Errorf("share %s: redeemed %d times across the crashes", id, s.valid)
		}
	}
}

func (w *crashWorld) checkTokens(ctx context.Context, cn *crashConn, final bool) {
	t := w.t
	for _, r := range w.tokens {
		if r.acked && r.checked && !final || time.Since(r.made) > 220*time.Second {
			continue
		}
		err := retry(func() error { return w.write("token", func() error { return postToken(ctx, cn.base, r.assertion) }) })
		replay := grantRefused(err, "jti already used")
		switch {
		case r.acked && !replay:
			t.Errorf("token: an acknowledged assertion replayed after the restart answered %v, want 400 invalid_grant (jti already used)", err)
		case !r.acked && err != nil && !replay:
			t.Errorf("token: an assertion cut by the kill, replayed after the restart, answered %v, want 200 or 400 invalid_grant (jti already used)", err)
		}
		// From here on its jti is used, whichever way the cut went; a 200
		// now is checked at the next restart, or at once after the last.
		r.checked = r.acked || replay
		r.acked = true
		if final && !r.checked {
			err := retry(func() error { return postToken(ctx, cn.base, r.assertion) })
			if !grantRefused(err, "jti already used") {
				t.Errorf("token: an assertion accepted after the restart, replayed, answered %v, want 400 invalid_grant (jti already used)", err)
			}
			r.checked = true
		}
	}
}

func (w *crashWorld) checkDevices(ctx context.Context, cn *crashConn, final bool) {
	t := w.t
	var views []*api.DeviceView
	if err := retry(func() (err error) { views, err = cn.holder[w.devHolder].Devices(ctx); return err }); err != nil {
		t.Fatalf("check: devices: %v", err)
	}
	got := map[string]*api.DeviceView{}
	for _, v := range views {
		got[v.ID] = v
	}
	for id, d := range w.devices {
		v, ok := got[id]
		switch {
		case !ok:
			t.Errorf("device %s: enrolment acknowledged, device missing after the restart", id)
			continue
		case d.revoked && v.Revoked == nil:
			t.Errorf("device %s: revocation acknowledged, device active after the restart", id)
		case v.Revoked != nil:
			d.revoked = true // revocation cut by the kill and kept: it must stay
		}
		if d.revoked && (!d.revokedChecked || final) {
			a, err := signAssertion(d.dev, cn.c.TokenEndpoint())
			if err != nil {
				t.Fatal(err)
			}
			err = retry(func() error { return postToken(ctx, cn.base, a) })
			if !grantRefused(err, "revoked") {
				t.Errorf("device %s: revoked, then POST /v1/token with its assertion answered %v, want 400 invalid_grant (the device is revoked)", id, err)
			}
			d.revokedChecked = true
		}
	}
}

// checkLogs checks each holder's activity chain (through the API's own
// check) and that every write known to be done has its entry: an entry is
// appended in the transaction of the event it records (SPEC §3.6), so a
// crash can lose neither without the other. The load verifier's log has
// each redemption acknowledged to it.
func (w *crashWorld) checkLogs(ctx context.Context, cn *crashConn) {
	t := w.t
	entries := map[string]int{} // event|id|outcome → count
	for _, h := range append([]*crashHolder{w.issuee, w.devHolder}, w.sharers...) {
		var act *api.ActivityResponse
		if err := retry(func() (err error) { act, err = cn.holder[h].ExportActivity(ctx); return err }); err != nil {
			t.Fatalf("check: activity export: %v", err)
		}
		if act.ChainValid == nil || !*act.ChainValid {
			t.Errorf("holder %s: the activity chain is not valid after the restart (chain_valid %v)", h.dev.HolderID, act.ChainValid)
		}
		for _, e := range act.Entries {
			id := e.ShareID + e.CredentialID + e.DeviceID
			entries[e.Event+"|"+id]++
			if e.Event == api.EventCredentialStatus {
				entries[e.Event+"|"+id+"|"+e.Outcome]++
			}
		}
	}
	need := func(key, what string) {
		if entries[key] == 0 {
			t.Errorf("activity: no %s entry for %s after the restart", what, key)
		}
	}
	for id, c := range w.creds {
		need(api.EventCredentialIssued+"|"+id, "credential_issued")
		want := map[string]int{}
		for _, st := range c.changes {
			want[st]++
		}
		for st, n := range want {
			if got := entries[api.EventCredentialStatus+"|"+id+"|"+st]; got < n {
				t.Errorf("activity: credential %s has %d credential_status_changed %q entries, %d acknowledged", id, got, st, n)
			}
		}
	}
	for id, s := range w.shares {
		if s.approved {
			need(api.EventShareApproved+"|"+id, "share_approved")
		}
		if s.redeemed {
			need(api.EventShareRedeemed+"|"+id, "share_redeemed")
		}
	}
	for id, d := range w.devices {
		need(api.EventDeviceEnrolled+"|"+id, "device_enrolled")
		if d.revoked {
			need(api.EventDeviceRevoked+"|"+id, "device_revoked")
		}
	}
	var log *api.VerificationsResponse
	if err := retry(func() (err error) { log, err = cn.shop.Verifications(ctx, 1000); return err }); err != nil {
		t.Fatalf("check: verifications: %v", err)
	}
	valid := map[string]bool{}
	for _, e := range log.Entries {
		if e.Result == "valid" {
			valid[e.ShareID] = true
		}
	}
	for id, s := range w.shares {
		if s.shopAcked && !valid[id] {
			t.Errorf("verifier log: the acknowledged redemption of share %s is missing after the restart", id)
		}
	}
}
