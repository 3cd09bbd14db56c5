package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// writeTimer is the real store, timing what runs inside write transactions:
// on bbolt that time holds the single writer (CONVENTIONS: read, compute,
// then a short check-and-set).
type writeTimer struct {
	wallet.Store
	inside atomic.Int64 // ns spent in write-transaction functions
}

func (w *writeTimer) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	return w.Store.Update(ctx, w.timed(fn))
}

func (w *writeTimer) Batch(ctx context.Context, fn func(wallet.Tx) error) error {
	return w.Store.Batch(ctx, w.timed(fn))
}

func (w *writeTimer) timed(fn func(wallet.Tx) error) func(wallet.Tx) error {
	return func(tx wallet.Tx) error {
		start := time.Now()
		defer func() { w.inside.Add(int64(time.Since(start))) }()
		return fn(tx)
	}
}

// benchEnv is env over a writeTimer, with one enrolled citizen holding an
// identity card and a verifier registered for two of its claims.
type benchEnv struct {
	*env
	timer    *writeTimer
	key      *ecdsa.PrivateKey
	holder   *wallet.Principal
	verifier *wallet.Principal
	cred     string
}

func newBenchEnv(b *testing.B) *benchEnv {
	e := &env{now: time.Now().UTC()}
	timer := &writeTimer{Store: servicetest.Open(b)}
	e.svc, e.store = servicetest.New(b, wallet.Config{Store: timer, Now: func() time.Time { return e.now }})
	e.admin = &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	ctx := context.Background()
	if _, err := e.svc.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.svc.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail",
		Claims: map[string][]string{"national_id": {"full_name", "age_over_18"}}}); err != nil {
		b.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	be := &benchEnv{env: e, timer: timer, verifier: &wallet.Principal{Role: api.RoleVerifier, Subject: "shop"}}
	be.cred = e.issue(b, "001090000001").CredentialID
	key, enrolled := e.enrolDevice(b, "001090000001")
	be.key = key
	be.holder = &wallet.Principal{Role: api.RoleHolder, Subject: enrolled.HolderID, DeviceID: enrolled.DeviceID}
	return be
}

// report gives the time inside write transactions per operation.
func (be *benchEnv) report(b *testing.B) {
	b.ReportMetric(float64(be.timer.inside.Load())/float64(b.N)/1e3, "write-µs/op")
}

func (be *benchEnv) kbs(b *testing.B, toSign []api.ToSign) []string {
	var kbs []string
	for _, it := range toSign {
		kb, err := credentials.SignKB(be.key, credentials.KB{Aud: it.Aud, Nonce: it.Nonce, IssuedAt: be.now.Unix(), SDHash: it.SDHash})
		if err != nil {
			b.Fatal(err)
		}
		kbs = append(kbs, kb)
	}
	return kbs
}

// BenchmarkApproveShare: a share made and approved (the holder's KB-JWT
// signed outside the timer), with the time spent inside write transactions
// (issue 9: no signature checks under the single writer).
func BenchmarkApproveShare(b *testing.B) {
	be := newBenchEnv(b)
	ctx := context.Background()
	var inside time.Duration
	for b.Loop() {
		created, err := be.svc.CreateShare(ctx, be.holder, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: be.cred, Claims: []string{"full_name", "age_over_18"}}}})
		if err != nil {
			b.Fatal(err)
		}
		kbs := be.kbs(b, created.ToSign)
		before := be.timer.inside.Load()
		if _, err := be.svc.ApproveShare(ctx, be.holder, created.ShareID, api.ApproveRequest{KBJWTs: kbs}); err != nil {
			b.Fatal(err)
		}
		inside += time.Duration(be.timer.inside.Load() - before)
	}
	b.ReportMetric(float64(inside.Microseconds())/float64(b.N), "approve-write-µs/op")
	be.report(b)
}

// BenchmarkAnswerRequest: a verifier's request made, resolved, prepared and
// approved, with the time spent inside write transactions.
func BenchmarkAnswerRequest(b *testing.B) {
	be := newBenchEnv(b)
	ctx := context.Background()
	var inside time.Duration
	for b.Loop() {
		created, err := be.svc.CreateRequest(ctx, be.verifier, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "age check"})
		if err != nil {
			b.Fatal(err)
		}
		view, err := be.svc.ResolveRequest(ctx, be.holder, api.ResolveRequest{QR: created.QRText})
		if err != nil {
			b.Fatal(err)
		}
		prepared, err := be.svc.PrepareRequest(ctx, be.holder, view.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: be.cred, Claims: []string{"age_over_18"}}}})
		if err != nil {
			b.Fatal(err)
		}
		kbs := be.kbs(b, prepared.ToSign)
		before := be.timer.inside.Load()
		if _, err := be.svc.ApproveRequest(ctx, be.holder, view.RequestID, api.ApproveRequest{KBJWTs: kbs}); err != nil {
			b.Fatal(err)
		}
		inside += time.Duration(be.timer.inside.Load() - before)
	}
	b.ReportMetric(float64(inside.Microseconds())/float64(b.N), "approve-write-µs/op")
	be.report(b)
}

// BenchmarkBatchRefill: a device's batch of one identity card signed
// again, as when a pooled device has spent it (issue 12): the keys
// registered (one write), the keys and status indices claimed, the copies
// signed, sealed and stored (two writes); against its baseline in the same
// run, the batch's bare SD-JWT signatures (credentials.Issue).
func BenchmarkBatchRefill(b *testing.B) {
	b.Run("baseline-sign", func(b *testing.B) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		issuer, err := credentials.NewIssuer("https://wallet.example/issuers/mps", key, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
		ty, _ := types.ByID(credentials.NationalID)
		now := time.Now()
		p := credentials.IssueParams{Type: ty, Holder: &key.PublicKey, IssuedAt: now, ExpiresAt: now.AddDate(5, 0, 0),
			Claims: map[string]any{"id_number": "001090000001", "full_name": "Le Thi Demo", "birth_date": "1990-01-01",
				"sex": "F", "nationality": "VN", "issue_date": "2024-01-01", "expiry_date": "2034-01-01"},
			Status: &credentials.StatusRef{Index: 7, URI: "https://wallet.example/status-lists/mps/1"}}
		for b.Loop() {
			for range wallet.DefaultBatchSize {
				if _, err := issuer.Issue(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("refill", func(b *testing.B) {
		be := newBenchEnv(b)
		ctx := context.Background()
		pl := pool{}
		for b.Loop() {
			b.StopTimer()
			err := be.store.Update(ctx, func(tx wallet.Tx) error {
				held, err := wallet.BatchCopies.List(tx, "", wallet.Order{}, be.cred, be.holder.DeviceID)
				for _, c := range held {
					if err := wallet.BatchCopies.Delete(tx, c.CredentialID, c.DeviceID, c.Thumbprint); err != nil {
						return err
					}
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			pl.register(b, be.env, be.holder, wallet.DefaultBatchSize)
			// Waits for the background refill, or does it.
			if err := wallet.RefillCopies(be.svc, ctx, be.holder.DeviceID); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		waitCopies(b, be.env, be.holder, wallet.DefaultBatchSize)
		be.report(b)
		// What a copy costs at rest (a card without a portrait).
		err := be.store.View(ctx, func(tx wallet.Tx) error {
			bodies, err := tx.List(wallet.BatchCopies.Kind(), "", wallet.Order{}, be.cred, be.holder.DeviceID)
			n := 0
			for _, body := range bodies {
				n += len(body)
			}
			b.ReportMetric(float64(n)/float64(len(bodies)), "stored-bytes/copy")
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCreateShareVerifiers: an unbound share's creation beside 10 and
// 5,000 registered verifiers (a city's, a country's), each registered for
// the share's claims: the consent screen's redeemable_by comes from the
// directory of verifiers (directory.go), so the cost should not grow with
// their number.
func BenchmarkCreateShareVerifiers(b *testing.B) {
	for _, n := range []int{10, 5000} {
		b.Run(fmt.Sprintf("verifiers=%d", n), func(b *testing.B) {
			be := newBenchEnv(b)
			ctx := context.Background()
			for i := range n - 1 {
				if _, err := be.svc.CreateVerifier(ctx, be.admin, api.CreateVerifierRequest{Name: fmt.Sprintf("Shop %d", i), Category: "retail",
					Claims: map[string][]string{"national_id": {"age_over_18"}}}); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				created, err := be.svc.CreateShare(ctx, be.holder, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: be.cred, Claims: []string{"age_over_18"}}}})
				if err != nil {
					b.Fatal(err)
				}
				if created.RedeemableByCount != n {
					b.Fatalf("redeemable by %d, want %d", created.RedeemableByCount, n)
				}
			}
		})
	}
}
