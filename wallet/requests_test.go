package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// reqEnv is a service with one issuer, one verifier (shop) and one
// enrolled holder with an identity card.
type reqEnv struct {
	*env
	key      *ecdsa.PrivateKey
	holder   *wallet.Principal
	verifier *wallet.Principal
	credID   string
}

func newReqEnv(t *testing.T, cfg wallet.Config) *reqEnv {
	t.Helper()
	e := &env{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return e.now }
	}
	e.svc, e.store = servicetest.New(t, cfg)
	e.admin = &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	ctx := context.Background()
	if _, err := e.svc.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	r := &reqEnv{env: e}
	var dev *api.EnrollResponse
	r.key, dev = e.enrolDevice(t, "001090000008")
	r.holder = &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	r.credID = e.issue(t, "001090000008").CredentialID
	if _, err := e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "shop", Name: "Corner Shop", Category: "retail",
		Claims: map[string][]string{"national_id": {"full_name", "age_over_18"}}}); err != nil {
		t.Fatal(err)
	}
	r.verifier = &wallet.Principal{Role: api.RoleVerifier, Subject: "shop"}
	return r
}

func (r *reqEnv) kb(t *testing.T, item api.ToSign, aud, nonce string) string {
	t.Helper()
	kb, err := credentials.SignKB(r.key, credentials.KB{Aud: aud, Nonce: nonce, IssuedAt: r.now.Unix(), SDHash: item.SDHash})
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func code(err error) (api.Code, string) {
	var e *wallet.Error
	if errors.As(err, &e) {
		return e.Code, e.Reason
	}
	return "", ""
}

// TestRequestByVerifierQR: created → resolved (delivered) → prepared →
// approved; the verifier's long-poll wakes with exactly the approved claims.
func TestRequestByVerifierQR(t *testing.T) {
	r := newReqEnv(t, wallet.Config{})
	ctx := context.Background()
	created, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{
		Claims: map[string][]string{"national_id": {"full_name", "age_over_18"}}, Purpose: "Age check for a purchase"})
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan *api.RequestResult, 1)
	go func() {
		res, err := r.svc.VerifierRequest(ctx, r.verifier, created.RequestID, 30*time.Second, "")
		if err != nil {
			t.Error(err)
		}
		polled <- res
	}()
	view, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: created.QRText})
	if err != nil {
		t.Fatal(err)
	}
	if view.Verifier.Name != "Corner Shop" || view.Verifier.Category != "retail" || view.Purpose != "Age check for a purchase" || len(view.Claims) != 2 {
		t.Fatalf("resolved view: %+v", view)
	}
	for _, c := range view.Claims {
		if !c.Registered {
			t.Errorf("claim %s flagged though registered", c.Claim)
		}
	}
	prep, err := r.svc.PrepareRequest(ctx, r.holder, created.RequestID, api.PrepareRequest{
		Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	item := prep.ToSign[0]
	if item.Aud != "shop" {
		t.Errorf("aud %q, want the verifier id", item.Aud)
	}
	if _, err := r.svc.ApproveRequest(ctx, r.holder, created.RequestID, api.ApproveRequest{KBJWTs: []string{r.kb(t, item, item.Aud, item.Nonce)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-polled:
		if res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 {
			t.Fatalf("long-poll result: %+v", res)
		}
		raw, _ := json.Marshal(res.Result.Documents[0])
		var doc api.Document
		json.Unmarshal(raw, &doc)
		if len(doc.Claims) != 1 || doc.Claims["age_over_18"] != true || doc.KeyBinding.Aud != "shop" {
			t.Errorf("document: %+v", doc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the verifier's long-poll did not wake")
	}
	// Approved once; a second approval, resolve or decline is refused.
	if _, err := r.svc.ApproveRequest(ctx, r.holder, created.RequestID, api.ApproveRequest{KBJWTs: []string{"x"}}); func() api.Code { c, _ := code(err); return c }() != api.CodeConflict {
		t.Errorf("approve twice: %v", err)
	}
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: created.QRText}); func() api.Code { c, _ := code(err); return c }() != api.CodeConflict {
		t.Errorf("resolve after approval: %v", err)
	}
	act, _ := r.svc.Activity(ctx, r.holder, false, api.Page{})
	events := map[string]bool{}
	for _, en := range act.Entries {
		events[en.Event] = true
	}
	if !events[api.EventRequestReceived] || !events[api.EventRequestApproved] {
		t.Errorf("holder log: %v", events)
	}
	vlog, _ := r.svc.Verifications(ctx, r.verifier, api.Page{Limit: 10})
	// Newest first: the approval, then the request it answered, both
	// naming the request, so the verifier can tie them to it.
	if len(vlog.Entries) < 2 || vlog.Entries[0].Result != "approved" || vlog.Entries[0].RequestID != created.RequestID ||
		vlog.Entries[1].Result != "requested" || vlog.Entries[1].RequestID != created.RequestID {
		t.Errorf("verifier log: %+v", vlog.Entries)
	}
}

// TestRequestFailures: the SPEC §5 answers for a request used the wrong
// way, and KB-JWTs for another verifier or another request.
func TestRequestFailures(t *testing.T) {
	r := newReqEnv(t, wallet.Config{})
	ctx := context.Background()
	ask := map[string][]string{"national_id": {"age_over_18"}}
	newReq := func(ttl int) *api.CreateRequestResponse {
		t.Helper()
		c, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Claims: ask, Purpose: "p", TTLSeconds: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Not registered for full_name? It is; birth_date is not.
	_, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"birth_date"}}, Purpose: "p"})
	if c, _ := code(err); c != api.CodeForbidden {
		t.Errorf("unregistered claim: %v", err)
	}
	// Resolved twice.
	a := newReq(0)
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: a.QRText}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: a.QRText}); func() api.Code { c, _ := code(err); return c }() != api.CodeConflict {
		t.Errorf("resolve twice: %v", err)
	}
	// By another holder: not found, as an unknown code would be.
	_, otherDev := r.enrolDevice(t, "001090000009")
	other := &wallet.Principal{Role: api.RoleHolder, Subject: otherDev.HolderID, DeviceID: otherDev.DeviceID}
	_, errOther := r.svc.ResolveRequest(ctx, other, api.ResolveRequest{QR: a.QRText})
	_, errRandom := r.svc.ResolveRequest(ctx, other, api.ResolveRequest{QR: "EIDR1:AAAAAAAAAAAAAAAAAAAAAAAAAA"})
	if c, _ := code(errOther); c != api.CodeNotFound || errOther.Error() != errRandom.Error() {
		t.Errorf("another holder: %v / random: %v", errOther, errRandom)
	}
	if _, err := r.svc.HolderRequest(ctx, other, a.RequestID); func() api.Code { c, _ := code(err); return c }() != api.CodeNotFound {
		t.Errorf("another holder reads it: %v", err)
	}
	// KB-JWT for another verifier, and for another request's nonce.
	prep, err := r.svc.PrepareRequest(ctx, r.holder, a.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	item := prep.ToSign[0]
	b := newReq(0)
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: b.QRText}); err != nil {
		t.Fatal(err)
	}
	prepB, err := r.svc.PrepareRequest(ctx, r.holder, b.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		kb     string
		reason credentials.Reason
	}{
		"another verifier's aud":  {r.kb(t, item, "other-shop", item.Nonce), credentials.ReasonKBAudMismatch},
		"another request's nonce": {r.kb(t, item, item.Aud, prepB.ToSign[0].Nonce), credentials.ReasonKBNonceMismatch},
	} {
		_, err := r.svc.ApproveRequest(ctx, r.holder, a.RequestID, api.ApproveRequest{KBJWTs: []string{tc.kb}})
		if c, reason := code(err); c != api.CodeVerificationFailed || reason != string(tc.reason) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Asking for more than requested is refused at prepare.
	_, err = r.svc.PrepareRequest(ctx, r.holder, a.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"full_name"}}}})
	if c, _ := code(err); c != api.CodeInvalidRequest {
		t.Errorf("answering with a claim not asked for: %v", err)
	}
	// After expiry.
	late := newReq(1)
	r.now = r.now.Add(2 * time.Second)
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: late.QRText}); func() api.Code { c, _ := code(err); return c }() != api.CodeShareExpired {
		t.Errorf("resolve after expiry: %v", err)
	}
	res, err := r.svc.VerifierRequest(ctx, r.verifier, late.RequestID, 0, "")
	if err != nil || res.Status != api.RequestExpired {
		t.Errorf("verifier view after expiry: %+v %v", res, err)
	}
	// Another verifier cannot read it.
	if _, err := r.svc.CreateVerifier(ctx, r.admin, api.CreateVerifierRequest{ID: "bank", Name: "Bank", Category: "bank",
		Claims: map[string][]string{"national_id": {"full_name"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.VerifierRequest(ctx, &wallet.Principal{Role: api.RoleVerifier, Subject: "bank"}, a.RequestID, 0, ""); func() api.Code { c, _ := code(err); return c }() != api.CodeNotFound {
		t.Errorf("another verifier reads it: %v", err)
	}
}

// TestRequestByPresenceDeclined: staff scan the holder's presence code and
// address a request to the holder; it reaches the holder's long-poll; the
// holder declines; the verifier sees declined.
func TestRequestByPresenceDeclined(t *testing.T) {
	r := newReqEnv(t, wallet.Config{})
	ctx := context.Background()
	pr, err := r.svc.CreatePresence(ctx, r.holder)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan []*api.RequestView, 1)
	go func() {
		list, err := r.svc.HolderRequests(ctx, r.holder, 30*time.Second, api.Page{})
		if err != nil {
			t.Error(err)
			list = &api.RequestList{}
		}
		waiting <- list.Requests
	}()
	time.Sleep(50 * time.Millisecond) // let the long-poll start waiting
	created, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Presence: pr.QRText,
		Claims: map[string][]string{"national_id": {"full_name"}}, Purpose: "Parcel pick-up"})
	if err != nil {
		t.Fatal(err)
	}
	if created.QRText != "" {
		t.Error("a presence request got a QR of its own")
	}
	// A presence code addresses one request.
	_, err = r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Presence: pr.QRText,
		Claims: map[string][]string{"national_id": {"full_name"}}, Purpose: "again"})
	if c, _ := code(err); c != api.CodeNotFound {
		t.Errorf("presence code used twice: %v", err)
	}
	var views []*api.RequestView
	select {
	case views = <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the holder's long-poll did not wake")
	}
	if len(views) != 1 || views[0].RequestID != created.RequestID || views[0].Status != api.RequestDelivered {
		t.Fatalf("holder's requests: %+v", views)
	}
	// A request already seen does not end a later long-poll.
	start := time.Now()
	again, err := r.svc.HolderRequests(ctx, r.holder, 200*time.Millisecond, api.Page{})
	if err != nil || len(again.Requests) != 1 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("second long-poll: %+v after %v (%v)", again, time.Since(start), err)
	}
	if _, err := r.svc.DeclineRequest(ctx, r.holder, created.RequestID); err != nil {
		t.Fatal(err)
	}
	res, err := r.svc.VerifierRequest(ctx, r.verifier, created.RequestID, 5*time.Second, "")
	if err != nil || res.Status != api.RequestDeclined || res.Result != nil {
		t.Errorf("verifier view: %+v %v", res, err)
	}
	// An expired presence code addresses nobody.
	r.now = r.now.Add(wallet.PresenceTTL + time.Second)
	_, err = r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Presence: pr.QRText,
		Claims: map[string][]string{"national_id": {"full_name"}}, Purpose: "late"})
	if c, _ := code(err); c != api.CodeNotFound {
		t.Errorf("expired presence: %v", err)
	}
}

// TestWebhookSignedAndRetried: the result is posted to the verifier's
// webhook, signed (HMAC over timestamp and body); a receiver that keeps
// failing gets a bounded number of attempts and the result stays available
// by polling.
func TestWebhookSignedAndRetried(t *testing.T) {
	var attempts atomic.Int32
	var secret atomic.Value // []byte, set when the webhook is (re)configured
	got := make(chan api.RequestResult, 1)
	failing := atomic.Bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		attempts.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := api.VerifyWebhook(secret.Load().([]byte), req.Header.Get(api.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var res api.RequestResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Error(err)
		}
		got <- res
	}))
	defer recv.Close()
	retries := []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
	r := newReqEnv(t, wallet.Config{WebhookRetries: retries, Now: time.Now, AllowLoopbackWebhooks: true}) // receivers on 127.0.0.1
	r.now = time.Now()
	ctx := context.Background()
	wh, err := r.svc.SetVerifierWebhook(ctx, r.admin, "shop", api.WebhookRequest{URL: new(recv.URL + "/hook")})
	if err != nil {
		t.Fatal(err)
	}
	secret.Store([]byte(wh.Secret))
	answer := func() string {
		created, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: created.QRText}); err != nil {
			t.Fatal(err)
		}
		prep, err := r.svc.PrepareRequest(ctx, r.holder, created.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"age_over_18"}}}})
		if err != nil {
			t.Fatal(err)
		}
		it := prep.ToSign[0]
		r.now = time.Now()
		if _, err := r.svc.ApproveRequest(ctx, r.holder, created.RequestID, api.ApproveRequest{KBJWTs: []string{r.kb(t, it, it.Aud, it.Nonce)}}); err != nil {
			t.Fatal(err)
		}
		return created.RequestID
	}
	id := answer()
	select {
	case res := <-got:
		if res.RequestID != id || res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 {
			t.Errorf("webhook body: %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery")
	}

	// A redirect is a failed attempt: the signed result never follows it.
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	if _, err := r.svc.SetVerifierWebhook(ctx, r.admin, "shop", api.WebhookRequest{URL: &redirecting.URL}); err != nil {
		t.Fatal(err)
	}
	answer()
	time.Sleep(300 * time.Millisecond)
	if n := followed.Load(); n != 0 {
		t.Errorf("the webhook followed a redirect %d times", n)
	}
	wh, err = r.svc.SetVerifierWebhook(ctx, r.admin, "shop", api.WebhookRequest{URL: new(recv.URL + "/hook")})
	if err != nil {
		t.Fatal(err)
	}
	secret.Store([]byte(wh.Secret))

	failing.Store(true)
	attempts.Store(0)
	id = answer()
	deadline := time.Now().Add(5 * time.Second)
	for attempts.Load() < int32(len(retries)+1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // long enough for an attempt too many
	if n := attempts.Load(); n != int32(len(retries)+1) {
		t.Errorf("%d attempts, want %d", n, len(retries)+1)
	}
	res, err := r.svc.VerifierRequest(ctx, r.verifier, id, 0, "")
	if err != nil || res.Status != api.RequestApproved || res.Result == nil {
		t.Errorf("poll after failed deliveries: %+v %v", res, err)
	}
	r.svc.Close()
}

// TestIssuerMetadataBytesStable rebuilds the issuer metadata many times:
// its bytes, and so the ETag caches keep, do not change between builds.
func TestIssuerMetadataBytesStable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.svc.IssuerMetadata(ctx, "mps")
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		e.now = e.now.Add(wallet.PublicDocTTL) // past the cached copy
		doc, err := e.svc.IssuerMetadata(ctx, "mps")
		if err != nil {
			t.Fatal(err)
		}
		if string(doc.Body) != string(first.Body) {
			t.Fatalf("metadata rebuilt as %s, first built as %s", doc.Body, first.Body)
		}
	}
}

// TestRetiredVerifierGetsNoAnswer: an approved request's documents are not
// handed to a verifier retired since (a key its retirement missed, or its
// webhook): the result is refused as a revoked key is, 401.
func TestRetiredVerifierGetsNoAnswer(t *testing.T) {
	r := newReqEnv(t, wallet.Config{})
	ctx := context.Background()
	created, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{
		Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "Age check"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: created.QRText}); err != nil {
		t.Fatal(err)
	}
	prep, err := r.svc.PrepareRequest(ctx, r.holder, created.RequestID, api.PrepareRequest{
		Items: []api.ShareRequestItem{{CredentialID: r.credID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	item := prep.ToSign[0]
	if _, err := r.svc.ApproveRequest(ctx, r.holder, created.RequestID, api.ApproveRequest{KBJWTs: []string{r.kb(t, item, item.Aud, item.Nonce)}}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.svc.VerifierRequest(ctx, r.verifier, created.RequestID, 0, ""); err != nil || len(res.Result.Documents) != 1 {
		t.Fatalf("before the retirement: %+v, %v", res, err)
	}
	setRetired(t, r.store, r.verifier.Subject, &r.now)
	if res, err := r.svc.VerifierRequest(ctx, r.verifier, created.RequestID, 0, ""); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("after the retirement: %+v, %v; want %s", res, err, api.CodeUnauthenticated)
	}
}
