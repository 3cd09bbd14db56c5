package wallet_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// sameIndex is crypto/rand, except that while armed every status index
// drawn (the service's only 4-byte reads) is the same.
type sameIndex struct{ armed atomic.Bool }

func (r *sameIndex) Read(p []byte) (int, error) {
	if len(p) == 4 && r.armed.Load() {
		clear(p)
		return 4, nil
	}
	return rand.Read(p)
}

// TestStatusListOpensWhenFull: a claim that finds only taken indices, over
// and over, opens the issuer's next list and takes its index there; the
// new list is served, and indices are never handed out twice (SPEC §3.5).
func TestStatusListOpensWhenFull(t *testing.T) {
	ctx := context.Background()
	r := &sameIndex{}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	svc, _ := servicetest.New(t, wallet.Config{Rand: r, Now: func() time.Time { return now }})
	admin := &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	if _, err := svc.CreateIssuer(ctx, admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	issuer := &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	r.armed.Store(true)
	var lists []string
	for i := range 3 {
		resp, err := svc.Issue(ctx, issuer, api.IssueRequest{
			CitizenID: "00109000000" + string(rune('1'+i)), Type: "national_id", ExpiresAt: now.AddDate(5, 0, 0),
			Claims: map[string]any{"id_number": "001090000001", "full_name": "Le Thi Demo", "birth_date": "1990-01-01",
				"sex": "F", "nationality": "VN", "issue_date": "2024-01-01", "expiry_date": "2034-01-01"},
		})
		if err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
		if resp.StatusIndex != 0 {
			t.Errorf("issue %d: index %d, want 0 (the only one drawn)", i, resp.StatusIndex)
		}
		lists = append(lists, resp.StatusList)
	}
	for i, want := range []string{"/status-lists/mps/1", "/status-lists/mps/2", "/status-lists/mps/3"} {
		if !strings.HasSuffix(lists[i], want) {
			t.Errorf("credential %d in %s, want …%s", i, lists[i], want)
		}
	}
	r.armed.Store(false)
	for list := 1; list <= 3; list++ {
		if _, err := svc.StatusListToken(ctx, "mps", list); err != nil {
			t.Errorf("status list %d: %v", list, err)
		}
	}
}
