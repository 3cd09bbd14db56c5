package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// env is a service over a real bbolt file with one issuer (mps).
type env struct {
	svc    *wallet.Service
	store  wallet.Store
	admin  *wallet.Principal
	issuer *wallet.Principal
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	e.svc, e.store = servicetest.New(t, wallet.Config{Now: func() time.Time { return e.now }})
	e.admin = &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	if _, err := e.svc.CreateIssuer(context.Background(), e.admin, api.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	return e
}

func (e *env) issue(t testing.TB, citizen string) *api.IssueResponse {
	t.Helper()
	return e.issueCard(t, citizen, "1990-01-01", e.now.AddDate(5, 0, 0))
}

// ageShop registers the verifier "shop" for age_over_18 of identity cards
// and returns it as a principal.
func (e *env) ageShop(t testing.TB) *wallet.Principal {
	t.Helper()
	if _, err := e.svc.CreateVerifier(context.Background(), e.admin, api.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail",
		Claims: map[string][]string{"national_id": {"age_over_18"}}}); err != nil {
		t.Fatal(err)
	}
	return &wallet.Principal{Role: api.RoleVerifier, Subject: "shop"}
}

// issueCard issues an identity card with the given birth date and validity.
func (e *env) issueCard(t testing.TB, citizen, birth string, until time.Time) *api.IssueResponse {
	t.Helper()
	resp, err := e.svc.Issue(context.Background(), e.issuer, api.IssueRequest{
		CitizenID: citizen, Type: "national_id", ExpiresAt: until,
		Claims: map[string]any{"id_number": citizen, "full_name": "Le Thi Demo", "birth_date": birth,
			"sex": "F", "nationality": "VN", "issue_date": "2024-01-01", "expiry_date": "2034-01-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestSwappedCiphertextFailsClosed: two credentials' sealed claims swapped
// in the store no longer open, and the holder gets 503, not the other
// citizen's data (THREATS T25).
func TestSwappedCiphertextFailsClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.issue(t, "001090000001"), e.issue(t, "001090000002")
	var holderA string
	err := e.store.Update(ctx, func(tx wallet.Tx) error {
		ca, err := wallet.Credentials.Get(tx, a.CredentialID)
		if err != nil {
			return err
		}
		cb, err := wallet.Credentials.Get(tx, b.CredentialID)
		if err != nil {
			return err
		}
		holderA = ca.HolderID
		ca.Claims, cb.Claims = cb.Claims, ca.Claims
		if err := wallet.Credentials.Put(tx, ca); err != nil {
			return err
		}
		return wallet.Credentials.Put(tx, cb)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Credential(ctx, &wallet.Principal{Role: api.RoleHolder, Subject: holderA}, a.CredentialID)
	if wallet.ErrorCode(err) != api.CodeStorageUnavailable {
		t.Fatalf("swapped ciphertext: %v, want %s", err, api.CodeStorageUnavailable)
	}
}

// TestActivityChainDetectsEdit: the exported chain verifies, and any
// altered entry breaks it (THREATS T29).
func TestActivityChainDetectsEdit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.issue(t, "001090000003")
	e.issue(t, "001090000003")
	var holder string
	_ = e.store.View(ctx, func(tx wallet.Tx) error {
		c, err := wallet.Credentials.Get(tx, r.CredentialID)
		holder = c.HolderID
		return err
	})
	p := &wallet.Principal{Role: api.RoleHolder, Subject: holder}
	if _, err := e.svc.SetStatus(ctx, e.issuer, r.CredentialID, api.StatusRequest{Status: "suspended"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Activity(ctx, p, true, api.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 3 || got.ChainValid == nil || !*got.ChainValid {
		t.Fatalf("export: %d entries, chain_valid %v", len(got.Entries), got.ChainValid)
	}
	for i := range got.Entries {
		edited := make([]*api.ActivityEntry, len(got.Entries))
		for j, en := range got.Entries {
			c := *en
			edited[j] = &c
		}
		edited[i].Outcome = "edited"
		if wallet.CheckChain(edited) {
			t.Errorf("editing entry %d left the chain valid", i)
		}
	}
	if wallet.CheckChain(got.Entries[1:]) {
		t.Error("dropping the first entry left the chain valid")
	}
}

// TestStatusIndicesRandomAndUnique: indices are spread over the list, not
// handed out in order, and never repeat (SPEC §3.5).
func TestStatusIndicesRandomAndUnique(t *testing.T) {
	e := newEnv(t)
	seen := map[int]bool{}
	sequential := 0
	prev := -1
	for i := range 100 {
		r := e.issue(t, "001090000004")
		if seen[r.StatusIndex] {
			t.Fatalf("index %d handed out twice (after %d)", r.StatusIndex, i)
		}
		seen[r.StatusIndex] = true
		if r.StatusIndex == prev+1 {
			sequential++
		}
		prev = r.StatusIndex
	}
	if sequential > 5 {
		t.Errorf("%d of 100 indices followed their predecessor", sequential)
	}
}

// TestMasterKeyFile: made 0600 on first start, read back the same, and a
// key file readable by others is refused (THREATS T27).
func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := wallet.LoadOrCreateMasterKey(path, rand.Reader, true)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", st.Mode().Perm())
	}
	k2, created, err := wallet.LoadOrCreateMasterKey(path, rand.Reader, true)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("reload: created %v, err %v, same %v", created, err, string(k1) == string(k2))
	}
	k3, created, err := wallet.LoadOrCreateMasterKey(path, rand.Reader, false)
	if err != nil || created || string(k1) != string(k3) {
		t.Fatalf("read where none may be made: created %v, err %v", created, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := wallet.LoadOrCreateMasterKey(path, rand.Reader, true); err == nil {
		t.Error("a world-readable master key was accepted")
	}
	// Where none may be made (a store sealed with one), a missing file is
	// ErrNoMasterKey and stays missing.
	gone := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := wallet.LoadOrCreateMasterKey(gone, rand.Reader, false); !errors.Is(err, wallet.ErrNoMasterKey) {
		t.Errorf("a missing key where none may be made: %v, want ErrNoMasterKey", err)
	}
	if _, err := os.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key was made: %v", err)
	}
}

// TestSealerBindsAssociatedData: a sealed record opens only with its own
// associated data.
func TestSealerBindsAssociatedData(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	s, err := wallet.NewAESGCM(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("claims"), []byte("credential|c1|h1"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.Open(sealed, []byte("credential|c1|h1")); err != nil || string(pt) != "claims" {
		t.Fatalf("open: %q %v", pt, err)
	}
	for _, ad := range []string{"credential|c2|h1", "credential|c1|h2", ""} {
		if _, err := s.Open(sealed, []byte(ad)); err == nil {
			t.Errorf("opened with associated data %q", ad)
		}
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, []byte("credential|c1|h1")); err == nil {
		t.Error("opened a tampered ciphertext")
	}
}

// enrolDevice enrols a fresh P-256 device for citizen and returns its key
// and ids.
func (e *env) enrolDevice(t testing.TB, citizen string) (*ecdsa.PrivateKey, *api.EnrollResponse) {
	t.Helper()
	ctx := context.Background()
	code, err := e.svc.CreateActivationCode(ctx, e.admin, api.ActivationCodeRequest{CitizenID: citizen})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := credentials.PublicJWK(&key.PublicKey)
	raw, _ := json.Marshal(jwk)
	resp, err := e.svc.Enroll(ctx, api.EnrollRequest{CitizenID: citizen, ActivationCode: code.Code, DeviceKey: raw, DeviceName: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	return key, resp
}

// TestTokenAssertionRules: the device assertion must be signed by the
// enrolled key, for the token endpoint, short-lived, fresh and used once
// (SPEC §3.1, THREATS T20, T11); every refusal is invalid_grant (RFC 7523
// §3.1).
func TestTokenAssertionRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, dev := e.enrolDevice(t, "001090000005")
	aud := "https://wallet.test/v1/token"
	assertion := func(k *ecdsa.PrivateKey, edit func(map[string]any)) string {
		claims := map[string]any{"iss": dev.DeviceID, "sub": dev.DeviceID, "aud": aud,
			"iat": e.now.Unix(), "exp": e.now.Add(time.Minute).Unix(), "jti": fmt.Sprint(time.Now().UnixNano())}
		if edit != nil {
			edit(claims)
		}
		tok, err := credentials.SignJWT(k, "JWT", "", claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := e.svc.Token(ctx, assertion(key, nil)); err != nil {
		t.Fatalf("a good assertion: %v", err)
	}
	if _, err := e.svc.Token(ctx, assertion(key, func(c map[string]any) { c["nbf"] = e.now.Add(-time.Minute).Unix() })); err != nil {
		t.Fatalf("a good assertion with an nbf passed: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	replayed := assertion(key, nil)
	if _, err := e.svc.Token(ctx, replayed); err != nil {
		t.Fatal(err)
	}
	// THREATS T12: the replay with s replaced by n−s, another valid
	// signature of the same bytes, has the same jti: refused as well.
	i := strings.LastIndexByte(replayed, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(replayed[i+1:])
	new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(sig[32:])).FillBytes(sig[32:])
	mauled := replayed[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	// Each refusal is invalid_grant, for the reason its description gives.
	for name, tc := range map[string]struct{ tok, why string }{
		"signed by another key": {assertion(other, nil), "not a valid assertion of an enrolled device"},
		"unknown device":        {assertion(key, func(c map[string]any) { c["iss"] = "dev_unknown" }), "not a valid assertion of an enrolled device"},
		"other audience":        {assertion(key, func(c map[string]any) { c["aud"] = "https://evil.example/v1/token" }), "aud must be the token endpoint"},
		"lives 10 minutes":      {assertion(key, func(c map[string]any) { c["exp"] = e.now.Add(10 * time.Minute).Unix() }), "at most 5 minutes"},
		"expired": {assertion(key, func(c map[string]any) {
			c["iat"], c["exp"] = e.now.Add(-10*time.Minute).Unix(), e.now.Add(-9*time.Minute).Unix()
		}), "expired"},
		"no jti":              {assertion(key, func(c map[string]any) { delete(c, "jti") }), "jti are required"},
		"nbf ahead":           {assertion(key, func(c map[string]any) { c["nbf"] = e.now.Add(time.Hour).Unix() }), "not valid before its nbf"},
		"sub is someone else": {assertion(key, func(c map[string]any) { c["sub"] = "dev_other" }), "sub must be the device id"},
		"no sub":              {assertion(key, func(c map[string]any) { delete(c, "sub") }), "sub must be the device id"},
		"jti replayed":        {replayed, "jti already used"},
		"jti replayed, n−s":   {mauled, "jti already used"},
	} {
		_, err := e.svc.Token(ctx, tc.tok)
		var we *wallet.Error
		if !errors.As(err, &we) || we.Code != api.CodeInvalidGrant || !strings.Contains(we.Message, tc.why) {
			t.Errorf("%s: %v, want %s (%s)", name, err, api.CodeInvalidGrant, tc.why)
		}
	}
	// A revoked device's assertions and tokens stop working.
	tok, err := e.svc.Token(ctx, assertion(key, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, tok.AccessToken)
	if err != nil || p.Role != api.RoleHolder || p.DeviceID != dev.DeviceID {
		t.Fatalf("access token: %+v %v", p, err)
	}
	if err := e.svc.RevokeDevice(ctx, p, dev.DeviceID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok.AccessToken); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("token of a revoked device: %v", err)
	}
	if _, err := e.svc.Token(ctx, assertion(key, nil)); wallet.ErrorCode(err) != api.CodeInvalidGrant || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("assertion of a revoked device: %v", err)
	}
	// An access token expires after 10 minutes.
	e.now = e.now.Add(wallet.AccessTokenTTL + time.Second)
	if _, err := e.svc.Authenticate(ctx, tok.AccessToken); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("expired access token: %v", err)
	}
}

// TestRedemptionRechecksValidity: a credential that expires between
// approval and scan is refused at redemption with credential_expired, and
// the share is not consumed (THREATS T16).
func TestRedemptionRechecksValidity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, dev := e.enrolDevice(t, "001090000006")
	resp := e.issueCard(t, "001090000006", "1990-01-01", e.now.Add(90*time.Second))
	holder := &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	share := e.approvedShare(t, key, holder, resp.CredentialID, 300, "age_over_18")
	verifier := e.ageShop(t)
	e.now = e.now.Add(2 * time.Minute)
	_, err := e.svc.Redeem(ctx, verifier, api.VerifyRequest{QR: share.QRText})
	var werr *wallet.Error
	if !errors.As(err, &werr) || werr.Code != api.CodeVerificationFailed || werr.Reason != "credential_expired" {
		t.Fatalf("expired credential at redemption: %v", err)
	}
	got, err := e.svc.Share(ctx, holder, share.ShareID)
	if err != nil || got.Uses != 0 {
		t.Errorf("the refused redemption consumed the share: %+v %v", got, err)
	}
}

// TestAgeOverAtShareTime: a citizen who turns 18 between issuance and share
// is shown as 18 or over: the identity card is re-issued for the device
// with today's derived claims before it is presented (issue 4).
func TestAgeOverAtShareTime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const citizen = "001090000007"
	key, dev := e.enrolDevice(t, citizen)
	// Issued the day before the 18th birthday (e.now is 2026-11-27).
	resp := e.issueCard(t, citizen, "2008-11-28", e.now.AddDate(5, 0, 0))
	if _, err := e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "bar", Name: "Bar", Category: "hospitality",
		Claims: map[string][]string{"national_id": {"age_over_18"}}}); err != nil {
		t.Fatal(err)
	}
	holder := &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	verifier := &wallet.Principal{Role: api.RoleVerifier, Subject: "bar"}
	ageAtShare := func() any {
		t.Helper()
		share := e.approvedShare(t, key, holder, resp.CredentialID, 0, "age_over_18")
		doc := e.redeemedDocument(t, verifier, share.QRText)
		if len(doc.Claims) != 1 {
			t.Errorf("claims %v, want age_over_18 alone", doc.Claims)
		}
		return doc.Claims["age_over_18"]
	}
	if got := ageAtShare(); got != false {
		t.Errorf("the day before the 18th birthday: age_over_18 = %v", got)
	}
	e.now = e.now.Add(24 * time.Hour)
	if got := ageAtShare(); got != true {
		t.Errorf("on the 18th birthday: age_over_18 = %v, want true", got)
	}
}

// redeemedDocument redeems qrText as verifier and returns its one
// document as the verifier reads it.
func (e *env) redeemedDocument(t *testing.T, verifier *wallet.Principal, qrText string) api.Document {
	t.Helper()
	res, err := e.svc.Redeem(context.Background(), verifier, api.VerifyRequest{QR: qrText})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.Documents[0])
	var doc api.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// citizen enrols a device for citizen and issues it an identity card:
// the device key, the card and the device as a holder principal.
func (e *env) citizen(t testing.TB, citizen string) (*ecdsa.PrivateKey, *api.IssueResponse, *wallet.Principal) {
	t.Helper()
	key, dev := e.enrolDevice(t, citizen)
	cred := e.issue(t, citizen)
	return key, cred, &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
}

// approvedShare shares claims of one credential and approves the share
// with the device key, as the app would.
func (e *env) approvedShare(t *testing.T, key *ecdsa.PrivateKey, holder *wallet.Principal, credentialID string, ttl int, claims ...string) *api.ShareView {
	t.Helper()
	ctx := context.Background()
	created, err := e.svc.CreateShare(ctx, holder, api.ShareRequest{TTLSeconds: ttl,
		Items: []api.ShareRequestItem{{CredentialID: credentialID, Claims: claims}}})
	if err != nil {
		t.Fatal(err)
	}
	item := created.ToSign[0]
	kb, err := credentials.SignKB(key, credentials.KB{Aud: item.Aud, Nonce: item.Nonce, IssuedAt: e.now.Unix(), SDHash: item.SDHash})
	if err != nil {
		t.Fatal(err)
	}
	share, err := e.svc.ApproveShare(ctx, holder, created.ShareID, api.ApproveRequest{KBJWTs: []string{kb}})
	if err != nil {
		t.Fatal(err)
	}
	return share
}

// TestOneHoldersRedemptionsAtOnce: shares of one citizen redeemed
// concurrently all succeed, and each leaves one entry in the holder's
// activity, whose chain stays whole, and one in the verifier's log: the
// entries that lost their key to another redemption are chained again
// (SPEC §3.6, THREATS T29).
func TestOneHoldersRedemptionsAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, dev := e.enrolDevice(t, "001090000009")
	resp := e.issue(t, "001090000009")
	holder := &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	verifier := e.ageShop(t)
	const n = 12
	shares := make([]*api.ShareView, n)
	for i := range shares {
		shares[i] = e.approvedShare(t, key, holder, resp.CredentialID, 300, "age_over_18")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, sh := range shares {
		wg.Go(func() { _, errs[i] = e.svc.Redeem(ctx, verifier, api.VerifyRequest{QR: sh.QRText}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("redemption %d: %v", i, err)
		}
	}
	act, err := e.svc.Activity(ctx, holder, true, api.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if act.ChainValid == nil || !*act.ChainValid || !wallet.CheckChain(act.Entries) {
		t.Fatal("the holder's chain does not check")
	}
	redeemed := map[string]int{}
	for _, en := range act.Entries {
		if en.Event == api.EventShareRedeemed {
			redeemed[en.ShareID]++
		}
	}
	log, err := e.svc.Verifications(ctx, verifier, api.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]int{}
	for _, v := range log.Entries {
		if v.Result == "valid" {
			logged[v.ShareID]++
		}
	}
	for i, sh := range shares {
		if redeemed[sh.ShareID] != 1 || logged[sh.ShareID] != 1 {
			t.Errorf("share %d: %d activity entries and %d verifier entries, want 1 and 1", i, redeemed[sh.ShareID], logged[sh.ShareID])
		}
	}
}

// TestDamagedDocumentConsumesNoUse: a share whose sealed document no
// longer opens is answered 503 storage_unavailable, and the share keeps
// its use: the documents are opened before the redemption is written
// (THREATS T25).
func TestDamagedDocumentConsumesNoUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, dev := e.enrolDevice(t, "001090000010")
	resp := e.issue(t, "001090000010")
	holder := &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	share := e.approvedShare(t, key, holder, resp.CredentialID, 300, "age_over_18")
	verifier := e.ageShop(t)
	err := e.store.Update(ctx, func(tx wallet.Tx) error {
		docs, err := wallet.ShareDocuments.Get(tx, share.ShareID)
		if err != nil {
			return err
		}
		docs[0][len(docs[0])-1] ^= 1
		return wallet.ShareDocuments.Put(tx, docs, share.ShareID)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Redeem(ctx, verifier, api.VerifyRequest{QR: share.QRText})
	if wallet.ErrorCode(err) != api.CodeStorageUnavailable {
		t.Fatalf("damaged document: %v, want %s", err, api.CodeStorageUnavailable)
	}
	got, err := e.svc.Share(ctx, holder, share.ShareID)
	if err != nil || got.Uses != 0 {
		t.Errorf("the refused redemption consumed the share: %+v %v", got, err)
	}
}

// TestRedeemReadsTheIssuerOfAnOlderShare: a share's items name their
// credential's issuer, so a redemption reads it with the credentials; a
// share stored before they did is still checked against its issuer, read
// after the credential (a retired issuer refuses it), and an item naming
// another issuer than its credential's is a damaged record (503).
func TestRedeemReadsTheIssuerOfAnOlderShare(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shop := e.ageShop(t)
	key, cred, holder := e.citizen(t, "001090000321")
	rewrite := func(id, issuer string) {
		t.Helper()
		err := e.store.Update(ctx, func(tx wallet.Tx) error {
			sh, err := wallet.Shares.Get(tx, id)
			if err != nil {
				return err
			}
			if sh.Items[0].IssuerID != "mps" {
				t.Errorf("the share's item names issuer %q, want mps", sh.Items[0].IssuerID)
			}
			sh.Items[0].IssuerID = issuer
			return wallet.Shares.Put(tx, sh)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	older := e.approvedShare(t, key, holder, cred.CredentialID, 300, "age_over_18")
	rewrite(older.ShareID, "")
	e.redeemedDocument(t, shop, older.QRText)

	damaged := e.approvedShare(t, key, holder, cred.CredentialID, 300, "age_over_18")
	rewrite(damaged.ShareID, "vss")
	if _, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: damaged.QRText}); wallet.ErrorCode(err) != api.CodeStorageUnavailable {
		t.Errorf("an item naming another issuer: %v, want storage_unavailable", err)
	}

	retired := e.approvedShare(t, key, holder, cred.CredentialID, 300, "age_over_18")
	rewrite(retired.ShareID, "")
	if _, err := e.svc.RetireIssuer(ctx, e.admin, "mps"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: retired.QRText})
	if we := (*wallet.Error)(nil); !errors.As(err, &we) || we.Reason != "untrusted_issuer" {
		t.Errorf("an older share of a retired issuer: %v, want untrusted_issuer", err)
	}
	// A retired issuer signs nothing more: it gets no new signing key.
	if _, err := e.svc.RotateIssuerKey(ctx, e.admin, "mps"); wallet.ErrorCode(err) != api.CodeConflict {
		t.Errorf("a new key for a retired issuer: %v, want conflict", err)
	}
}

// TestRetiredVerifierRefused: a verifier's retirement revokes its keys,
// but a key it missed (one made by an older binary during a rolling
// upgrade, whose record lacks the owner column: operations.md) still
// redeems nothing and asks for nothing — the verifier itself is checked,
// as a revoked key would be (401), and the share is not consumed.
func TestRetiredVerifierRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	shop := e.ageShop(t)
	key, cred, holder := e.citizen(t, "001090000001")
	share := e.approvedShare(t, key, holder, cred.CredentialID, 0, "age_over_18")
	// Retired, its keys as they were: what a missed key looks like.
	setRetired(t, e.store, shop.Subject, &e.now)
	want := func(what string, err error) {
		t.Helper()
		if wallet.ErrorCode(err) != api.CodeUnauthenticated {
			t.Errorf("%s by the retired verifier: %v, want %s", what, err, api.CodeUnauthenticated)
		}
	}
	_, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: share.QRText})
	want("a redemption", err)
	ask := api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "Age check"}
	_, err = e.svc.CreateRequest(ctx, shop, ask)
	want("a request", err)
	ask.Protocol = api.ProtocolOpenID4VP
	_, err = e.svc.CreateRequest(ctx, shop, ask)
	want("an OpenID4VP request", err)
	setRetired(t, e.store, shop.Subject, nil)
	if _, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: share.QRText}); err != nil {
		t.Errorf("the share after the refusals: %v, want it unconsumed", err)
	}
}

// setRetired sets the verifier record's retirement to at (nil: active)
// and nothing else: its keys stay as they are.
func setRetired(t *testing.T, store wallet.Store, verifierID string, at *time.Time) {
	t.Helper()
	if err := store.Update(context.Background(), func(tx wallet.Tx) error {
		v, err := wallet.Verifiers.Get(tx, verifierID)
		if err != nil {
			return err
		}
		v.Retired = at
		return wallet.Verifiers.Put(tx, v)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTextRefusesControlCharacters: what one party types and another
// reads — a verifier's name and category, a request's purpose shown on
// the citizen's consent screen, a device name, a revocation reason —
// holds no control character (an escape sequence or a line break that
// forges another line of the screen) and no format character (a bidi
// override that reorders it), while any script, emoji joiners included,
// is taken.
func TestTextRefusesControlCharacters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shop := e.ageShop(t)
	card := e.issue(t, "001090000001")
	for _, bad := range []string{
		"Shop\x1b[1A\r\x1b[2K  from Ministry of Public Security", // ANSI: back a line, over it
		"Shop\nfrom Ministry of Public Security",
		"Shop\x00", "Sh\top", "Sh\u0085op",
		"Shop \u202eytiruceS cilbuP", "\u2066Shop\u2069", "Shop\u200f", "Shop\ufeff", "Shop\u00ad",
		"Shop\u2028from Ministry", "Shop\u2029from Ministry", // line and paragraph separators
	} {
		_, err := e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "other", Name: bad, Category: "retail",
			Claims: map[string][]string{"national_id": {"age_over_18"}}})
		wantErrCode(t, err, api.CodeInvalidRequest, fmt.Sprintf("verifier name %q", bad))
		_, err = e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "other", Name: "Shop", Category: bad,
			Claims: map[string][]string{"national_id": {"age_over_18"}}})
		wantErrCode(t, err, api.CodeInvalidRequest, fmt.Sprintf("verifier category %q", bad))
		code, err := e.svc.CreateActivationCode(ctx, e.admin, api.ActivationCodeRequest{CitizenID: "001090000002"})
		if err != nil {
			t.Fatal(err)
		}
		enrol := enrolRequest(t, "001090000002", code.Code)
		enrol.DeviceName = bad
		_, err = e.svc.Enroll(ctx, enrol)
		wantErrCode(t, err, api.CodeInvalidRequest, fmt.Sprintf("device name %q", bad))
		_, err = e.svc.CreateRequest(ctx, shop, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: bad})
		wantErrCode(t, err, api.CodeInvalidRequest, fmt.Sprintf("purpose %q", bad))
		_, err = e.svc.SetStatus(ctx, e.issuer, card.CredentialID, api.StatusRequest{Status: "suspended", Reason: bad})
		wantErrCode(t, err, api.CodeInvalidRequest, fmt.Sprintf("reason %q", bad))
	}
	for i, good := range []string{"Nhà thuốc Hòa Bình", "Shop 👩‍⚕️", "میخواهم", "Аптека №1"} {
		if _, err := e.svc.CreateRequest(ctx, shop, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: good}); err != nil {
			t.Errorf("purpose %q: %v", good, err)
		}
		if _, err := e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: fmt.Sprintf("good-%d", i), Name: good, Category: good,
			Claims: map[string][]string{"national_id": {"age_over_18"}}}); err != nil {
			t.Errorf("verifier name and category %q: %v", good, err)
		}
		code, err := e.svc.CreateActivationCode(ctx, e.admin, api.ActivationCodeRequest{CitizenID: "001090000003"})
		if err != nil {
			t.Fatal(err)
		}
		enrol := enrolRequest(t, "001090000003", code.Code)
		enrol.DeviceName = good
		if _, err := e.svc.Enroll(ctx, enrol); err != nil {
			t.Errorf("device name %q: %v", good, err)
		}
		if _, err := e.svc.SetStatus(ctx, e.issuer, card.CredentialID, api.StatusRequest{Status: "valid", Reason: good}); err != nil {
			t.Errorf("reason %q: %v", good, err)
		}
	}
}

// TestRedemptionsOfOneCitizenAcrossReplicas: one citizen's shares redeemed
// at many counters at once, through two services over one store (two
// replicas on PostgreSQL), all succeed: every redemption appends to the
// one holder's activity log, and an append that loses its key to another
// replica's takes the next, however often that happens (a 503 here was
// a storage failure that was none, SPEC §5). On bbolt, one writer, nothing
// contends; the suites' PostgreSQL pass (EIDWALLET_TEST_STORE=postgres,
// .ci/run) is the one that races.
func TestRedemptionsOfOneCitizenAcrossReplicas(t *testing.T) {
	keys := servicetest.Keys(t)
	store := servicetest.Open(t)
	now := time.Now().UTC()
	a, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys, Now: func() time.Time { return now }})
	b, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys, Now: func() time.Time { return now }})
	e := &env{svc: a, store: store, now: now, admin: &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}}
	ctx := context.Background()
	if _, err := a.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	shop := e.ageShop(t)
	key, cred, holder := e.citizen(t, "001090000105")
	const shares, uses = 40, 5
	var qrs []string
	for range shares {
		created, err := a.CreateShare(ctx, holder, api.ShareRequest{MaxUses: uses, TTLSeconds: 300,
			Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"age_over_18"}}}})
		if err != nil {
			t.Fatal(err)
		}
		item := created.ToSign[0]
		kb, err := credentials.SignKB(key, credentials.KB{Aud: item.Aud, Nonce: item.Nonce, IssuedAt: now.Unix(), SDHash: item.SDHash})
		if err != nil {
			t.Fatal(err)
		}
		sh, err := a.ApproveShare(ctx, holder, created.ShareID, api.ApproveRequest{KBJWTs: []string{kb}})
		if err != nil {
			t.Fatal(err)
		}
		for range uses {
			qrs = append(qrs, sh.QRText)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range 32 {
		svc := []*wallet.Service{a, b}[i%2]
		wg.Go(func() {
			for n := int(next.Add(1)) - 1; n < len(qrs); n = int(next.Add(1)) - 1 {
				if _, err := svc.Redeem(ctx, shop, api.VerifyRequest{QR: qrs[n]}); err != nil {
					t.Errorf("redemption %d: %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	act, err := a.Activity(ctx, holder, true, api.Page{})
	if err != nil {
		t.Fatal(err)
	}
	redeemed := 0
	for _, en := range act.Entries {
		if en.Event == api.EventShareRedeemed {
			redeemed++
		}
	}
	if redeemed != len(qrs) || act.ChainValid == nil || !*act.ChainValid {
		t.Errorf("the holder's log has %d redemptions of %d, chain valid %v", redeemed, len(qrs), act.ChainValid)
	}
}

// activityOrder is a store that records, for each Update and Batch, the holders
// whose activity logs it appends to, in the order it does.
type activityOrder struct {
	wallet.Store
	mu      sync.Mutex
	updates [][]string
}

func (s *activityOrder) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	return s.record(s.Store.Update, ctx, fn)
}

func (s *activityOrder) Batch(ctx context.Context, fn func(wallet.Tx) error) error {
	return s.record(s.Store.Batch, ctx, fn)
}

func (s *activityOrder) record(run func(context.Context, func(wallet.Tx) error) error, ctx context.Context, fn func(wallet.Tx) error) error {
	var holders []string
	err := run(ctx, func(tx wallet.Tx) error {
		holders = holders[:0]
		return fn(&activityOrderTx{Tx: tx, holders: &holders})
	})
	s.mu.Lock()
	s.updates = append(s.updates, slices.Clone(holders))
	s.mu.Unlock()
	return err
}

type activityOrderTx struct {
	wallet.Tx
	holders *[]string
}

func (t *activityOrderTx) Apply(ws ...wallet.Write) error {
	for _, w := range ws {
		if w.Kind == wallet.ActivityLog.Kind() {
			*t.holders = append(*t.holders, w.Record.Key[0].(string))
		}
	}
	return t.Tx.Apply(ws...)
}

// TestBulkAppendsInHolderOrder: a bulk batch appends to its citizens'
// activity logs in holder order, whatever the order of its lines, so that
// two batches naming the same citizens take those rows in the same order
// and never wait on each other in a cycle (on PostgreSQL a deadlock, tried
// again until the operation's time ran out: bulk streams failing 503).
func TestBulkAppendsInHolderOrder(t *testing.T) {
	store := &activityOrder{Store: servicetest.Open(t)}
	svc, _ := servicetest.New(t, wallet.Config{Store: store})
	e := &env{svc: svc, store: store, now: time.Now().UTC(), admin: &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}}
	ctx := context.Background()
	if _, err := svc.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	var reqs []api.IssueRequest
	for _, n := range []int{7, 3, 5, 1, 3, 8, 2, 7, 6, 4} {
		citizen := fmt.Sprintf("00109000020%d", n)
		reqs = append(reqs, api.IssueRequest{CitizenID: citizen, Type: "national_id", ExpiresAt: e.now.AddDate(1, 0, 0),
			Claims: map[string]any{"id_number": citizen, "full_name": "Nguyen Van A", "birth_date": "1990-01-01", "sex": "M",
				"nationality": "VNM", "issue_date": "2021-05-01", "expiry_date": "2036-01-01"}})
	}
	store.mu.Lock()
	store.updates = nil
	store.mu.Unlock()
	res, err := svc.IssueBatch(ctx, e.issuer, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("line %d: %v", i, r.Err)
		}
	}
	appended := 0
	for _, holders := range store.updates {
		appended += len(holders)
		if !slices.IsSorted(holders) {
			t.Errorf("a transaction appends to the holders' logs out of holder order: %v", holders)
		}
	}
	if appended < len(reqs) {
		t.Errorf("%d activity appends recorded for %d issued credentials", appended, len(reqs))
	}
}

// TestBulkBesideSingleIssuance: bulk batches of 256 lines issue every
// line while single issuances of the same issuer commit beside them, and
// two batches naming the same new citizens at once make each citizen one
// holder. On PostgreSQL, as SERIALIZABLE transactions, such a batch read
// so much that each single issuance committing beside it failed it, until
// it gave up (503 storage_unavailable, the store healthy).
func TestBulkBesideSingleIssuance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	line := func(citizen string) api.IssueRequest {
		return api.IssueRequest{CitizenID: citizen, Type: "national_id", ExpiresAt: e.now.AddDate(5, 0, 0),
			Claims: map[string]any{"id_number": citizen, "full_name": "Le Thi Demo", "birth_date": "1990-01-01",
				"sex": "F", "nationality": "VN", "issue_date": "2024-01-01", "expiry_date": "2034-01-01"}}
	}
	batch := func(from int) []api.IssueRequest {
		reqs := make([]api.IssueRequest, 256)
		for i := range reqs {
			reqs[i] = line(fmt.Sprintf("0021%08d", from+i))
		}
		return reqs
	}
	stop := make(chan struct{})
	var singles sync.WaitGroup
	var single atomic.Int64
	for w := range 2 {
		singles.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.svc.Issue(ctx, e.issuer, line(fmt.Sprintf("0031%02d%06d", w, n))); err != nil {
					t.Errorf("a single issuance: %v", err)
					return
				}
				single.Add(1)
			}
		})
	}
	// The batches start once single issuance is under way.
	for deadline := time.Now().Add(10 * time.Second); single.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || t.Failed() {
			close(stop)
			singles.Wait()
			t.Fatal("no single issuance in 10 s")
		}
	}
	var batches sync.WaitGroup
	var results [4][]wallet.IssueResult
	for b := range 4 {
		batches.Go(func() {
			// Batches 0 and 1 name the same citizens, as do 2 and 3.
			res, err := e.svc.IssueBatch(ctx, e.issuer, batch(b/2*1000))
			if err != nil {
				t.Errorf("batch %d: %v", b, err)
				return
			}
			results[b] = res
			for i, r := range res {
				if r.Err != nil {
					t.Errorf("batch %d line %d: %v", b, i, r.Err)
					return
				}
			}
		})
	}
	batches.Wait()
	close(stop)
	singles.Wait()
	t.Logf("%d single issuances beside the batches", single.Load())
	if t.Failed() {
		return
	}
	// Each citizen of two batches at once is one holder.
	for _, b := range []int{0, 2} {
		for _, i := range []int{0, 100, 255} {
			one, other := e.holderOf(t, results[b][i].Response.CredentialID), e.holderOf(t, results[b+1][i].Response.CredentialID)
			if one.Subject != other.Subject {
				t.Errorf("batches %d and %d, line %d: holders %s and %s for one citizen", b, b+1, i, one.Subject, other.Subject)
			}
		}
	}
}
