package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
)

// TestOfflineCodeThroughRun (issue 12): a citizen approves an offline
// share; the EIDC1: code verifies with `eidwallet verify-offline` against
// the bundle saved from GET /v1/trust-bundle, with no network; every
// tampering, a stale bundle, a clock set back and a revocation (in a
// bundle fetched after it) are refused; online, POST /v1/verify takes it
// once.
func TestOfflineCodeThroughRun(t *testing.T) {
	ctx := context.Background()
	f := newOfflineWorld(t)
	c, admin, holder, issued, v := f.c, f.admin, f.holder, f.issued, f.shop
	ik := f.issuerKey
	// A portrait cannot go offline; an offline share is of one credential.
	if _, err := holder.Share(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{CredentialID: issued.CredentialID,
		Claims: []string{"portrait"}}}}); err == nil {
		t.Error("an offline share with the portrait was accepted")
	}
	view := must(holder.ShareAndApprove(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{
		CredentialID: issued.CredentialID, Claims: []string{"age_over_18", "full_name"}}}}))
	if !strings.HasPrefix(view.OfflineQRText, "EIDC1:") || view.OfflineExpiresAt == nil || view.QRText == "" {
		t.Fatalf("approved: %+v", view)
	}
	dir := t.TempDir()
	save := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jwks := save("service.jwks", must(c.ServiceJWKS(ctx)))
	bundle := save("bundle.cose", must(c.TrustBundle(ctx)))
	verify := func(bundle, text string, now time.Time, extra ...string) (int, offlineResult) {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"verify-offline", "--bundle", bundle, "--bundle-jwks", jwks, "--now", strconv.FormatInt(now.Unix(), 10)}, extra...)
		code := run(ctx, args, func(string) string { return "" }, strings.NewReader(text), &out, &errOut)
		var r offlineResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("verify-offline: %s %s (%v)", out.String(), errOut.String(), err)
		}
		return code, r
	}
	now := time.Now()
	code2, r := verify(bundle, view.OfflineQRText, now)
	if code2 != exitOK || !r.Valid || r.Claims["age_over_18"] != true || r.Claims["full_name"] != claimsA[credentials.NationalID]["full_name"] ||
		len(r.Claims) != 2 || r.Type != credentials.NationalID || r.Issuer != "mps" {
		t.Fatalf("offline: %d %+v", code2, r)
	}
	// With --seen, the counter's seen-cti store: the second scan of a code
	// is refused (THREATS T39), another code still goes, and the file is
	// the counter's secret's kind (0600).
	seenFile := filepath.Join(dir, "seen")
	scan := func(text string) (int, offlineResult) {
		t.Helper()
		return verify(bundle, text, now, "--seen", seenFile)
	}
	if code, r := scan(view.OfflineQRText); code != exitOK || !r.Valid {
		t.Errorf("first scan with --seen: %d %+v", code, r)
	}
	if code, r := scan(view.OfflineQRText); code != exitInvalid || r.Valid || r.Reason != "already_used" {
		t.Errorf("second scan with --seen: %d %+v, want already_used", code, r)
	}
	other := must(holder.ShareAndApprove(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{
		CredentialID: issued.CredentialID, Claims: []string{"age_over_18"}}}}))
	if code, r := scan(other.OfflineQRText); code != exitOK || !r.Valid {
		t.Errorf("another code with --seen: %d %+v", code, r)
	}
	if fi, err := os.Stat(seenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the seen-cti file: %v, %v", fi, err)
	}
	text := view.OfflineQRText
	i := len(text) - 10
	tampered := text[:i] + map[bool]string{true: "1", false: "0"}[text[i] == '0'] + text[i+1:]
	for name, c := range map[string]struct {
		text string
		now  time.Time
		want string
	}{
		"a character changed": {tampered, now, ""},
		"expired":             {text, now.Add(5 * time.Minute), "expired"},
		"the bundle too old":  {text, now.Add(25 * time.Hour), "cannot_verify_offline"},
		"the clock set back":  {text, now.Add(-2 * time.Hour), "cannot_verify_offline"},
		"not a code":          {"EID1:ABCDEF", now, "malformed"},
	} {
		code, r := verify(bundle, c.text, c.now)
		if code != exitInvalid || r.Valid || (c.want != "" && string(r.Reason) != c.want) {
			t.Errorf("%s: %d %+v, want %s", name, code, r, c.want)
		}
	}
	// Online, once (SPEC §5: a second use is 409).
	res, err := v.Verify(ctx, text)
	if err != nil || res.Result != "valid" || len(res.Documents) != 1 {
		t.Fatalf("online: %+v %v", res, err)
	}
	if _, err := v.Verify(ctx, text); err == nil || !strings.Contains(err.Error(), "share_already_redeemed") {
		t.Errorf("a second online use: %v", err)
	}
	// A counter not registered for its claims learns nothing of that use
	// (T14, T35): still 403, and nothing is flagged.
	narrow := c.Verifier(must(admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "bar", Name: "Bar", Category: "retail",
		Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}})).APIKey.Key)
	if _, err := narrow.Verify(ctx, text); err == nil || !strings.Contains(err.Error(), "claims_not_registered") {
		t.Errorf("a counter not registered for the code's claims, after its use: %v", err)
	}
	if log := must(narrow.Verifications(ctx, 0)); slices.ContainsFunc(log.Entries, func(e *api.Verification) bool { return e.Result == "reused" || e.ShareID != "" }) {
		t.Errorf("the unregistered counter's log: %+v", log.Entries)
	}
	// Verified offline at a second counter, then uploaded: the code was
	// used at the shop already, so both logs and the citizen's activity
	// flag it.
	vv2 := must(admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "kiosk", Name: "Kiosk", Category: "retail",
		Claims: map[string][]string{credentials.NationalID: {"age_over_18", "full_name"}}}))
	kiosk := c.Verifier(vv2.APIKey.Key)
	cti := r.CTI // as verify-offline prints it: what the upload takes
	up := must(kiosk.UploadOfflineVerifications(ctx, api.OfflineVerifications{Verifications: []api.OfflineVerification{
		{CTI: cti, VerifiedAt: now, Result: "valid", Type: credentials.NationalID}}}))
	if up.Accepted != 1 || len(up.Flagged) != 1 || up.Flagged[0] != cti {
		t.Errorf("upload: %+v", up)
	}
	for name, ver := range map[string]*client.Verifier{"shop": v, "kiosk": kiosk} {
		log := must(ver.Verifications(ctx, 0))
		if !slices.ContainsFunc(log.Entries, func(e *api.Verification) bool { return e.Result == "reused" }) {
			t.Errorf("the %s's log does not flag the code", name)
		}
	}
	act := must(holder.Activity(ctx))
	if !slices.ContainsFunc(act.Entries, func(e *api.ActivityEntry) bool { return e.Event == api.EventCompactReused }) {
		t.Error("the citizen's activity does not flag the code")
	}
	// An offline share's two codes are one use: after its EID1: code, the
	// EIDC1: one is refused online; a cancelled share's too.
	offlineShare := func() *api.ShareView {
		return must(holder.ShareAndApprove(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{
			CredentialID: issued.CredentialID, Claims: []string{"age_over_18"}}}}))
	}
	both := offlineShare()
	must(v.Verify(ctx, both.QRText))
	if _, err := kiosk.Verify(ctx, both.OfflineQRText); err == nil || !strings.Contains(err.Error(), "share_already_redeemed") {
		t.Errorf("EIDC1: after EID1: %v", err)
	}
	// ... and the other way round, when the EIDC1: code was used offline
	// at one counter and uploaded: the EID1: code then redeems nothing, at
	// any verifier.
	// The upload is the disclosure at that counter: the citizen's log and
	// the counter's name the share, the counter and the claims (SPEC §3.3
	// step 5, §3.7), as a redemption's do.
	counted := offlineShare()
	_, seen := verify(bundle, counted.OfflineQRText, now)
	if up := must(kiosk.UploadOfflineVerifications(ctx, api.OfflineVerifications{Verifications: []api.OfflineVerification{
		{CTI: seen.CTI, VerifiedAt: now, Result: "valid", Type: credentials.NationalID}}})); up.Accepted != 1 || len(up.Flagged) != 0 {
		t.Errorf("upload of a first use: %+v", up)
	}
	// The same upload sent again by that counter is no reuse; the same code
	// used at another counter of the kiosk (a second till, its own API
	// key) is (THREATS T39), flagged once in the kiosk's log.
	again := api.OfflineVerifications{Verifications: []api.OfflineVerification{{CTI: seen.CTI, VerifiedAt: now, Result: "valid", Type: credentials.NationalID}}}
	if up := must(kiosk.UploadOfflineVerifications(ctx, again)); up.Accepted != 1 || len(up.Flagged) != 0 {
		t.Errorf("the same counter's upload sent again: %+v", up)
	}
	till2 := c.Verifier(must(admin.CreateVerifierAPIKey(ctx, "kiosk")).Key)
	for range 2 {
		if up := must(till2.UploadOfflineVerifications(ctx, again)); up.Accepted != 1 || len(up.Flagged) != 1 || up.Flagged[0] != seen.CTI {
			t.Errorf("the code used at a second till of the kiosk: %+v", up)
		}
	}
	twoTills := 0
	for _, e := range must(kiosk.Verifications(ctx, 0)).Entries {
		if e.Result == "reused" && e.Reason == "offline_code_at_two_counters" && e.ShareID == counted.ShareID {
			twoTills++
		}
	}
	if twoTills != 1 {
		t.Errorf("the kiosk's log flags the second till's use %d times, want once", twoTills)
	}
	for name, ver := range map[string]*client.Verifier{"shop": v, "kiosk": kiosk} {
		if _, err := ver.Verify(ctx, counted.QRText); err == nil || !strings.Contains(err.Error(), "share_already_redeemed") {
			t.Errorf("EID1: at the %s after its EIDC1: code was uploaded: %v", name, err)
		}
	}
	if !slices.ContainsFunc(must(holder.Activity(ctx)).Entries, func(e *api.ActivityEntry) bool {
		return e.Event == api.EventShareRedeemed && e.ShareID == counted.ShareID && e.VerifierID == "kiosk" && slices.Equal(e.Claims, []string{credentials.NationalID + ".age_over_18"})
	}) {
		t.Error("the citizen's activity has no redemption of the uploaded code naming the kiosk and the claim")
	}
	if !slices.ContainsFunc(must(kiosk.Verifications(ctx, 0)).Entries, func(e *api.Verification) bool {
		return e.Result == "valid" && e.ShareID == counted.ShareID && slices.Equal(e.Claims, []string{credentials.NationalID + ".age_over_18"})
	}) {
		t.Error("the kiosk's log has no entry of the uploaded use naming the share and the claim")
	}
	// A counter not registered for what the code holds (a stall, for the
	// full name) saw what it may not collect (T35): its use counts for
	// nothing (not a reuse to flag, nothing spent), is in the citizen's log
	// once as a refusal, sent again or not, and tells that counter nothing
	// of the share.
	vv3 := must(admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "stall", Name: "Stall", Category: "retail",
		Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}}))
	stall := c.Verifier(vv3.APIKey.Key)
	named := must(holder.ShareAndApprove(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{
		CredentialID: issued.CredentialID, Claims: []string{"full_name"}}}}))
	_, seenNamed := verify(bundle, named.OfflineQRText, now)
	for range 2 { // the second, an upload sent again
		if up := must(stall.UploadOfflineVerifications(ctx, api.OfflineVerifications{Verifications: []api.OfflineVerification{
			{CTI: seenNamed.CTI, VerifiedAt: now, Result: "valid", Type: credentials.NationalID}}})); up.Accepted != 1 || len(up.Flagged) != 0 {
			t.Errorf("upload by a counter not registered for the code's claims: %+v", up)
		}
	}
	refusals := 0
	for _, e := range must(holder.Activity(ctx)).Entries {
		if e.Event == api.EventShareRefused && e.Outcome == api.ReasonClaimsNotRegistered && e.ShareID == named.ShareID && e.VerifierID == "stall" {
			refusals++
		}
	}
	if refusals != 1 {
		t.Errorf("the citizen's activity shows the unregistered counter's use %d times, want once", refusals)
	}
	for _, e := range must(stall.Verifications(ctx, 0)).Entries {
		if e.Reason == api.ReasonClaimsNotRegistered && (e.ShareID != "" || len(e.Types) > 0 || len(e.Claims) > 0 || e.Result != string(api.CodeForbidden)) {
			t.Errorf("the unregistered counter's log entry tells of the share: %+v", e)
		}
	}
	if _, err := v.Verify(ctx, named.QRText); err != nil {
		t.Errorf("the share an unregistered counter uploaded is spent: %v", err)
	}
	// Its upload after the shop's use is no reuse either: the stall
	// learns nothing of the share from being flagged.
	if up := must(stall.UploadOfflineVerifications(ctx, api.OfflineVerifications{Verifications: []api.OfflineVerification{
		{CTI: seenNamed.CTI, VerifiedAt: now, Result: "valid", Type: credentials.NationalID}}})); len(up.Flagged) != 0 {
		t.Errorf("the unregistered counter's upload after a use is flagged: %+v", up)
	}
	for _, e := range must(stall.Verifications(ctx, 0)).Entries {
		if e.ShareID != "" {
			t.Errorf("the unregistered counter's log names a share: %+v", e)
		}
	}
	cancelled := offlineShare()
	if err := holder.CancelShare(ctx, cancelled.ShareID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, cancelled.OfflineQRText); err == nil || !strings.Contains(err.Error(), "share_cancelled") {
		t.Errorf("EIDC1: of a cancelled share: %v", err)
	}
	// Revoked: a bundle fetched after it refuses the code offline.
	must(c.Issuer(ik).SetStatus(ctx, issued.CredentialID, api.StatusRequest{Status: api.StatusRevoked}))
	var fresh []byte
	for range 50 { // the bundle is kept in memory for a while; the revocation drops it
		fresh = must(c.TrustBundle(ctx))
		if !bytes.Equal(fresh, must(os.ReadFile(bundle))) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, r := verify(save("bundle2.cose", fresh), text, now); code != exitInvalid || r.Reason != "credential_revoked" {
		t.Errorf("after revocation: %d %+v", code, r)
	}
}

// offlineWorld is a server started through run() with an identity-card
// issuer, a shop registered for age_over_18 and full_name, and a citizen
// holding a card on an enrolled device.
type offlineWorld struct {
	c         *client.Client
	admin     *client.Admin
	issuerKey string
	holder    *client.Holder
	issued    *api.IssueResponse
	shop      *client.Verifier
}

func newOfflineWorld(t *testing.T) *offlineWorld {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, &syncBuffer{})
	t.Cleanup(srv.stop)
	c := client.New(srv.url)
	adminToken, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := c.Admin(string(bytes.TrimSpace(adminToken)))
	must(admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{credentials.NationalID}}))
	ik := must(admin.CreateIssuerAPIKey(ctx, "mps"))
	vv := must(admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "shop", Name: "Corner Shop", Category: "retail",
		Claims: map[string][]string{credentials.NationalID: {"age_over_18", "full_name"}}}))
	code := must(admin.CreateActivationCode(ctx, citizenA))
	holder := c.Holder(must(client.NewDevice("phone")))
	must(holder.Enroll(ctx, citizenA, code.Code))
	issued := must(c.Issuer(ik.Key).Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: credentials.NationalID,
		Claims: claimsA[credentials.NationalID], ExpiresAt: time.Now().AddDate(1, 0, 0)}))
	return &offlineWorld{c: c, admin: admin, issuerKey: ik.Key, holder: holder, issued: issued, shop: c.Verifier(vv.APIKey.Key)}
}
