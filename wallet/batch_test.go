package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// pool is a device's one-time keys as a test app keeps them.
type pool map[string]*ecdsa.PrivateKey

// register makes n keys and registers them for holder's device.
func (pl pool) register(t testing.TB, e *env, holder *wallet.Principal, n int) *api.DeviceKeysView {
	t.Helper()
	var req api.DeviceKeysRequest
	for range n {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwk, _ := credentials.PublicJWK(&k.PublicKey)
		raw, _ := json.Marshal(jwk)
		thumb, _ := credentials.Thumbprint(&k.PublicKey)
		pl[thumb] = k
		req.Keys = append(req.Keys, raw)
	}
	v, err := e.svc.RegisterDeviceKeys(context.Background(), holder, req)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitCopies waits, at most 10 s, for the background refill to leave n
// batch copies on the device.
func waitCopies(t testing.TB, e *env, holder *wallet.Principal, n int) *api.DeviceKeysView {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := e.svc.DeviceKeyPool(context.Background(), holder)
		if err != nil {
			t.Fatal(err)
		}
		if v.Copies == n {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %+v, want %d copies", v, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// prepare creates a share of one claim of credentialID.
func prepare(t *testing.T, e *env, holder *wallet.Principal, credentialID, claim string) *api.ShareCreated {
	t.Helper()
	created, err := e.svc.CreateShare(context.Background(), holder, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: credentialID, Claims: []string{claim}}}})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// approve signs created with the key it names, from the pool.
func (pl pool) approve(e *env, holder *wallet.Principal, created *api.ShareCreated) (*api.ShareView, error) {
	item := created.ToSign[0]
	key := pl[item.KeyThumbprint]
	if key == nil {
		return nil, errors.New("the share names a key the device does not hold: " + item.KeyThumbprint)
	}
	kb, err := credentials.SignKB(key, credentials.KB{Aud: item.Aud, Nonce: item.Nonce, IssuedAt: e.now.Unix(), SDHash: item.SDHash})
	if err != nil {
		return nil, err
	}
	return e.svc.ApproveShare(context.Background(), holder, created.ShareID, api.ApproveRequest{KBJWTs: []string{kb}})
}

func wantErrCode(t *testing.T, err error, code api.Code, what string) {
	t.Helper()
	var we *wallet.Error
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// TestBatchCopies (issue 12 item 5): a device's key pool is checked as
// it is registered; from then on each approval spends a copy of its own,
// bound to a pool key, and never the device key's copy; a batch run down
// to half is refilled from free keys; a share finding none left and no
// free key is refused, and revoking the device deletes its copies and
// keys.
func TestBatchCopies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const citizen = "001090000101"
	devKey, cred, holder := e.citizen(t, citizen)
	ownThumb, _ := credentials.Thumbprint(&devKey.PublicKey)

	// Before any key is registered the device key's copy is presented.
	if got := prepare(t, e, holder, cred.CredentialID, "full_name").ToSign[0].KeyThumbprint; got != ownThumb {
		t.Errorf("before a pool: key_thumbprint %q, want the device key's", got)
	}

	// Keys are checked: a JWK, P-256, never one already known.
	ownJWK, _ := credentials.PublicJWK(&devKey.PublicKey)
	ownRaw, _ := json.Marshal(ownJWK)
	for name, tc := range map[string]struct {
		keys []api.RawJSON
		want api.Code
	}{
		"none":           {nil, api.CodeInvalidRequest},
		"not a jwk":      {[]api.RawJSON{api.RawJSON(`{"kty":"oct","k":"AAAA"}`)}, api.CodeInvalidRequest},
		"too many":       {make([]api.RawJSON, 65), api.CodeInvalidRequest},
		"the device key": {[]api.RawJSON{ownRaw}, api.CodeConflict},
	} {
		_, err := e.svc.RegisterDeviceKeys(ctx, holder, api.DeviceKeysRequest{Keys: tc.keys})
		wantErrCode(t, err, tc.want, name)
	}

	pl := pool{}
	if v := pl.register(t, e, holder, wallet.DefaultBatchSize); v.Free+v.Copies != wallet.DefaultBatchSize || v.BatchSize != wallet.DefaultBatchSize {
		t.Fatalf("pool after registering a batch of keys: %+v", v)
	}
	if v := waitCopies(t, e, holder, wallet.DefaultBatchSize); v.Free != 0 || v.Wanted != 0 {
		t.Fatalf("pool with a full batch: %+v", v)
	}

	// Shares prepared before an approval may name the same copy (each is
	// one of the batch at random): the first approval spends it and the
	// second is refused, to be prepared again.
	a := prepare(t, e, holder, cred.CredentialID, "full_name")
	if pl[a.ToSign[0].KeyThumbprint] == nil || a.ToSign[0].KeyThumbprint == ownThumb {
		t.Fatalf("a pooled share names key %q, not a pool key", a.ToSign[0].KeyThumbprint)
	}
	var b *api.ShareCreated
	for range 200 { // a batch of 8: the chance of no match is 1e-11
		if b = prepare(t, e, holder, cred.CredentialID, "full_name"); b.ToSign[0].KeyThumbprint == a.ToSign[0].KeyThumbprint {
			break
		}
	}
	if b.ToSign[0].KeyThumbprint != a.ToSign[0].KeyThumbprint {
		t.Fatal("200 prepared shares never named the first one's copy")
	}
	if _, err := pl.approve(e, holder, a); err != nil {
		t.Fatal(err)
	}
	_, err := pl.approve(e, holder, b)
	wantErrCode(t, err, api.CodeConflict, "approving a second share of a spent copy")

	// The device key cannot sign for a pool key's copy.
	c := prepare(t, e, holder, cred.CredentialID, "full_name")
	_, err = (pool{c.ToSign[0].KeyThumbprint: devKey}).approve(e, holder, c)
	var we *wallet.Error
	if !errors.As(err, &we) || we.Code != api.CodeVerificationFailed || we.Reason != string(credentials.ReasonKBInvalid) {
		t.Fatalf("a batch copy approved with the device key's signature: %v, want verification_failed kb_invalid", err)
	}

	// Nor can another device of the citizen approve it, even with the
	// right pool key's signature (THREATS T34).
	_, tabletDev := e.enrolDevice(t, citizen)
	tablet := &wallet.Principal{Role: api.RoleHolder, Subject: tabletDev.HolderID, DeviceID: tabletDev.DeviceID}
	_, err = pl.approve(e, tablet, c)
	wantErrCode(t, err, api.CodeVerificationFailed, "a pooled share approved by another device")

	// Spent down to half, with no free key: no refill; then keys come.
	used := map[string]bool{a.ToSign[0].KeyThumbprint: true}
	for len(used) < wallet.DefaultBatchSize/2 {
		s := prepare(t, e, holder, cred.CredentialID, "full_name")
		if used[s.ToSign[0].KeyThumbprint] {
			t.Fatalf("a spent copy (%s) prepared again", s.ToSign[0].KeyThumbprint)
		}
		used[s.ToSign[0].KeyThumbprint] = true
		if _, err := pl.approve(e, holder, s); err != nil {
			t.Fatal(err)
		}
	}
	v := waitCopies(t, e, holder, wallet.DefaultBatchSize/2)
	if v.Wanted != wallet.DefaultBatchSize/2 {
		t.Errorf("pool at half a batch: %+v, want %d keys wanted", v, wallet.DefaultBatchSize/2)
	}
	pl.register(t, e, holder, v.Wanted)
	waitCopies(t, e, holder, wallet.DefaultBatchSize)

	// Every copy spent and no free key: the share is refused, not served
	// from the device key's (linkable) copy.
	for range wallet.DefaultBatchSize {
		s := prepare(t, e, holder, cred.CredentialID, "full_name")
		if _, err := pl.approve(e, holder, s); err != nil {
			t.Fatal(err)
		}
	}
	waitCopies(t, e, holder, 0)
	_, err = e.svc.CreateShare(ctx, holder, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"full_name"}}}})
	wantErrCode(t, err, api.CodeConflict, "a share with no copy and no free key")

	// A share made right after keys are registered gets a copy at once.
	pl.register(t, e, holder, wallet.DefaultBatchSize)
	if s := prepare(t, e, holder, cred.CredentialID, "full_name"); pl[s.ToSign[0].KeyThumbprint] == nil {
		t.Errorf("share right after a registration: key %q is not a pool key", s.ToSign[0].KeyThumbprint)
	}

	// Revoking the device deletes its copies and free keys.
	pl.register(t, e, holder, 3)
	if err := e.svc.RevokeDevice(ctx, holder, holder.DeviceID); err != nil {
		t.Fatal(err)
	}
	err = e.store.View(ctx, func(tx wallet.Tx) error {
		copies, err := wallet.BatchCopies.List(tx, "", wallet.Order{}, cred.CredentialID, holder.DeviceID)
		if err != nil {
			return err
		}
		free, err := wallet.PoolKeys.List(tx, "", wallet.Order{}, holder.DeviceID)
		if len(copies) != 0 || len(free) != 0 {
			t.Errorf("after the device's revocation: %d copies, %d free keys", len(copies), len(free))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatchCopyDerivedAtShareTime: a batch copy signed the day before the
// 18th birthday is signed again, for the same pool key, when shared on the
// birthday (issue 4: ages are computed at share time), and its iat and
// exp are whole UTC days.
func TestBatchCopyDerivedAtShareTime(t *testing.T) {
	e := newEnv(t)
	const citizen = "001090000102"
	_, dev := e.enrolDevice(t, citizen)
	cred := e.issueCard(t, citizen, "2008-11-28", e.now.AddDate(5, 0, 0))
	holder := &wallet.Principal{Role: api.RoleHolder, Subject: dev.HolderID, DeviceID: dev.DeviceID}
	verifier := e.ageShop(t)
	pl := pool{}
	pl.register(t, e, holder, wallet.DefaultBatchSize)
	waitCopies(t, e, holder, wallet.DefaultBatchSize)

	e.now = e.now.Add(24 * time.Hour)
	created := prepare(t, e, holder, cred.CredentialID, "age_over_18")
	share, err := pl.approve(e, holder, created)
	if err != nil {
		t.Fatal(err)
	}
	doc := e.redeemedDocument(t, verifier, share.QRText)
	if doc.Claims["age_over_18"] != true {
		t.Errorf("on the 18th birthday: age_over_18 = %v", doc.Claims["age_over_18"])
	}
	for name, at := range map[string]time.Time{"iat": doc.IssuedAt, "exp": doc.ExpiresAt} {
		if !at.Equal(at.Truncate(24*time.Hour)) || at.Location() != time.UTC {
			t.Errorf("%s %v is not a whole UTC day", name, at)
		}
	}
	jwt, _, _ := strings.Cut(doc.Presentation, "~")
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Cnf struct {
			JWK json.RawMessage `json:"jwk"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	cnf, err := credentials.ParsePublicJWK(p.Cnf.JWK)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := credentials.Thumbprint(cnf); got != created.ToSign[0].KeyThumbprint {
		t.Errorf("the copy signed again is bound to %s, not its pool key %s", got, created.ToSign[0].KeyThumbprint)
	}
}

// TestCompactCodesSwept: an offline code's record, kept to flag a code
// used at two counters, is deleted by the background sweep once its
// retention after expiry has passed, and not before (issue 12).
func TestCompactCodesSwept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key, cred, holder := e.citizen(t, "001090000103")
	created, err := e.svc.CreateShare(ctx, holder, api.ShareRequest{Offline: true,
		Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	share, err := (pool{created.ToSign[0].KeyThumbprint: key}).approve(e, holder, created)
	if err != nil || share.OfflineQRText == "" {
		t.Fatalf("offline share: %+v, %v", share, err)
	}
	kept := func() bool {
		t.Helper()
		var found bool
		err := e.store.View(ctx, func(tx wallet.Tx) error {
			sh, err := wallet.Shares.Get(tx, share.ShareID)
			if err != nil {
				return err
			}
			_, err = wallet.CompactCodes.Get(tx, sh.CompactCTI)
			found = err == nil
			if errors.Is(err, wallet.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	e.now = e.now.Add(wallet.CompactRetention)
	wallet.SweepCompactCodes(e.svc, ctx)
	if !kept() {
		t.Fatal("the code's record was deleted within its retention")
	}
	e.now = e.now.Add(time.Hour)
	wallet.SweepCompactCodes(e.svc, ctx)
	if kept() {
		t.Fatal("the code's record outlived its retention")
	}
}

// TestBatchCopiesTwoReplicas: two services over one store (two replicas
// of a deployment; on PostgreSQL under EIDWALLET_TEST_STORE=postgres)
// refilling one device at once sign one batch between them, never two
// copies for one key; shares of the device made on both at once never
// present one copy twice: of approvals racing for a copy one wins and the
// others are refused, to be prepared again.
func TestBatchCopiesTwoReplicas(t *testing.T) {
	keys := servicetest.Keys(t)
	store := servicetest.Open(t)
	a, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys})
	b, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys})
	e := &env{svc: a, store: store, now: time.Now().UTC(), admin: &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}}
	ctx := context.Background()
	if _, err := a.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	_, cred, holder := e.citizen(t, "001090000104")
	pl := pool{}
	pl.register(t, e, holder, 2*wallet.DefaultBatchSize)
	var wg sync.WaitGroup
	for _, svc := range []*wallet.Service{a, b, b} {
		wg.Go(func() {
			if err := wallet.RefillCopies(svc, ctx, holder.DeviceID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Every refill has ended (the background one too: stored copies are
	// all there is), and one batch was signed between them.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var ready int
		err := store.View(ctx, func(tx wallet.Tx) error {
			all, err := wallet.BatchCopies.List(tx, "", wallet.Order{}, cred.CredentialID, holder.DeviceID)
			for _, c := range all {
				if c.Copy != nil {
					ready++
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if ready == wallet.DefaultBatchSize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d copies ready, want %d", ready, wallet.DefaultBatchSize)
		}
	}
	if v := waitCopies(t, e, holder, wallet.DefaultBatchSize); v.Free != wallet.DefaultBatchSize {
		t.Fatalf("after refills on both replicas: %+v; want one batch signed, a batch of keys free", v)
	}

	// Shares on both replicas at once.
	var mu sync.Mutex
	spent := map[string]int{}
	for i := range 6 {
		wg.Go(func() {
			svc := []*wallet.Service{a, b}[i%2]
			ee := &env{svc: svc, store: store, now: time.Now().UTC()}
			created, err := svc.CreateShare(ctx, holder, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"full_name"}}}})
			if err != nil {
				t.Error(err)
				return
			}
			_, err = pl.approve(ee, holder, created)
			var we *wallet.Error
			switch {
			case err == nil:
				mu.Lock()
				spent[created.ToSign[0].KeyThumbprint]++
				mu.Unlock()
			case errors.As(err, &we) && we.Code == api.CodeConflict:
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for key, n := range spent {
		if n != 1 {
			t.Errorf("copy of key %s presented by %d approved shares", key, n)
		}
	}
	if len(spent) == 0 {
		t.Error("no share approved")
	}
}

// TestBatchCopyClaimOfADeadRefill: a copy claimed by a refill that died
// before storing it counts as being signed for a minute, then as gone: it
// is not counted, never presented, and the next refill deletes it.
func TestBatchCopyClaimOfADeadRefill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, cred, holder := e.citizen(t, "001090000105")
	pl := pool{}
	pl.register(t, e, holder, wallet.DefaultBatchSize)
	waitCopies(t, e, holder, wallet.DefaultBatchSize)
	dead := &wallet.BatchCopy{CredentialID: cred.CredentialID, DeviceID: holder.DeviceID, Thumbprint: "dead-claim",
		Key: []byte(`{}`), Claimed: e.now}
	if err := e.store.Update(ctx, func(tx wallet.Tx) error { return wallet.BatchCopies.Put(tx, dead) }); err != nil {
		t.Fatal(err)
	}
	if v := waitCopies(t, e, holder, wallet.DefaultBatchSize+1); v.Copies != wallet.DefaultBatchSize+1 {
		t.Fatalf("with a claim in progress: %+v", v)
	}
	e.now = e.now.Add(2 * time.Minute) // the claim's refill has died
	waitCopies(t, e, holder, wallet.DefaultBatchSize)
	for range wallet.DefaultBatchSize / 2 {
		s := prepare(t, e, holder, cred.CredentialID, "full_name")
		if s.ToSign[0].KeyThumbprint == dead.Thumbprint {
			t.Fatal("a claimed copy was presented")
		}
		if _, err := pl.approve(e, holder, s); err != nil {
			t.Fatal(err)
		}
	}
	pl.register(t, e, holder, wallet.DefaultBatchSize/2)
	waitCopies(t, e, holder, wallet.DefaultBatchSize)
	err := e.store.View(ctx, func(tx wallet.Tx) error {
		_, err := wallet.BatchCopies.Get(tx, cred.CredentialID, holder.DeviceID, dead.Thumbprint)
		if !errors.Is(err, wallet.ErrNotFound) {
			t.Errorf("the dead claim after a refill: %v, want it deleted", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
