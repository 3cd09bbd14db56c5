package server_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// errDisk is what a failing disk or database gives a store.
var errDisk = errors.New("read eidwallet.db: input/output error")

// failingStore is the real store with reads failing while armed: with
// fails set, the lookups it names, in every transaction; without, every
// View and Fetch, as when the database is unreachable.
type failingStore struct {
	wallet.Store
	fails func(wallet.Lookup) bool
	lists bool // fails names lists too (as the lookup of their prefix)
	armed atomic.Bool
}

func (f *failingStore) View(ctx context.Context, fn func(wallet.Tx) error) error {
	if f.fails == nil && f.armed.Load() {
		return errDisk
	}
	return f.Store.View(ctx, f.wrap(fn))
}

func (f *failingStore) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	return f.Store.Update(ctx, f.wrap(fn))
}

func (f *failingStore) Batch(ctx context.Context, fn func(wallet.Tx) error) error {
	return f.Store.Batch(ctx, f.wrap(fn))
}

// Apply goes through a Batch, as Fetch goes through a View.
func (f *failingStore) Apply(ctx context.Context, ws ...wallet.Write) error {
	return f.Batch(ctx, func(tx wallet.Tx) error { return tx.Apply(ws...) })
}

// Fetch goes through a View, so that it fails as the View and its Tx do.
func (f *failingStore) Fetch(ctx context.Context, ls ...wallet.Lookup) ([][]byte, error) {
	var out [][]byte
	err := f.View(ctx, func(tx wallet.Tx) error {
		var err error
		out, err = tx.Fetch(ls...)
		return err
	})
	return out, err
}

// wrap gives fn a Tx whose lookups fail as fails says.
func (f *failingStore) wrap(fn func(wallet.Tx) error) func(wallet.Tx) error {
	if f.fails == nil {
		return fn
	}
	return func(tx wallet.Tx) error { return fn(failingTx{tx, f}) }
}

type failingTx struct {
	wallet.Tx
	f *failingStore
}

func (t failingTx) Fetch(ls ...wallet.Lookup) ([][]byte, error) {
	for _, l := range ls {
		if t.f.armed.Load() && t.f.fails(l) {
			return nil, errDisk
		}
	}
	return t.Tx.Fetch(ls...)
}

func (t failingTx) List(k *wallet.Kind, index string, o wallet.Order, prefix ...any) ([][]byte, error) {
	if t.f.lists && t.f.armed.Load() && t.f.fails(wallet.Lookup{Kind: k, Index: index, Prefix: prefix}) {
		return nil, errDisk
	}
	return t.Tx.List(k, index, o, prefix...)
}

// TestStorageFailureIsNeverNotFound: a store that fails under a request is
// answered 503 storage_unavailable and logged once with the request's id,
// never 404 (SPEC §5, THREATS T42).
func TestStorageFailureIsNeverNotFound(t *testing.T) {
	// The reads that decide between "yours", "someone else's" and
	// "unknown" fail: a share by id or token, a credential or a request by
	// id.
	store := &failingStore{Store: servicetest.Open(t), fails: func(l wallet.Lookup) bool {
		return l.Kind == wallet.Shares.Kind() ||
			l.Index == "" && (l.Kind == wallet.Credentials.Kind() || l.Kind == wallet.Requests.Kind())
	}}
	h := newHarnessOver(t, store)
	w := h.setup()
	shareID, qrText := w.share(h, "card_number")
	cred := w.credential.CredentialID
	store.armed.Store(true)
	for _, c := range []struct {
		method, path, bearer string
		body                 any
	}{
		{"GET", "/v1/me/shares/" + shareID, w.token, nil},
		{"DELETE", "/v1/me/shares/" + shareID, w.token, nil},
		{"POST", "/v1/me/shares/" + shareID + "/approve", w.token, api.ApproveRequest{KBJWTs: []string{"a.b.c"}}},
		{"GET", "/v1/me/shares/" + shareID + "/qr.png", w.token, nil},
		{"GET", "/v1/me/credentials/" + cred, w.token, nil},
		{"POST", "/v1/me/shares", w.token, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: cred, Claims: []string{"card_number"}}}}},
		{"GET", "/v1/me/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa", w.token, nil},
		{"GET", "/v1/verifier/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa", w.verifierKey, nil},
		{"POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qrText}},
		{"POST", "/v1/issuer/credentials/" + cred + "/status", w.issuerKey, api.StatusRequest{Status: "suspended"}},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			before := strings.Count(h.logs.String(), `"msg":"store"`)
			var e apiError
			resp, _ := h.call(c.method, c.path, c.bearer, c.body, 503, &e)
			if e.Error != string(api.CodeStorageUnavailable) {
				t.Errorf("error %q, want storage_unavailable", e.Error)
			}
			id := resp.Header.Get("X-Request-Id")
			var lines int
			for _, l := range strings.Split(h.logs.String(), "\n") {
				if strings.Contains(l, `"msg":"store"`) && strings.Contains(l, `"request_id":"`+id+`"`) {
					lines++
				}
			}
			if lines != 1 || strings.Count(h.logs.String(), `"msg":"store"`) != before+1 {
				t.Errorf("the failure was logged %d times with its request id", lines)
			}
		})
	}
	// With the store back, the same calls find what is there.
	store.armed.Store(false)
	h.call("GET", "/v1/me/shares/"+shareID, w.token, nil, 200, nil)
	h.call("GET", "/v1/me/credentials/"+cred, w.token, nil, 200, nil)
}
