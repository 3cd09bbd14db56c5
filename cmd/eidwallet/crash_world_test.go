package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
)

// crashWorld is what the crash harness set up on the service and the
// ledger of what the service acknowledged (2xx) or may have done (a
// request cut by the kill) since. The checks after each restart compare
// the service with it (THREATS T31).
type crashWorld struct {
	t       *testing.T
	dataDir string

	adminToken string
	issuerKey  string
	shopKey    string // the verifier of the load
	auditKey   string // the verifier of the checks
	sharers    []*crashHolder
	issuee     *crashHolder // receives issuances and status changes; signs token assertions
	devHolder  *crashHolder // enrols and revokes further devices

	mu      sync.Mutex
	writes  []ackedWrite // acknowledged writes of the running server
	creds   map[string]*credRecord
	shares  map[string]*shareRecord
	tokens  []*tokenRecord
	devices map[string]*deviceRecord // the devHolder's further devices
	counts  map[string]int           // acknowledged writes by kind, over the whole test
}

// crashHolder is one citizen with the device it started with.
type crashHolder struct {
	citizen string
	dev     *client.Device
	credID  string // the credential its shares are made of ("" for none)
}

type credRecord struct {
	id      string
	status  string   // last acknowledged (or observed after a restart)
	pending string   // a change sent and cut by the kill: either may be there
	changes []string // acknowledged status changes, in order
	list    int      // status list id, -1 when unknown (observed, not acknowledged)
	index   int
	// revokedChecked: the refusal to reinstate it was seen after a
	// restart.
	revokedChecked bool
}

type shareRecord struct {
	id, qr string
	holder *crashHolder
	made   time.Time // a share lives 300 s
	// approved: the approval was acknowledged; uncertain: cut by the kill.
	approved, uncertain bool
	redeemSent          bool // a redemption was sent
	redeemed            bool // known redeemed: acknowledged, or seen so after a restart
	shopAcked           bool // the load's redemption was acknowledged (so it is in the shop's log)
	redeemChecked       bool // its 409 was seen after a restart
	valid               int  // 200 answers to POST /v1/verify, over the whole test
}

type tokenRecord struct {
	assertion string
	made      time.Time // an assertion lives 4 minutes
	acked     bool      // a 200 answered it
	checked   bool      // its replay was refused after a restart
}

type deviceRecord struct {
	dev            *client.Device
	revoked        bool // the revocation was acknowledged (or observed)
	revokedChecked bool // its assertion was refused after a restart
}

// crashConn is the client side for one running server: new clients at
// each start, since the connections die with the server.
type crashConn struct {
	base        string
	admin       *client.Admin
	issuer      *client.Issuer
	shop, audit *client.Verifier
	holder      map[*crashHolder]*client.Holder
	c           *client.Client
}

func (w *crashWorld) connect(url string) *crashConn {
	c := client.New(url, client.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}))
	cn := &crashConn{base: url, c: c, admin: c.Admin(w.adminToken), issuer: c.Issuer(w.issuerKey),
		shop: c.Verifier(w.shopKey), audit: c.Verifier(w.auditKey), holder: map[*crashHolder]*client.Holder{}}
	for _, h := range append([]*crashHolder{w.issuee, w.devHolder}, w.sharers...) {
		if h != nil {
			cn.holder[h] = c.Holder(h.dev)
		}
	}
	return cn
}

// write runs one request that writes and records it when the service
// acknowledged it, with the client's clock around it for the durability
// check.
func (w *crashWorld) write(what string, fn func() error) error {
	send := time.Now().UnixMicro()
	err := fn()
	if err == nil {
		recv := time.Now().UnixMicro()
		w.mu.Lock()
		w.writes = append(w.writes, ackedWrite{what: what, send: send, recv: recv})
		w.counts[what]++
		w.mu.Unlock()
	}
	return err
}

// takeWrites returns and forgets the writes acknowledged by the server
// that just ended.
func (w *crashWorld) takeWrites() []ackedWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.writes
	w.writes = nil
	return ws
}

// serviceError is err as the service's answer, or nil when the request
// got no answer (cut by the kill: it may or may not have been done).
func serviceError(err error) *client.Error {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

func claimsFor(citizen string) map[string]any {
	c := maps.Clone(claimsA["national_id"])
	c["id_number"] = citizen
	return c
}

// setup creates the issuer, the two verifiers and the citizens on a fresh
// service; every write is acknowledged or the test stops.
func (w *crashWorld) setup(ctx context.Context, url string) {
	t := w.t
	b, err := os.ReadFile(filepath.Join(w.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	w.adminToken = strings.TrimSpace(string(b))
	cn := w.connect(url)
	must := func(what string, fn func() error) {
		t.Helper()
		if err := w.write(what, fn); err != nil {
			t.Fatalf("setup: %s: %v", what, err)
		}
	}
	must("create issuer", func() error {
		_, err := cn.admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}})
		return err
	})
	must("issuer key", func() error {
		k, err := cn.admin.CreateIssuerAPIKey(ctx, "mps")
		if err == nil {
			w.issuerKey = k.Key
		}
		return err
	})
	for id, key := range map[string]*string{"shop": &w.shopKey, "audit": &w.auditKey} {
		must("create verifier", func() error {
			v, err := cn.admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: id, Name: id, Category: "retail",
				Claims: map[string][]string{"national_id": {"age_over_18"}}})
			if err == nil {
				*key = v.APIKey.Key
			}
			return err
		})
	}
	cn = w.connect(url)
	enrol := func(citizen string, credential bool) *crashHolder {
		h := &crashHolder{citizen: citizen}
		h.dev, err = client.NewDevice("phone")
		if err != nil {
			t.Fatal(err)
		}
		var code *api.ActivationCodeResponse
		must("activation code", func() (err error) { code, err = cn.admin.CreateActivationCode(ctx, citizen); return err })
		must("enrol", func() error { _, err := cn.c.Holder(h.dev).Enroll(ctx, citizen, code.Code); return err })
		if credential {
			must("issue", func() error {
				r, err := cn.issuer.Issue(ctx, api.IssueRequest{CitizenID: citizen, Type: "national_id",
					Claims: claimsFor(citizen), ExpiresAt: time.Now().AddDate(1, 0, 0)})
				if err == nil {
					h.credID = r.CredentialID
				}
				return err
			})
		}
		return h
	}
	w.sharers = []*crashHolder{enrol("001090088001", true), enrol("001090088002", true)}
	w.issuee = enrol("001090088003", false)
	w.devHolder = enrol("001090088004", true)
}

// load runs the mixed load against one server until stop is closed:
// issuance, status changes, share creation and approval, redemption,
// token exchange, device enrolment and revocation. What a request cut by
// the kill may have done is in the ledger before it is sent; what was
// acknowledged, once its answer is in.
func (w *crashWorld) load(ctx context.Context, cn *crashConn, stop <-chan struct{}, seed uint64) {
	var wg sync.WaitGroup
	worker := func(n uint64, pace time.Duration, max int, op func(*rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, n))
			for i := 0; max <= 0 || i < max; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op(rng)
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(rng.Int64N(int64(pace)) + 1)):
				}
			}
		}()
	}
	worker(1, 10*time.Millisecond, 0, func(*rand.Rand) { w.issueOp(ctx, cn) })
	worker(2, 15*time.Millisecond, 0, func(rng *rand.Rand) { w.statusOp(ctx, cn, rng) })
	for i, h := range w.sharers {
		worker(uint64(3+i), 20*time.Millisecond, 0, func(*rand.Rand) { w.shareOp(ctx, cn, h) })
	}
	worker(5, 10*time.Millisecond, 0, func(rng *rand.Rand) { w.redeemOp(ctx, cn, rng) })
	// The token and enrolment endpoints are rate limited per address
	// (burst 100 and 20 per start): a few each per start.
	worker(6, 30*time.Millisecond, 4, func(*rand.Rand) { w.tokenOp(ctx, cn) })
	worker(7, 30*time.Millisecond, 3, func(*rand.Rand) { w.deviceOp(ctx, cn) })
	wg.Wait()
}

// unexpected is err as the service's answer (serviceError), after
// reporting a refusal the load never provokes; a rate limit is expected
// now and then.
func (w *crashWorld) unexpected(what string, err error) *client.Error {
	ce := serviceError(err)
	if ce != nil && ce.Status != http.StatusTooManyRequests {
		w.t.Errorf("load: %s answered %v", what, ce)
	}
	return ce
}

func (w *crashWorld) issueOp(ctx context.Context, cn *crashConn) {
	var r *api.IssueResponse
	err := w.write("issue", func() (err error) {
		r, err = cn.issuer.Issue(ctx, api.IssueRequest{CitizenID: w.issuee.citizen, Type: "national_id",
			Claims: claimsFor(w.issuee.citizen), ExpiresAt: time.Now().AddDate(1, 0, 0)})
		return err
	})
	w.unexpected("issue", err)
	if err != nil {
		return
	}
	list, err := strconv.Atoi(r.StatusList[strings.LastIndexByte(r.StatusList, '/')+1:])
	if err != nil {
		w.t.Errorf("issue: status list URI %q does not end in the list number", r.StatusList)
		list = -1
	}
	w.mu.Lock()
	w.creds[r.CredentialID] = &credRecord{id: r.CredentialID, status: api.StatusValid, list: list, index: r.StatusIndex}
	w.mu.Unlock()
}

// statusOp suspends, reinstates or revokes one of the issuee's
// credentials; a revoked one stays revoked.
func (w *crashWorld) statusOp(ctx context.Context, cn *crashConn, rng *rand.Rand) {
	w.mu.Lock()
	var c *credRecord
	for _, r := range w.creds { // map order: a random pick
		if r.status != api.StatusRevoked && r.pending == "" {
			c = r
			break
		}
	}
	if c == nil {
		w.mu.Unlock()
		return
	}
	next := api.StatusRevoked
	switch {
	case c.status == api.StatusSuspended && rng.IntN(2) == 0:
		next = api.StatusValid
	case c.status == api.StatusValid && rng.IntN(2) == 0:
		next = api.StatusSuspended
	}
	c.pending = next
	w.mu.Unlock()
	err := w.write("status", func() error {
		_, err := cn.issuer.SetStatus(ctx, c.id, api.StatusRequest{Status: next, Reason: "crash test"})
		return err
	})
	ce := w.unexpected("status", err)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		c.status, c.pending = next, ""
		c.changes = append(c.changes, next)
	case ce != nil:
		c.pending = "" // refused: nothing changed
	}
}

// shareOp creates and approves a one-time share of the holder's
// credential, while fewer than 8 of its approved shares wait.
func (w *crashWorld) shareOp(ctx context.Context, cn *crashConn, h *crashHolder) {
	w.mu.Lock()
	waiting := 0
	for _, s := range w.shares {
		if s.holder == h && s.approved && !s.redeemSent {
			waiting++
		}
	}
	w.mu.Unlock()
	if waiting >= 8 {
		return
	}
	hc := cn.holder[h]
	var created *api.ShareCreated
	err := w.write("share", func() (err error) {
		created, err = hc.Share(ctx, api.ShareRequest{TTLSeconds: 300,
			Items: []api.ShareRequestItem{{CredentialID: h.credID, Claims: []string{"age_over_18"}}}})
		return err
	})
	w.unexpected("share", err)
	if err != nil {
		return
	}
	var v *api.ShareView
	err = w.write("approve", func() (err error) { v, err = hc.Approve(ctx, created); return err })
	if w.unexpected("approve", err) != nil {
		return
	}
	s := &shareRecord{id: created.ShareID, holder: h, made: time.Now()}
	if err == nil {
		s.approved, s.qr = true, v.QRText
	} else {
		s.uncertain = true
	}
	w.mu.Lock()
	w.shares[s.id] = s
	w.mu.Unlock()
}

// redeemOp redeems one approved share not yet sent for redemption.
func (w *crashWorld) redeemOp(ctx context.Context, cn *crashConn, rng *rand.Rand) {
	w.mu.Lock()
	var s *shareRecord
	for _, r := range w.shares {
		if r.approved && !r.redeemSent && rng.IntN(2) == 0 {
			s = r
			break
		}
	}
	if s != nil {
		s.redeemSent = true
	}
	w.mu.Unlock()
	if s == nil {
		return
	}
	var resp *api.VerifyResponse
	err := w.write("redeem", func() (err error) { resp, err = cn.shop.Verify(ctx, s.qr); return err })
	ce := w.unexpected("redeem", err)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		s.redeemed, s.shopAcked, s.valid = true, true, s.valid+1
		if resp.Result != "valid" {
			w.t.Errorf("load: redeem answered result %q", resp.Result)
		}
	case ce != nil:
		s.redeemSent = false // refused: still redeemable
	}
}

// tokenOp exchanges a fresh device assertion of the issuee for an access
// token; the assertion is kept to be replayed after the restart.
func (w *crashWorld) tokenOp(ctx context.Context, cn *crashConn) {
	a, err := signAssertion(w.issuee.dev, cn.c.TokenEndpoint())
	if err != nil {
		w.t.Error(err)
		return
	}
	rec := &tokenRecord{assertion: a, made: time.Now()}
	w.mu.Lock()
	w.tokens = append(w.tokens, rec)
	w.mu.Unlock()
	err = w.write("token", func() error { return postToken(ctx, cn.base, a) })
	w.unexpected("token", err)
	w.mu.Lock()
	rec.acked = err == nil
	w.mu.Unlock()
}

// deviceOp enrols one more device of the devHolder and revokes it with
// the holder's first device.
func (w *crashWorld) deviceOp(ctx context.Context, cn *crashConn) {
	dev, err := client.NewDevice("spare phone")
	if err != nil {
		w.t.Error(err)
		return
	}
	var code *api.ActivationCodeResponse
	err = w.write("activation code", func() (err error) {
		code, err = cn.admin.CreateActivationCode(ctx, w.devHolder.citizen)
		return err
	})
	if err == nil {
		err = w.write("enrol", func() error { _, err := cn.c.Holder(dev).Enroll(ctx, w.devHolder.citizen, code.Code); return err })
	}
	w.unexpected("enrol", err)
	if err != nil {
		return
	}
	d := &deviceRecord{dev: dev}
	w.mu.Lock()
	w.devices[dev.ID] = d
	w.mu.Unlock()
	err = w.write("revoke device", func() error { return cn.holder[w.devHolder].RevokeDevice(ctx, dev.ID) })
	w.unexpected("revoke device", err)
	if err == nil {
		w.mu.Lock()
		d.revoked = true
		w.mu.Unlock()
	}
}

// signAssertion signs a device assertion valid for 4 minutes (SPEC §3.1
// allows 5), so that its replay can be tried until the test ends.
func signAssertion(dev *client.Device, tokenEndpoint string) (string, error) {
	pub, err := dev.PublicKey()
	if err != nil {
		return "", err
	}
	kid, err := credentials.Thumbprint(pub)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := crand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now()
	return credentials.SignJWT(dev.Key, "JWT", kid, map[string]any{
		"iss": dev.ID, "sub": dev.ID, "aud": tokenEndpoint,
		"iat": now.Unix(), "exp": now.Add(4 * time.Minute).Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti),
	})
}

// postToken posts an assertion to POST /v1/token (RFC 7523 §2.1); a
// refusal comes back as a *client.Error.
func postToken(ctx context.Context, base, assertion string) error {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		var tr api.TokenResponse
		if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
			return fmt.Errorf("token: a 200 without an access token: %v", err)
		}
		return nil
	}
	return errorAnswer(resp.StatusCode, body)
}
