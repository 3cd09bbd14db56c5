package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// syncBuffer collects a server's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// liveServer is `eidwallet serve` run through run() on 127.0.0.1:0.
type liveServer struct {
	url    string
	stop   func()
	done   chan int
	stdout *syncBuffer
}

func startServer(t *testing.T, dataDir string, logs *syncBuffer, flags ...string) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &liveServer{done: make(chan int, 1), stdout: &syncBuffer{}}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, flags...)
	go func() {
		s.done <- run(ctx, args, func(string) string { return "" },
			strings.NewReader(""), s.stdout, logs)
	}()
	listening := regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d: %s\n%s", code, s.stdout.String(), logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s.url == "" {
		t.Fatal("serve did not start listening")
	}
	s.stop = func() {
		cancel()
		if code := <-s.done; code != 0 {
			t.Errorf("serve exited with %d", code)
		}
	}
	return s
}

// demo values the test issues; none may appear in logs or in the raw store.
var (
	citizenA = "001090077001"
	citizenB = "001090077002"
	claimsA  = map[string]map[string]any{
		"national_id": {"id_number": citizenA, "full_name": "Pham Thi Testcase", "birth_date": "1991-08-09", "sex": "F",
			"nationality": "VN", "place_of_origin": "Vinh Long", "place_of_residence": "Can Tho",
			"issue_date": "2023-02-03", "expiry_date": "2038-02-03"},
		"health_insurance": {"card_number": "CT4790123998877", "full_name": "Pham Thi Testcase", "birth_date": "1991-08-09",
			"insured_from": "2026-01-01", "insured_until": "2026-12-31", "registered_facility": "Can Tho Clinic 7"},
		"driver_licence": {"licence_number": "930177665544", "full_name": "Pham Thi Testcase", "birth_date": "1991-08-09",
			"classes":    []any{map[string]any{"class": "B", "issue_date": "2019-04-05"}},
			"issue_date": "2019-04-05", "issuing_authority": "Can Tho Transport Office"},
	}
	secretValues = []string{citizenA, citizenB, "Pham Thi Testcase", "1991-08-09", "Vinh Long", "Can Tho Clinic 7",
		"CT4790123998877", "930177665544", "Can Tho Transport Office"}
)

type e2e struct {
	t        *testing.T
	ctx      context.Context
	c        *client.Client
	admin    *client.Admin
	issuers  map[string]*client.Issuer // by type
	s1, s2   *client.Verifier
	s1ID     string
	a, b     *client.Holder
	credsA   map[string]string // type → credential id
	issuedA  map[string]*api.IssueResponse
	secrets  []string // tokens, keys and codes seen; never to be logged
	dataDir  string
	verifier map[string]string
}

// TestEndToEnd drives the real server, started through run() on a temp data
// dir, only over HTTP with the client package (issue 3).
func TestEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	logs := &syncBuffer{}
	srv := startServer(t, dataDir, logs)
	e := &e2e{t: t, ctx: context.Background(), c: client.New(srv.url), dataDir: dataDir}
	e.setup()

	t.Run("share and redeem exactly the chosen claims", e.shareAndRedeem)
	t.Run("qr png decodes to qr_text", e.qrPNG)
	t.Run("expired and cancelled shares", e.expiredAndCancelled)
	t.Run("revoked credential", e.revoked)
	t.Run("verifier-bound share", e.verifierBound)
	t.Run("citizen A cannot see B's objects", e.isolation)
	t.Run("roles", e.roles)
	t.Run("50 concurrent redemptions", e.concurrentRedemptions)
	t.Run("activity chain", e.activityChain)
	t.Run("metrics count the store's writer", func(t *testing.T) { e.writerMetrics(t, srv.url) })

	before, err := e.holderA().Credentials(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()

	t.Run("raw store holds no claim value", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(dataDir, "eidwallet.db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range secretValues {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("the bbolt file contains the claim value %q", v)
			}
		}
	})

	srv = startServer(t, dataDir, logs)
	e.c = client.New(srv.url)
	t.Run("restart keeps everything", func(t *testing.T) {
		a := e.c.Holder(e.a.Device())
		after, err := a.Credentials(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("%d credentials after restart, %d before", len(after), len(before))
		}
		for i := range after {
			if after[i].ID != before[i].ID || after[i].Status != before[i].Status || after[i].Claims["full_name"] != before[i].Claims["full_name"] {
				t.Errorf("credential %d changed across restart", i)
			}
		}
		act, err := a.ExportActivity(e.ctx)
		if err != nil || act.ChainValid == nil || !*act.ChainValid {
			t.Fatalf("activity after restart: %v %v", err, act)
		}
		// Shares and keys survived too: the old admin token still works.
		if _, err := e.c.Admin(e.adminToken()).Issuers(e.ctx); err != nil {
			t.Errorf("admin token after restart: %v", err)
		}
	})
	srv.stop()

	t.Run("logs hold no claim value, token or key", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, `"msg":"request"`) {
			t.Fatal("no request logs captured")
		}
		for _, v := range append(append([]string{}, secretValues...), e.secrets...) {
			if v != "" && strings.Contains(out, v) {
				t.Errorf("the logs contain a secret or claim value (%.6s…)", v)
			}
		}
		if strings.Contains(out, "eyJ") {
			t.Error("the logs contain a JWT")
		}
	})
}

func (e *e2e) adminToken() string {
	b, err := os.ReadFile(filepath.Join(e.dataDir, "admin-token"))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (e *e2e) holderA() *client.Holder { return e.a }

func (e *e2e) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) setup() {
	t, ctx := e.t, e.ctx
	t.Helper()
	token := e.adminToken()
	e.secrets = append(e.secrets, token)
	e.admin = e.c.Admin(token)
	e.issuers = map[string]*client.Issuer{}
	for id, typ := range map[string]string{"mps": "national_id", "vss": "health_insurance", "mot": "driver_licence"} {
		_, err := e.admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: id, Name: strings.ToUpper(id) + " authority", Types: []string{typ}})
		e.must(err)
		k, err := e.admin.CreateIssuerAPIKey(ctx, id)
		e.must(err)
		e.secrets = append(e.secrets, k.Key)
		e.issuers[typ] = e.c.Issuer(k.Key)
	}
	e.verifier = map[string]string{}
	for _, id := range []string{"shop-one", "shop-two"} {
		// Registered for every claim the tests share unbound (SPEC §3.7).
		v, err := e.admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: id, Name: id + " counter", Category: "retail",
			Claims: map[string][]string{"national_id": {"full_name", "age_over_18"},
				"health_insurance": {"card_number", "insured_until"}, "driver_licence": {"classes"}}})
		e.must(err)
		e.secrets = append(e.secrets, v.APIKey.Key)
		e.verifier[id] = v.APIKey.Key
	}
	e.s1, e.s2, e.s1ID = e.c.Verifier(e.verifier["shop-one"]), e.c.Verifier(e.verifier["shop-two"]), "shop-one"

	// Citizen A is issued a document before enrolling: it reaches the
	// device at enrolment (SPEC §3.2).
	e.issuedA = map[string]*api.IssueResponse{}
	r, err := e.issuers["national_id"].Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: "national_id",
		Claims: claimsA["national_id"], ExpiresAt: time.Now().AddDate(5, 0, 0)})
	e.must(err)
	e.issuedA["national_id"] = r
	e.a = e.enrol(citizenA, "A's phone")
	e.b = e.enrol(citizenB, "B's phone")
	for _, typ := range []string{"health_insurance", "driver_licence"} {
		r, err := e.issuers[typ].Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: typ, Claims: claimsA[typ], ExpiresAt: time.Now().AddDate(1, 0, 0)})
		e.must(err)
		e.issuedA[typ] = r
	}
	bClaims := map[string]any{}
	for k, v := range claimsA["national_id"] {
		bClaims[k] = v
	}
	bClaims["id_number"], bClaims["full_name"] = citizenB, "Vo Van Other"
	_, err = e.issuers["national_id"].Issue(ctx, api.IssueRequest{CitizenID: citizenB, Type: "national_id", Claims: bClaims, ExpiresAt: time.Now().AddDate(5, 0, 0)})
	e.must(err)

	creds, err := e.a.Credentials(ctx)
	e.must(err)
	e.credsA = map[string]string{}
	for _, c := range creds {
		e.credsA[c.Type] = c.ID
		if e.issuedA[c.Type] == nil || e.issuedA[c.Type].CredentialID != c.ID {
			t.Errorf("holder lists %s %s, the issuer issued another", c.Type, c.ID)
		}
	}
	if len(e.credsA) != 3 {
		t.Fatalf("citizen A holds %d documents, want 3: %+v", len(e.credsA), creds)
	}
}

func (e *e2e) enrol(citizen, name string) *client.Holder {
	e.t.Helper()
	code, err := e.admin.CreateActivationCode(e.ctx, citizen)
	e.must(err)
	e.secrets = append(e.secrets, code.Code)
	dev, err := client.NewDevice(name)
	e.must(err)
	h := e.c.Holder(dev)
	_, err = h.Enroll(e.ctx, citizen, code.Code)
	e.must(err)
	// A code is single use.
	dev2, _ := client.NewDevice("thief")
	if _, err := e.c.Holder(dev2).Enroll(e.ctx, citizen, code.Code); client.ErrorCode(err) != api.CodeUnauthenticated {
		e.t.Errorf("reused activation code: %v", err)
	}
	return h
}

// share makes and approves a share of A's documents.
func (e *e2e) share(req api.ShareRequest) *api.ShareView {
	e.t.Helper()
	v, err := e.a.ShareAndApprove(e.ctx, req)
	e.must(err)
	e.secrets = append(e.secrets, strings.TrimPrefix(v.QRText, "EID1:"))
	return v
}

func (e *e2e) shareAndRedeem(t *testing.T) {
	chosen := map[string][]string{
		"national_id":      {"full_name", "age_over_18"},
		"health_insurance": {"card_number", "insured_until"},
		"driver_licence":   {"classes"},
	}
	var items []api.ShareRequestItem
	for typ, names := range chosen {
		items = append(items, api.ShareRequestItem{CredentialID: e.credsA[typ], Claims: names})
	}
	sh := e.share(api.ShareRequest{Items: items})
	res, err := e.s1.Verify(e.ctx, sh.QRText)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "valid" || res.Verifier.ID != "shop-one" || len(res.Documents) != 3 {
		t.Fatalf("verify: %+v", res)
	}
	for _, doc := range res.Documents {
		want := chosen[doc.Type]
		if len(doc.Claims) != len(want) {
			t.Errorf("%s: claims %v, want exactly %v", doc.Type, keys(doc.Claims), want)
		}
		for _, n := range want {
			if _, ok := doc.Claims[n]; !ok {
				t.Errorf("%s: claim %s missing", doc.Type, n)
			}
		}
		if doc.HolderBinding != "verified" || doc.Status != "valid" || doc.KeyBinding.Nonce == "" {
			t.Errorf("%s: %+v", doc.Type, doc)
		}
		// The presentation verifies offline with the issuer's JWKS, as
		// `eidwallet verify-presentation` would (SPEC §3.3 step 4).
		jwks, err := e.c.IssuerJWKS(e.ctx, doc.Issuer.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := credentials.ParseJWKS(jwks)
		if err != nil {
			t.Fatal(err)
		}
		trust := credentials.NewTrustStore()
		trust.AddIssuer(e.c.BaseURL()+"/issuers/"+doc.Issuer.ID, keys)
		v, err := credentials.Verify(doc.Presentation, trust, credentials.VerifyOptions{Now: time.Now(), RequireKB: true,
			Audience: doc.KeyBinding.Aud, Nonce: doc.KeyBinding.Nonce})
		if err != nil {
			t.Fatalf("%s presentation offline: %v", doc.Type, err)
		}
		if !jsonEqualSet(v.Disclosed, want) {
			t.Errorf("%s: offline disclosed %v, want %v", doc.Type, v.Disclosed, want)
		}
	}
	for _, doc := range res.Documents {
		if doc.Type == "national_id" && doc.Claims["age_over_18"] != true {
			t.Errorf("age_over_18 = %v, want true (born 1991)", doc.Claims["age_over_18"])
		}
	}
	_, err = e.s1.Verify(e.ctx, sh.QRText)
	wantStatus(t, err, http.StatusConflict, api.CodeAlreadyRedeemed, "")
}

func (e *e2e) qrPNG(t *testing.T) {
	sh := e.share(api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"age_over_18"}}}})
	for _, size := range []int{64, 256} {
		img, err := e.a.ShareQRPNG(e.ctx, sh.ShareID, size)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		if b := decoded.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("png is %v, want %d px", b, size)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(decoded)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("decode qr at %d px: %v", size, err)
		}
		if got.GetText() != sh.QRText {
			t.Errorf("qr decodes to a different text")
		}
	}
	if _, err := e.a.ShareQRPNG(e.ctx, sh.ShareID, 2000); err == nil {
		t.Error("size 2000 accepted")
	}
}

func (e *e2e) expiredAndCancelled(t *testing.T) {
	item := []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"full_name"}}}
	expiring := e.share(api.ShareRequest{Items: item, TTLSeconds: 1})
	cancelled := e.share(api.ShareRequest{Items: item})
	e.must(e.a.CancelShare(e.ctx, cancelled.ShareID))
	_, err := e.s1.Verify(e.ctx, cancelled.QRText)
	wantStatus(t, err, http.StatusGone, api.CodeShareCancelled, "")
	time.Sleep(time.Until(expiring.ExpiresAt) + 50*time.Millisecond)
	_, err = e.s1.Verify(e.ctx, expiring.QRText)
	wantStatus(t, err, http.StatusGone, api.CodeShareExpired, "")
}

func (e *e2e) revoked(t *testing.T) {
	id := e.credsA["health_insurance"]
	sh := e.share(api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: id, Claims: []string{"card_number"}}}})
	_, err := e.issuers["health_insurance"].SetStatus(e.ctx, id, api.StatusRequest{Status: "revoked", Reason: "card replaced"})
	e.must(err)
	_, err = e.s1.Verify(e.ctx, sh.QRText)
	wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, "credential_revoked")
	_, err = e.a.Share(e.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: id, Claims: []string{"card_number"}}}})
	wantStatus(t, err, http.StatusUnprocessableEntity, api.CodeVerificationFailed, "credential_revoked")

	// The status list shows it, signed by the issuer's key.
	ref := e.issuedA["health_insurance"]
	uri := ref.StatusList
	list, err := strconv.Atoi(uri[strings.LastIndexByte(uri, '/')+1:])
	e.must(err)
	tok, err := e.c.StatusList(e.ctx, "vss", list)
	e.must(err)
	jwks, err := e.c.IssuerJWKS(e.ctx, "vss")
	e.must(err)
	keys, err := credentials.ParseJWKS(jwks)
	e.must(err)
	trust := credentials.NewTrustStore()
	trust.AddIssuer(e.c.BaseURL()+"/issuers/vss", keys)
	sl, err := credentials.VerifyStatusList(tok, trust, uri, time.Now(), 0)
	e.must(err)
	if r := credentials.ReasonOf(credentials.CheckStatus(sl.List, credentials.StatusRef{Index: ref.StatusIndex})); r != credentials.ReasonRevoked {
		t.Errorf("status list entry: %q, want revoked", r)
	}
	// Another issuer may not touch it, and cannot tell it from an unknown
	// id (SPEC §5, THREATS T18).
	_, err = e.issuers["national_id"].SetStatus(e.ctx, id, api.StatusRequest{Status: "valid"})
	wantStatus(t, err, http.StatusNotFound, api.CodeNotFound, "")
}

// verifierBound: a share for S1 scanned at S2 is refused without being
// consumed, then S1 redeems it (THREATS T14). S2 scanning it again, even
// once it is used, learns nothing more (still 403, not that it was used),
// and its attempts are written once: one share_refused entry in A's
// activity, one entry in S2's log.
func (e *e2e) verifierBound(t *testing.T) {
	sh := e.share(api.ShareRequest{VerifierID: e.s1ID, Items: []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"age_over_18"}}}})
	logged := func() (refused, entries int) {
		t.Helper()
		act, err := e.holderA().ExportActivity(e.ctx)
		e.must(err)
		for _, a := range act.Entries {
			if a.Event == api.EventShareRefused && a.ShareID == sh.ShareID {
				refused++
			}
		}
		log, err := e.s2.Verifications(e.ctx, 1000)
		e.must(err)
		return refused, len(log.Entries)
	}
	_, before := logged()
	for range 3 {
		_, err := e.s2.Verify(e.ctx, sh.QRText)
		wantStatus(t, err, http.StatusForbidden, api.CodeForbidden, api.ReasonAudienceMismatch)
	}
	res, err := e.s1.Verify(e.ctx, sh.QRText)
	if err != nil {
		t.Fatalf("S1 after S2's attempt: %v", err)
	}
	if aud := res.Documents[0].KeyBinding.Aud; aud != e.s1ID {
		t.Errorf("kb aud = %q, want the verifier id", aud)
	}
	_, err = e.s2.Verify(e.ctx, sh.QRText)
	wantStatus(t, err, http.StatusForbidden, api.CodeForbidden, api.ReasonAudienceMismatch)
	if refused, after := logged(); refused != 1 || after != before+1 {
		t.Errorf("4 refused scans: %d share_refused entries, %d new entries in S2's log; want 1 and 1", refused, after-before)
	}
}

// isolation: every one of A's objects answers B exactly as a random id
// does (THREATS T18).
func (e *e2e) isolation(t *testing.T) {
	sh, err := e.a.Share(e.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"full_name"}}}})
	e.must(err)
	devices, err := e.a.Devices(e.ctx)
	e.must(err)
	random := "shr_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	type probe struct {
		name string
		call func(id string) error
		ids  [2]string // A's object, a random id
	}
	probes := []probe{
		{"credential", func(id string) error { _, err := e.b.Credential(e.ctx, id); return err }, [2]string{e.credsA["national_id"], "crd_aaaaaaaaaaaaaaaaaaaaaaaaaa"}},
		{"share", func(id string) error { _, err := e.b.GetShare(e.ctx, id); return err }, [2]string{sh.ShareID, random}},
		{"approve", func(id string) error {
			// B signs with its own device key (the client refuses to sign
			// for a key it does not hold, A's): the service must refuse.
			toSign := slices.Clone(sh.ToSign)
			for i := range toSign {
				toSign[i].KeyThumbprint = ""
			}
			_, err := e.b.Approve(e.ctx, &api.ShareCreated{ShareID: id, ToSign: toSign})
			return err
		}, [2]string{sh.ShareID, random}},
		{"cancel", func(id string) error { return e.b.CancelShare(e.ctx, id) }, [2]string{sh.ShareID, random}},
		{"qr.png", func(id string) error { _, err := e.b.ShareQRPNG(e.ctx, id, 128); return err }, [2]string{sh.ShareID, random}},
		{"device", func(id string) error { return e.b.RevokeDevice(e.ctx, id) }, [2]string{devices[0].ID, "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa"}},
		{"share of A's credential", func(id string) error {
			_, err := e.b.Share(e.ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: id, Claims: []string{"full_name"}}}})
			return err
		}, [2]string{e.credsA["national_id"], "crd_aaaaaaaaaaaaaaaaaaaaaaaaaa"}},
	}
	for _, p := range probes {
		errA, errRandom := p.call(p.ids[0]), p.call(p.ids[1])
		var ea, er *client.Error
		if !errors.As(errA, &ea) || !errors.As(errRandom, &er) || ea.Status != http.StatusNotFound || *ea != *er {
			t.Errorf("%s: B on A's object: %v; on a random id: %v", p.name, errA, errRandom)
		}
	}
	// And A's share is untouched.
	if v, err := e.a.GetShare(e.ctx, sh.ShareID); err != nil || v.Status != api.SharePending {
		t.Errorf("A's share after B's attempts: %v %v", v, err)
	}
}

// roles: each role gets 403 on the others' routes (THREATS T19), and no
// credentials 401 (T20).
func (e *e2e) roles(t *testing.T) {
	bearers := map[string]string{
		"admin":    e.adminToken(),
		"issuer":   e.issuerKey(),
		"verifier": e.verifier["shop-one"],
	}
	tok, err := e.a.AccessToken(e.ctx)
	e.must(err)
	e.secrets = append(e.secrets, tok)
	bearers["holder"] = tok
	routes := map[string]struct{ method, path, body string }{
		"admin":    {"GET", "/v1/admin/issuers", ""},
		"issuer":   {"POST", "/v1/issuer/credentials", `{}`},
		"verifier": {"POST", "/v1/verify", `{"qr":"EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
		"holder":   {"GET", "/v1/me/credentials", ""},
	}
	for role, bearer := range bearers {
		for owner, r := range routes {
			status := e.raw(r.method, r.path, r.body, bearer)
			switch {
			case owner == role && (status == http.StatusForbidden || status == http.StatusUnauthorized):
				t.Errorf("%s on its own route %s: %d", role, r.path, status)
			case owner != role && status != http.StatusForbidden:
				t.Errorf("%s on %s's route %s: %d, want 403", role, owner, r.path, status)
			}
		}
	}
	for _, r := range routes {
		if status := e.raw(r.method, r.path, r.body, ""); status != http.StatusUnauthorized {
			t.Errorf("no credentials on %s: %d, want 401", r.path, status)
		}
		if status := e.raw(r.method, r.path, r.body, "ewk_not_a_key"); status != http.StatusUnauthorized {
			t.Errorf("bad key on %s: %d, want 401", r.path, status)
		}
	}
}

func (e *e2e) issuerKey() string {
	for _, s := range e.secrets {
		if strings.HasPrefix(s, "ewk_") && s != e.adminToken() && s != e.verifier["shop-one"] && s != e.verifier["shop-two"] {
			return s
		}
	}
	e.t.Fatal("no issuer key")
	return ""
}

func (e *e2e) raw(method, path, body, bearer string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.c.BaseURL()+path, strings.NewReader(body))
	e.must(err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	e.must(err)
	resp.Body.Close()
	return resp.StatusCode
}

// concurrentRedemptions: 50 verifiers scan one share at once; exactly one
// gets it (THREATS T15).
func (e *e2e) concurrentRedemptions(t *testing.T) {
	sh := e.share(api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"age_over_18"}}}})
	redeemedOnce(t, 50, func(int) error {
		_, err := e.s1.Verify(e.ctx, sh.QRText)
		return err
	})
}

// writerMetrics: /metrics counts the embedded store's single writer, and
// a redemption is one more write in it.
func (e *e2e) writerMetrics(t *testing.T, url string) {
	names := []string{"eidwallet_store_commits_total", "eidwallet_store_writes_total", "eidwallet_store_writer_busy_seconds_total"}
	scrape := func() []float64 {
		t.Helper()
		resp, err := http.Get(url + "/metrics")
		e.must(err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		e.must(err)
		v := make([]float64, len(names))
		for i, name := range names {
			m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
			if m == nil {
				t.Fatalf("/metrics has no %s", name)
			}
			if v[i], err = strconv.ParseFloat(string(m[1]), 64); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	before := scrape()
	if before[0] <= 0 || before[1] < before[0] || before[2] <= 0 {
		t.Fatalf("commits, writes, busy seconds: %v", before)
	}
	sh := e.share(api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: e.credsA["national_id"], Claims: []string{"age_over_18"}}}})
	mid := scrape()
	_, err := e.s1.Verify(e.ctx, sh.QRText)
	e.must(err)
	after := scrape()
	if after[0] <= mid[0] || after[1] <= mid[1] || after[2] <= mid[2] {
		t.Errorf("a redemption: commits, writes, busy seconds %v, then %v", mid, after)
	}
}

// redeemedOnce runs n concurrent redemptions of one share (redeem(i) is
// the i-th) and checks that exactly one succeeds and the others get 409
// already_redeemed (THREATS T15).
func redeemedOnce(t *testing.T, n int, redeem func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = redeem(i) })
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, err := range errs {
		var ce *client.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ce) && ce.Status == http.StatusConflict && ce.Code == api.CodeAlreadyRedeemed:
			conflict++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("%d redemptions succeeded and %d got 409, want 1 and %d", ok, conflict, n-1)
	}
}

// activityChain: A's log holds each event, with claim names only, and the
// exported chain checks (SPEC §3.6).
func (e *e2e) activityChain(t *testing.T) {
	act, err := e.a.ExportActivity(e.ctx)
	e.must(err)
	if act.ChainValid == nil || !*act.ChainValid || !wallet.CheckChain(act.Entries) {
		t.Fatal("the exported chain does not check")
	}
	seen := map[string]int{}
	for _, en := range act.Entries {
		seen[en.Event]++
	}
	for _, ev := range []string{api.EventCredentialIssued, api.EventDeviceEnrolled, api.EventShareApproved,
		api.EventShareRedeemed, api.EventShareCancelled, api.EventCredentialStatus} {
		if seen[ev] == 0 {
			t.Errorf("no %s entry in the activity log", ev)
		}
	}
	if seen[api.EventCredentialIssued] != 3 {
		t.Errorf("%d credential_issued entries, want 3", seen[api.EventCredentialIssued])
	}
	log, err := e.s1.Verifications(e.ctx, 100)
	e.must(err)
	valid := 0
	for _, v := range log.Entries {
		if v.Result == "valid" {
			valid++
		}
	}
	if valid < 3 {
		t.Errorf("the verifier's log holds %d valid verifications", valid)
	}
}

func wantStatus(t *testing.T, err error, status int, code api.Code, reason string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != status || ce.Code != code || ce.Reason != reason {
		t.Errorf("got %v, want %d %s %s", err, status, code, reason)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func jsonEqualSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if !set[x] {
			return false
		}
	}
	return true
}
