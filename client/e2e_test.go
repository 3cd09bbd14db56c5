package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// stack is the real service in-process: bbolt in a temp dir, the wallet
// service and the HTTP API on a loopback httptest server.
type stack struct {
	url        string
	adminToken string
	skew       atomic.Int64 // added to the service's clock (and clients' that use st.now)
}

// now is the stack's clock: the wall clock moved by skew.
func (st *stack) now() time.Time { return time.Now().Add(time.Duration(st.skew.Load())) }

func newStack(t *testing.T) *stack {
	t.Helper()
	// The public URL must be known before the service is made: it is the
	// aud of device assertions.
	st := &stack{}
	ts := httptest.NewUnstartedServer(nil)
	st.url = "http://" + ts.Listener.Addr().String()
	svc, _ := servicetest.New(t, wallet.Config{PublicURL: st.url, Now: st.now})
	var err error
	if st.adminToken, err = svc.BootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = server.New(server.Config{Service: svc, Now: st.now})
	ts.Start()
	t.Cleanup(ts.Close)
	return st
}

const citizen = "001090000001"

func nationalID(citizenID, name string) api.IssueRequest {
	return api.IssueRequest{
		CitizenID: citizenID, Type: credentials.NationalID, ExpiresAt: time.Now().AddDate(10, 0, 0),
		Claims: map[string]any{
			"id_number": citizenID, "full_name": name, "birth_date": "1990-01-01", "sex": "M",
			"nationality": "VNM", "issue_date": "2021-05-01", "expiry_date": "2036-01-01",
		},
	}
}

// mpsIssuer registers the issuer mps for identity cards and returns it
// with an API key of its own.
func mpsIssuer(t *testing.T, c *client.Client, admin *client.Admin) *client.Issuer {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{credentials.NationalID}}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateIssuerAPIKey(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	return c.Issuer(key.Key)
}

// enrolled is the citizen's holder on a new device named name, enrolled
// with an activation code the operator made.
func enrolled(t *testing.T, c *client.Client, admin *client.Admin, name string) *client.Holder {
	t.Helper()
	ctx := context.Background()
	code, err := admin.CreateActivationCode(ctx, citizen)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := client.NewDevice(name)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Holder(dev)
	if _, err := h.Enroll(ctx, citizen, code.Code); err != nil {
		t.Fatal(err)
	}
	return h
}

// countingTransport counts token requests and can garble the bearer of the
// next holder call, as a revoked or stale token would look to the server.
type countingTransport struct {
	tokens  atomic.Int32
	garble  atomic.Bool
	garbled atomic.Int32
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v1/token" {
		ct.tokens.Add(1)
	}
	if strings.HasPrefix(r.URL.Path, "/v1/me/") && ct.garble.CompareAndSwap(true, false) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", r.Header.Get("Authorization")+"x")
		ct.garbled.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func wantCode(t *testing.T, err error, status int, code api.Code) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a %d %s answer", err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("err = %v, want %d %s", err, status, code)
	}
	return e
}

// TestEndToEnd drives every role through the client against the real
// service: admin → issuer → holder → verifier, and back.
func TestEndToEnd(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	ct := &countingTransport{}
	c := client.New(st.url, client.WithHTTPClient(&http.Client{Transport: ct}))

	if err := c.Health(ctx); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("readyz: %v", err)
	}

	// Operator: an issuer, its key, a verifier, an activation code.
	admin := c.Admin(st.adminToken)
	if _, err := c.Admin("not-the-token").Issuers(ctx); err == nil {
		t.Fatal("a wrong admin token was accepted")
	} else {
		wantCode(t, err, 401, api.CodeUnauthenticated)
	}
	iss, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{credentials.NationalID}})
	if err != nil {
		t.Fatal(err)
	}
	if iss.ID != "mps" || len(iss.Keys) != 1 || !iss.Keys[0].Active {
		t.Fatalf("issuer = %+v", iss)
	}
	list, err := admin.Issuers(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "mps" {
		t.Fatalf("issuers = %v, %v", list, err)
	}
	issuerKey, err := admin.CreateIssuerAPIKey(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	ver, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "pharmacy-1", Name: "Corner Pharmacy", Category: "pharmacy",
		Claims: map[string][]string{credentials.NationalID: {"full_name", "age_over_18"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ver.APIKey == nil || ver.APIKey.Key == "" {
		t.Fatalf("verifier creation carries no API key: %+v", ver)
	}
	other, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "bank-1", Name: "Bank", Category: "bank",
		Claims: map[string][]string{credentials.NationalID: {"full_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := admin.Verifiers(ctx); err != nil || len(vs) != 2 {
		t.Fatalf("verifiers = %v, %v", vs, err)
	}
	issuer := c.Issuer(issuerKey.Key)
	verifier := c.Verifier(ver.APIKey.Key)

	// A credential issued before enrolment is bound on enrolment.
	early, err := issuer.Issue(ctx, nationalID(citizen, "Nguyen Van Demo"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := admin.CreateActivationCode(ctx, citizen)
	if err != nil {
		t.Fatal(err)
	}

	// The citizen's device.
	dev, err := client.NewDevice("Test phone")
	if err != nil {
		t.Fatal(err)
	}
	holder := c.Holder(dev)
	if _, err := holder.Enroll(ctx, citizen, "wrong-code"); err == nil {
		t.Fatal("enrolled with a wrong code")
	}
	enr, err := holder.Enroll(ctx, citizen, code.Code)
	if err != nil {
		t.Fatal(err)
	}
	if dev.ID != enr.DeviceID || dev.HolderID != enr.HolderID || dev.URL != st.url {
		t.Fatalf("device after enrolment = %+v", dev)
	}
	// The device file round-trips into a working holder.
	path := filepath.Join(t.TempDir(), "device.json")
	if err := dev.Save(path); err != nil {
		t.Fatal(err)
	}
	if dev, err = client.LoadDevice(path); err != nil {
		t.Fatal(err)
	}
	holder = c.Holder(dev)

	creds, err := holder.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || creds[0].ID != early.CredentialID || creds[0].Claims["full_name"] != "Nguyen Van Demo" {
		t.Fatalf("credentials = %+v", creds)
	}
	if one, err := holder.Credential(ctx, early.CredentialID); err != nil || one.Type != credentials.NationalID {
		t.Fatalf("credential = %+v, %v", one, err)
	}
	if _, err := holder.Credential(ctx, "cred_nope"); err == nil {
		t.Fatal("unknown credential found")
	} else {
		wantCode(t, err, 404, api.CodeNotFound)
	}
	if ct.tokens.Load() != 1 {
		t.Errorf("%d token requests for three holder calls, want 1 (cached)", ct.tokens.Load())
	}

	// A refused token is replaced once, transparently.
	ct.garble.Store(true)
	if _, err := holder.Devices(ctx); err != nil {
		t.Fatalf("call after a refused token: %v", err)
	}
	if ct.garbled.Load() != 1 || ct.tokens.Load() != 2 {
		t.Errorf("garbled %d, token requests %d; want 1 and 2", ct.garbled.Load(), ct.tokens.Load())
	}

	// Share two claims, approve with the device key, show the QR.
	req := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: early.CredentialID, Claims: []string{"full_name", "age_over_18"}}}}
	share, err := holder.ShareAndApprove(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if share.Status != "active" || !strings.HasPrefix(share.QRText, "EID1:") {
		t.Fatalf("share = %+v", share)
	}
	if _, _, err := qr.Parse(share.QRText); err != nil {
		t.Fatalf("qr_text %q: %v", share.QRText, err)
	}
	png, err := holder.ShareQRPNG(ctx, share.ShareID, 256)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("qr.png: %d bytes, %v", len(png), err)
	}
	svg, err := holder.ShareQRSVG(ctx, share.ShareID, 0)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("qr.svg: %v", err)
	}
	if _, err := holder.ShareQRPNG(ctx, share.ShareID, 5000); err == nil {
		t.Fatal("qr.png size 5000 accepted")
	} else {
		wantCode(t, err, 400, api.CodeInvalidRequest)
	}
	if got, err := holder.GetShare(ctx, share.ShareID); err != nil || got.Status != "active" {
		t.Fatalf("share = %+v, %v", got, err)
	}

	// Another verifier may redeem an unbound share; bind one to the
	// pharmacy and the bank is refused without consuming it.
	bound := req
	bound.VerifierID = ver.ID
	boundShare, err := holder.ShareAndApprove(ctx, bound)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verifier(other.APIKey.Key).Verify(ctx, boundShare.QRText)
	if e := wantCode(t, err, 403, api.CodeForbidden); e.Reason != api.ReasonAudienceMismatch {
		t.Errorf("reason %q, want audience_mismatch", e.Reason)
	}
	if res, err := verifier.Verify(ctx, boundShare.QRText); err != nil || res.Result != "valid" {
		t.Fatalf("bound share at its verifier: %+v, %v", res, err)
	}

	// The verifier scans the first share and learns the two claims only.
	res, err := verifier.Verify(ctx, share.QRText)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "valid" || res.Verifier.ID != ver.ID || len(res.Documents) != 1 {
		t.Fatalf("verify = %+v", res)
	}
	doc := res.Documents[0]
	if doc.Claims["full_name"] != "Nguyen Van Demo" || doc.Claims["age_over_18"] != true || len(doc.Claims) != 2 {
		t.Errorf("disclosed claims = %v", doc.Claims)
	}
	// ... and can check the presentation itself with the issuer's JWKS.
	keys, err := c.IssuerKeys(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := c.IssuerMetadata(ctx, "mps")
	if err != nil || meta.Issuer != iss.Iss {
		t.Fatalf("issuer metadata = %+v, %v", meta, err)
	}
	trust := credentials.NewTrustStore()
	trust.AddIssuer(iss.Iss, keys)
	v, err := credentials.Verify(doc.Presentation, trust, credentials.VerifyOptions{
		Now: time.Now(), RequireKB: true, Audience: doc.KeyBinding.Aud, Nonce: doc.KeyBinding.Nonce})
	if err != nil {
		t.Fatalf("the verifier's own check of the presentation: %v", err)
	}
	if holderPub, _ := dev.PublicKey(); !v.Holder.Equal(holderPub) {
		t.Error("the credential is not bound to the device key")
	}
	if sl, err := c.StatusList(ctx, "mps", 1); err != nil || strings.Count(sl, ".") != 2 {
		t.Errorf("status list = %.40q, %v", sl, err)
	}
	// ... and read what the credential's vct means: its labels in Vietnamese.
	types, err := c.Types(ctx)
	if err != nil || len(types) != 3 {
		t.Fatalf("types = %v, %v", types, err)
	}
	tm, err := c.TypeMetadata(ctx, "urn:eidwallet:vct:national_id:1")
	if err != nil || tm.VCT != "urn:eidwallet:vct:national_id:1" || tm.Claims[1].Display[0].Label != "Họ và tên" {
		t.Errorf("type metadata = %+v, %v", tm, err)
	}

	// One use only; cancelled shares are gone.
	_, err = verifier.Verify(ctx, share.QRText)
	wantCode(t, err, 409, api.CodeAlreadyRedeemed)
	again, err := holder.ShareAndApprove(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.CancelShare(ctx, again.ShareID); err != nil {
		t.Fatal(err)
	}
	_, err = verifier.Verify(ctx, again.QRText)
	wantCode(t, err, 410, api.CodeShareCancelled)
	if shares, err := holder.Shares(ctx); err != nil || len(shares) != 3 {
		t.Errorf("shares = %d, %v; want 3", len(shares), err)
	}

	// Both logs.
	vlog, err := verifier.Verifications(ctx, 10)
	if err != nil || len(vlog.Entries) < 2 {
		t.Fatalf("verifications = %+v, %v", vlog, err)
	}
	act, err := holder.Activity(ctx)
	if err != nil || len(act.Entries) == 0 || act.Entries[0].Event == "" {
		t.Fatalf("activity = %+v, %v", act, err)
	}
	exp, err := holder.ExportActivity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exp.ChainValid == nil || !*exp.ChainValid || !wallet.CheckChain(exp.Entries) {
		t.Errorf("exported chain: service says %v, local check %v", exp.ChainValid, wallet.CheckChain(exp.Entries))
	}
	redeemed := slices.IndexFunc(exp.Entries, func(e *api.ActivityEntry) bool {
		return e.Event == api.EventShareRedeemed && e.ShareID == share.ShareID
	})
	if redeemed < 0 || exp.Entries[redeemed].VerifierID != ver.ID {
		t.Errorf("no share_redeemed entry for %s by %s", share.ShareID, ver.ID)
	}

	// Revocation: the holder can no longer share it.
	sr, err := issuer.SetStatus(ctx, early.CredentialID, api.StatusRequest{Status: "revoked", Reason: "test"})
	if err != nil || sr.Status != "revoked" {
		t.Fatalf("set status = %+v, %v", sr, err)
	}
	_, err = holder.Share(ctx, req)
	if e := wantCode(t, err, 422, api.CodeVerificationFailed); e.Reason != string(credentials.ReasonRevoked) {
		t.Errorf("reason %q, want credential_revoked", e.Reason)
	}

	// Key rotation and retirement.
	rot, err := admin.RotateIssuerKey(ctx, "mps")
	if err != nil || len(rot.Keys) != 2 {
		t.Fatalf("rotate = %+v, %v", rot, err)
	}
	var oldKid string
	for _, k := range rot.Keys {
		if !k.Active {
			oldKid = k.Kid
		}
	}
	ret, err := admin.RetireIssuerKey(ctx, "mps", oldKid)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ret.Keys, func(k api.KeyView) bool { return k.Kid == oldKid }); i >= 0 && ret.Keys[i].Retired == nil {
		t.Errorf("key %s not retired: %+v", oldKid, ret.Keys)
	}

	// An API key revoked is refused.
	if err := admin.RevokeAPIKey(ctx, issuerKey.ID); err != nil {
		t.Fatal(err)
	}
	_, err = issuer.Issue(ctx, nationalID(citizen, "Nguyen Van Demo"))
	wantCode(t, err, 401, api.CodeUnauthenticated)

	// A revoked device loses its access, token refresh included: its token
	// is refused (401), and the fresh assertion the client then sends is
	// the token endpoint's 400 invalid_grant (RFC 7523 §3.1).
	if err := holder.RevokeDevice(ctx, dev.ID); err != nil {
		t.Fatal(err)
	}
	_, err = holder.Credentials(ctx)
	wantCode(t, err, 400, api.CodeInvalidGrant)
}

// TestBulkIssuance streams requests from an iterator and reads results as
// they come, a bad line failing alone.
func TestBulkIssuance(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := client.New(st.url)
	admin := c.Admin(st.adminToken)
	if _, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{credentials.NationalID}}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateIssuerAPIKey(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	issuer := c.Issuer(key.Key)

	const n = 600 // more than two server batches
	reqs := func(yield func(api.IssueRequest) bool) {
		for i := range n {
			r := nationalID(fmt.Sprintf("%012d", 100000000000+i), "Citizen")
			if i == 7 {
				r.CitizenID = "not-a-number"
			}
			if !yield(r) {
				return
			}
		}
	}
	var ok, failed int
	seen := map[int]bool{}
	for r, err := range issuer.IssueBulk(ctx, reqs) {
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Line] = true
		switch {
		case r.Error != "":
			failed++
			if r.Line != 8 || r.Error != api.CodeInvalidRequest {
				t.Errorf("line %d failed: %s %s", r.Line, r.Error, r.ErrorDescription)
			}
		case r.IssueResponse == nil || r.CredentialID == "":
			t.Errorf("line %d: no credential and no error", r.Line)
		default:
			ok++
		}
	}
	if ok != n-1 || failed != 1 || len(seen) != n {
		t.Errorf("%d issued, %d failed, %d lines answered; want %d, 1, %d", ok, failed, len(seen), n-1, n)
	}

	// Stopping early aborts the upload without hanging.
	endless := func(yield func(api.IssueRequest) bool) {
		for i := 0; ; i++ {
			if !yield(nationalID(fmt.Sprintf("%012d", 200000000000+i), "Citizen")) {
				return
			}
		}
	}
	got := 0
	for r, err := range issuer.IssueBulk(ctx, endless) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Error != "" {
			t.Fatalf("line %d: %s", r.Line, r.Error)
		}
		if got++; got == 10 {
			break
		}
	}

	// A raw NDJSON body works the same way.
	var body bytes.Buffer
	body.WriteString(`{"citizen_id":"300000000001","type":"national_id","valid_until":"2040-01-01T00:00:00Z","claims":{"id_number":"300000000001","full_name":"A","birth_date":"1990-01-01","sex":"F","nationality":"VNM","issue_date":"2021-01-01","expiry_date":"2031-01-01"}}` + "\n")
	body.WriteString("{not json}\n")
	var lines []int
	for r, err := range issuer.IssueBulkNDJSON(ctx, &body) {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r.Line)
		if (r.Line == 1) != (r.Error == "") {
			t.Errorf("line %d: error %q", r.Line, r.Error)
		}
	}
	if !slices.Equal(lines, []int{1, 2}) {
		t.Errorf("lines answered %v, want [1 2]", lines)
	}

	// A wrong key is an *Error before any result.
	for _, err := range c.Issuer("wrong").IssueBulk(ctx, reqs) {
		wantCode(t, err, 401, api.CodeUnauthenticated)
	}
	// An unencodable request is reported as such.
	bad := func(yield func(api.IssueRequest) bool) {
		yield(api.IssueRequest{CitizenID: "400000000001", Type: "national_id", Claims: map[string]any{"x": func() {}}})
	}
	var lastErr error
	for _, err := range issuer.IssueBulk(ctx, iter.Seq[api.IssueRequest](bad)) {
		lastErr = err
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "encode request") {
		t.Errorf("unencodable request: err = %v", lastErr)
	}
}

// TestHolderToken checks that concurrent calls share one token and that
// the token is renewed before it expires.
func TestHolderToken(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	ct := &countingTransport{}
	c := client.New(st.url, client.WithHTTPClient(&http.Client{Transport: ct}), client.WithClock(st.now))
	h := enrolled(t, c, c.Admin(st.adminToken), "phone")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.Devices(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := ct.tokens.Load(); n != 1 {
		t.Errorf("%d token requests for 8 concurrent calls, want 1", n)
	}
	// Nine minutes on, the 10-minute token is still used...
	st.skew.Store(int64(9 * time.Minute))
	if _, err := h.Devices(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ct.tokens.Load(); n != 1 {
		t.Errorf("%d token requests at 9 minutes, want 1", n)
	}
	// ... and within its last 30 seconds it is renewed before use.
	st.skew.Store(int64(9*time.Minute + 45*time.Second))
	if _, err := h.Devices(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ct.tokens.Load(); n != 2 {
		t.Errorf("%d token requests at 9m45s, want 2", n)
	}
}

// TestShareCancelAfterExpiry: a share item without a credential id is a
// bad request (SPEC §5, 400), not a credential not found; and cancelling
// a share that has expired changes nothing (SPEC §3.3 step 3 cancels a
// live share): it stays expired to its holder and at the counter (410
// share_expired), and the holder's log gains no cancellation.
func TestShareCancelAfterExpiry(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := client.New(st.url, client.WithClock(st.now))
	admin := c.Admin(st.adminToken)
	issuer := mpsIssuer(t, c, admin)
	ver, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail",
		Claims: map[string][]string{credentials.NationalID: {"full_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := issuer.Issue(ctx, nationalID(citizen, "Nguyen Van Demo"))
	if err != nil {
		t.Fatal(err)
	}
	h := enrolled(t, c, admin, "phone")

	_, err = h.Share(ctx, api.ShareRequest{Items: []api.ShareRequestItem{{Claims: []string{"full_name"}}}})
	wantCode(t, err, 400, api.CodeInvalidRequest)

	sh, err := h.ShareAndApprove(ctx, api.ShareRequest{TTLSeconds: 60,
		Items: []api.ShareRequestItem{{CredentialID: issued.CredentialID, Claims: []string{"full_name"}}}})
	if err != nil {
		t.Fatal(err)
	}
	st.skew.Store(int64(2 * time.Minute))
	if err := h.CancelShare(ctx, sh.ShareID); err != nil {
		t.Fatalf("cancel of an expired share: %v", err)
	}
	if v, err := h.GetShare(ctx, sh.ShareID); err != nil || v.Status != api.ShareExpired {
		t.Errorf("share after the cancel = %+v, %v; want expired", v, err)
	}
	_, err = c.Verifier(ver.APIKey.Key).Verify(ctx, sh.QRText)
	wantCode(t, err, 410, api.CodeShareExpired)
	act, err := h.Activity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range act.Entries {
		if e.Event == api.EventShareCancelled {
			t.Errorf("the holder's log has a cancellation of an expired share: %+v", e)
		}
	}
}
