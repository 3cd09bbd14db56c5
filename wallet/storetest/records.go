package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// The domain's declarations through the typed records the service uses.
// Every declared kind's key and indexes are checked on the store by
// testKinds; that every field of every row round-trips, and which index
// entries the domain computes, by TestRowsKeepEveryField and
// TestDeclarations in package wallet (they need no store).

func ptr[T any](v T) *T { return &v }

func newShare(id, holder string, created time.Time) *wallet.Share {
	return &wallet.Share{
		ID: id, HolderID: holder, DeviceID: "d1", Status: api.SharePending, Aud: "https://wallet.example/v1/verify",
		Items:   []wallet.ShareItem{{CredentialID: "c1", Type: "national_id", Claims: []string{"full_name"}, Presentation: []byte("sealed"), SDHash: "h1"}},
		Created: created, ExpiresAt: created.Add(time.Minute), MaxUses: 1,
	}
}

func newRequest(id, holder string, created time.Time) *wallet.Request {
	return &wallet.Request{
		ID: id, VerifierID: "v1", HolderID: holder, DeviceID: "d1", Status: api.RequestCreated,
		Claims: map[string][]string{"national_id": {"full_name"}}, Purpose: "age check \x00 ünïcödé",
		Created: created, ExpiresAt: created.Add(5 * time.Minute), Decided: ptr(at(30 * time.Second).In(cet)),
	}
}

func newActivity(holder string, seq uint64) *api.ActivityEntry {
	return &api.ActivityEntry{Seq: seq, HolderID: holder, At: at(time.Duration(seq) * time.Second), Event: "share_redeemed",
		Outcome: "ok", ShareID: "s1", Claims: []string{"full_name"}, Prev: fmt.Sprintf("prev-%d", seq), Hash: fmt.Sprintf("hash-%d", seq)}
}

// testRecords: the records whose index entries the domain leaves out or
// adds later. A pending share has no token (many pending shares do not
// conflict) until approval gives it one; a request shown by a verifier
// has no holder until it is resolved; a presence request never has a
// token. Status lists and log entries are written once.
func (s *suite) testRecords(t *testing.T) {
	st := s.fresh(t)
	pending, older := newShare("s-pending", "h1", at(0)), newShare("s-older", "h1", at(-time.Minute))
	approved := newShare("s-approved", "h1", at(time.Minute))
	approved.TokenHash, approved.Status = []byte("share-token"), api.ShareActive
	shown := newRequest("r-shown", "", at(time.Minute))
	shown.TokenHash = []byte("request-token")
	byPresence, olderRequest := newRequest("r-presence", "h1", at(0)), newRequest("r-older", "h1", at(-time.Minute))
	list := &wallet.StatusList{IssuerID: "mps", ID: 3, Size: 1 << 20, Created: at(0)}
	update(t, st, func(tx wallet.Tx) error {
		for _, err := range []error{
			wallet.Shares.Put(tx, pending), wallet.Shares.Put(tx, older), wallet.Shares.Put(tx, approved),
			wallet.Requests.Put(tx, shown), wallet.Requests.Put(tx, byPresence), wallet.Requests.Put(tx, olderRequest),
			wallet.StatusLists.Put(tx, list), wallet.ActivityLog.Put(tx, newActivity("h1", 1<<40)),
		} {
			noErr(t, "put", err)
		}
		return nil
	})
	// want checks a lookup: want(name, w)(lookup()).
	want := func(name string, w any) func(any, error) {
		return func(got any, err error) {
			t.Helper()
			noErr(t, name, err)
			same(t, name, got, w)
		}
	}
	view(t, st, func(tx wallet.Tx) error {
		want("share by token", approved)(wallet.Shares.By(tx, "token", []byte("share-token")))
		want("shares of a holder, newest first", []*wallet.Share{approved, pending, older})(wallet.Shares.List(tx, "holder", wallet.Order{Desc: true}, "h1"))
		want("unresolved request by token", shown)(wallet.Requests.By(tx, "token", []byte("request-token")))
		want("requests of a holder, newest first, not the unresolved one", []*wallet.Request{byPresence, olderRequest})(
			wallet.Requests.List(tx, "holder", wallet.Order{Desc: true, Limit: 5}, "h1"))
		_, err := wallet.Shares.By(tx, "token", []byte{})
		isErr(t, "share by an empty token", err, wallet.ErrNotFound)
		return nil
	})
	update(t, st, func(tx wallet.Tx) error {
		pending.TokenHash, pending.Status = []byte("share-token-2"), api.ShareActive
		approved.Uses, approved.Status = 1, api.ShareRedeemed
		shown.HolderID = "h1"
		noErr(t, "approve", wallet.Shares.Put(tx, pending))
		noErr(t, "redeem", wallet.Shares.Put(tx, approved))
		noErr(t, "resolve", wallet.Requests.Put(tx, shown))
		isErr(t, "status list again", wallet.StatusLists.Put(tx, &wallet.StatusList{IssuerID: "mps", ID: 3}), wallet.ErrExists)
		isErr(t, "activity entry again", wallet.ActivityLog.Put(tx, newActivity("h1", 1<<40)), wallet.ErrExists)
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		want("approved share by token", pending)(wallet.Shares.By(tx, "token", []byte("share-token-2")))
		want("redeemed share by token", approved)(wallet.Shares.By(tx, "token", []byte("share-token")))
		want("newest request of a holder, once resolved", []*wallet.Request{shown})(wallet.Requests.List(tx, "holder", wallet.Order{Desc: true, Limit: 1}, "h1"))
		want("status list", list)(wallet.StatusLists.Get(tx, "mps", 3))
		want("activity", []*api.ActivityEntry{newActivity("h1", 1<<40)})(wallet.ActivityLog.List(tx, "", wallet.Order{}, "h1"))
		return nil
	})
}
