package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The demo citizen is made up; the portrait is a drawn placeholder.
const (
	demoCitizen  = "001099012345"
	demoVerifier = "demo-pharmacy"
)

// demoState is the demo's API keys, shown once by the service.
type demoState struct {
	IssuerKeys  map[string]string `json:"issuer_keys"`
	VerifierKey string            `json:"verifier_key"`
}

// The demo's state is kept in the store, sealed with the master key, so
// that every replica of a deployment shows the same demo without a file
// copied between them, and so that migrate-store carries it: the API keys
// and the demo phone's device file (its private key). Each start writes a
// copy to its data dir (mode 0600) for the operator.
const (
	metaDemo      = "demo"
	metaDemoClaim = "demo_seeding" // a replica loading the demo data, since
	// demoClaimTTL: a claim older than that is a start that died.
	demoClaimTTL = 2 * time.Minute
	// demoWait is how long a replica without the admin token waits for the
	// one that has it to load the demo data.
	demoWait = time.Minute
)

type demoRecord struct {
	State  demoState `json:"state"`
	Device []byte    `json:"device"` // the device file, as client.Device.Save writes it
}

// runDemo loads the demo data through the service's own API (SPEC §8) once
// per deployment, then shares the demo citizen's name, portrait and age
// check and prints the live QR with the command that verifies it. The
// replica that loads the data is one that holds the admin token (the
// first start writes it); the others wait for it.
func runDemo(ctx context.Context, localURL, publicURL string, own *tls.Certificate, store wallet.Store, keys *wallet.Keys, dataDir, tokenPath string, stdout io.Writer) error {
	c := demoClient(localURL, publicURL, own)
	baseURL := c.BaseURL()
	statePath := filepath.Join(dataDir, "demo.json")
	devicePath := filepath.Join(dataDir, "demo-device.json")
	sealer, err := wallet.NewAESGCM(keys.Seal, rand.Reader)
	if err != nil {
		return err
	}
	d := &demoStore{store: store, sealer: sealer}
	rec, err := d.load(ctx)
	if err != nil {
		return err
	}
	if rec == nil {
		// A data dir of before the state moved into the store.
		if rec, err = demoFiles(statePath, devicePath); err == nil {
			err = d.save(ctx, rec)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if rec == nil {
		if rec, err = d.seedOnce(ctx, c, tokenPath, devicePath); err != nil {
			return err
		}
	}
	state := &rec.State
	b, _ := json.Marshal(state, outputJSON, jsontext.WithIndent("  "))
	if err := writeSecretFile(statePath, b); err != nil {
		return err
	}
	if err := writeSecretFile(devicePath, rec.Device); err != nil {
		return err
	}
	dev, err := client.LoadDevice(devicePath)
	if err != nil {
		return err
	}
	holder := c.Holder(dev)
	creds, err := holder.Credentials(ctx)
	if err != nil {
		return err
	}
	var items []api.ShareRequestItem
	for _, cr := range creds {
		if cr.Type == "national_id" && cr.Status == api.StatusValid {
			items = append(items, api.ShareRequestItem{CredentialID: cr.ID, Claims: []string{"full_name", "portrait", "age_over_18"}})
			break
		}
	}
	if len(items) == 0 {
		return errors.New("the demo citizen has no valid identity card")
	}
	share, err := holder.ShareAndApprove(ctx, api.ShareRequest{Items: items, TTLSeconds: int(wallet.MaxShareTTL / time.Second)})
	if err != nil {
		return err
	}
	art, err := qr.Terminal(share.QRText)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
Demo data is loaded: issuers mps, vss, mot; one demo citizen (%s) with three documents;
the verifier %q. The demo citizen shares name, portrait and age_over_18:

%s
%s   (valid until %s, one use)

Verify it as the pharmacy would:

curl -s -X POST %s/v1/verify -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{"qr":"%s"}'

or open the staff page %s/verify, sign in with that key, and paste or scan the code.
The citizen demo wallet is at %s/demo/wallet.

The demo keys are in %s; %s.
`, demoCitizen, demoVerifier, art, share.QRText, share.ExpiresAt.Local().Format(time.TimeOnly),
		baseURL, state.VerifierKey, share.QRText, baseURL, baseURL, statePath, tokenNote(tokenPath))
	return nil
}

// demoClient is a client of this server under the public URL, which is in
// every assertion's aud, connecting to the server's own address: behind a
// load balancer, the demo of each replica runs on that replica. When the
// schemes differ (TLS ends at the balancer), it talks to the local URL.
// Served over TLS, it trusts the server's own certificate (own) beside the
// system's roots, so that the demo loads under a self-signed one too.
func demoClient(localURL, publicURL string, own *tls.Certificate) *client.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if own != nil {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if leaf, err := x509.ParseCertificate(own.Certificate[0]); err == nil {
			roots.AddCert(leaf)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	hc := &http.Client{Transport: tr}
	local, errL := url.Parse(localURL)
	public, errP := url.Parse(publicURL)
	if errL != nil || errP != nil || local.Scheme != public.Scheme || local.Host == public.Host {
		return client.New(localURL, client.WithHTTPClient(hc))
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, local.Host)
	}
	return client.New(publicURL, client.WithHTTPClient(hc))
}

// tokenNote says where the admin token is.
func tokenNote(tokenPath string) string {
	if _, err := os.Stat(tokenPath); err == nil {
		return "the admin token in " + tokenPath
	}
	return "the admin token is with the replica that started first (eidwallet admin-token reset makes a new one)"
}

// demoStore keeps the demo's record in the store's meta records.
type demoStore struct {
	store  wallet.Store
	sealer wallet.Sealer
}

// The associated data binds the sealed record to its name, as the
// service's own meta records are bound.
var demoAD = []byte("meta|" + metaDemo)

// load returns the demo's record, nil when there is none yet.
func (d *demoStore) load(ctx context.Context) (*demoRecord, error) {
	var sealed []byte
	err := d.store.View(ctx, func(tx wallet.Tx) error {
		var err error
		sealed, err = wallet.Meta.Get(tx, metaDemo)
		return err
	})
	if errors.Is(err, wallet.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the demo state: %w", err)
	}
	b, err := d.sealer.Open(sealed, demoAD)
	if err != nil {
		return nil, fmt.Errorf("the demo state: %w", err)
	}
	var rec demoRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("the demo state: %w", err)
	}
	return &rec, nil
}

// save stores rec and ends any claim.
func (d *demoStore) save(ctx context.Context, rec *demoRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	sealed, err := d.sealer.Seal(b, demoAD)
	if err != nil {
		return err
	}
	return d.store.Update(ctx, func(tx wallet.Tx) error {
		if err := wallet.Meta.Put(tx, sealed, metaDemo); err != nil {
			return err
		}
		return wallet.Meta.Delete(tx, metaDemoClaim)
	})
}

// claim takes the loading of the demo data for this start: false when the
// data is there, or another start loads it.
func (d *demoStore) claim(ctx context.Context, now time.Time) (bool, error) {
	claimed := false
	err := d.store.Update(ctx, func(tx wallet.Tx) error {
		claimed = false // fn may run again (Store.Update)
		if _, err := wallet.Meta.Get(tx, metaDemo); err == nil || !errors.Is(err, wallet.ErrNotFound) {
			return err
		}
		if b, err := wallet.Meta.Get(tx, metaDemoClaim); err == nil {
			if at, perr := time.Parse(time.RFC3339Nano, string(b)); perr == nil && now.Sub(at) < demoClaimTTL {
				return nil
			}
		} else if !errors.Is(err, wallet.ErrNotFound) {
			return err
		}
		claimed = true
		return wallet.Meta.Put(tx, []byte(now.UTC().Format(time.RFC3339Nano)), metaDemoClaim)
	})
	return claimed, err
}

// seedOnce loads the demo data when this start holds the admin token and
// no other start is loading it; otherwise it waits for the record.
func (d *demoStore) seedOnce(ctx context.Context, c *client.Client, tokenPath, devicePath string) (*demoRecord, error) {
	token, err := os.ReadFile(tokenPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		claimed, err := d.claim(ctx, time.Now())
		if err != nil {
			return nil, err
		}
		if claimed {
			state, err := seedDemo(ctx, c, strings.TrimSpace(string(token)), devicePath)
			if err != nil {
				// Another start may try again at once (seeding is
				// idempotent).
				_ = d.store.Update(ctx, func(tx wallet.Tx) error { return wallet.Meta.Delete(tx, metaDemoClaim) })
				return nil, err
			}
			dev, err := os.ReadFile(devicePath)
			if err != nil {
				return nil, err
			}
			rec := &demoRecord{State: *state, Device: dev}
			return rec, d.save(ctx, rec)
		}
	}
	deadline := time.Now().Add(demoWait)
	for {
		rec, err := d.load(ctx)
		if rec != nil || err != nil {
			return rec, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no demo data after a minute: it is loaded by the replica that holds the admin token " +
				"(the first start); start that one with --demo, or run eidwallet admin-token reset on this one")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// demoFiles reads the demo's files of a data dir, as starts before the
// state moved into the store wrote them.
func demoFiles(statePath, devicePath string) (*demoRecord, error) {
	state, err := loadDemoState(statePath)
	if err != nil {
		return nil, err
	}
	dev, err := os.ReadFile(devicePath)
	if err != nil {
		return nil, err
	}
	return &demoRecord{State: *state, Device: dev}, nil
}

func loadDemoState(path string) (*demoState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s demoState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// seedDemo creates the demo issuers, verifier, citizen and device (saved
// at devicePath) with the admin token; again after a start that died
// half-way, it reuses what is there.
func seedDemo(ctx context.Context, c *client.Client, adminToken, devicePath string) (*demoState, error) {
	admin := c.Admin(adminToken)
	state := &demoState{IssuerKeys: map[string]string{}}
	for _, is := range []api.CreateIssuerRequest{
		{ID: "mps", Name: "Ministry of Public Security (demo)", Types: []string{"national_id"}},
		{ID: "vss", Name: "Social Security Agency (demo)", Types: []string{"health_insurance"}},
		{ID: "mot", Name: "Ministry of Transport (demo)", Types: []string{"driver_licence"}},
	} {
		if _, err := admin.CreateIssuer(ctx, is); err != nil && client.ErrorCode(err) != api.CodeConflict {
			return nil, err
		}
		key, err := admin.CreateIssuerAPIKey(ctx, is.ID)
		if err != nil {
			return nil, err
		}
		state.IssuerKeys[is.ID] = key.Key
	}
	v, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{
		ID: demoVerifier, Name: "Demo Pharmacy, 12 Tran Phu", Category: "pharmacy",
		Claims: map[string][]string{
			"national_id":      {"full_name", "portrait", "age_over_18", "birth_date"},
			"health_insurance": {"card_number", "full_name", "insured_until", "benefit_level"},
		},
	})
	switch {
	case err == nil:
		state.VerifierKey = v.APIKey.Key
	case client.ErrorCode(err) == api.CodeConflict:
		k, err := admin.CreateVerifierAPIKey(ctx, demoVerifier)
		if err != nil {
			return nil, err
		}
		state.VerifierKey = k.Key
	default:
		return nil, err
	}
	code, err := admin.CreateActivationCode(ctx, demoCitizen)
	if err != nil {
		return nil, err
	}
	dev, err := client.NewDevice("Demo phone")
	if err != nil {
		return nil, err
	}
	if _, err := c.Holder(dev).Enroll(ctx, demoCitizen, code.Code); err != nil {
		return nil, err
	}
	if err := dev.Save(devicePath); err != nil {
		return nil, err
	}
	portrait, err := placeholderPortrait()
	if err != nil {
		return nil, err
	}
	until := time.Now().AddDate(10, 0, 0)
	for issuer, req := range map[string]api.IssueRequest{
		"mps": {Type: "national_id", Claims: map[string]any{
			"id_number": demoCitizen, "full_name": "Nguyen Van Mau", "birth_date": "1999-03-14", "sex": "M",
			"nationality": "VN", "place_of_origin": "Hue", "place_of_residence": "Da Nang",
			"issue_date": "2024-03-14", "expiry_date": "2039-03-14", "portrait": portrait}},
		"vss": {Type: "health_insurance", Claims: map[string]any{
			"card_number": "DN4799012345678", "full_name": "Nguyen Van Mau", "birth_date": "1999-03-14", "sex": "M",
			"insured_from": "2026-01-01", "insured_until": "2026-12-31", "registered_facility": "Da Nang Hospital (demo)", "benefit_level": "4"}},
		"mot": {Type: "driver_licence", Claims: map[string]any{
			"licence_number": "480199012345", "full_name": "Nguyen Van Mau", "birth_date": "1999-03-14",
			"classes":    []any{map[string]any{"class": "A1", "issue_date": "2018-05-02"}, map[string]any{"class": "B", "issue_date": "2020-07-15", "expiry_date": "2030-07-15"}},
			"issue_date": "2020-07-15", "expiry_date": "2030-07-15", "issuing_authority": "Da Nang Department of Transport (demo)"}},
	} {
		req.CitizenID, req.ExpiresAt = demoCitizen, until
		if _, err := c.Issuer(state.IssuerKeys[issuer]).Issue(ctx, req); err != nil {
			return nil, fmt.Errorf("issue demo %s: %w", req.Type, err)
		}
	}
	return state, nil
}

// placeholderPortrait draws a grey head-and-shoulders silhouette: a
// portrait-shaped image that is nobody.
func placeholderPortrait() (string, error) {
	const w, h = 48, 64
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.Gray{Y: 225}
			dx, dy := x-w/2, y-24
			if dx*dx+dy*dy < 12*12 || (y > 40 && (x-w/2)*(x-w/2) < (y-34)*(y-34)) {
				c = color.Gray{Y: 120}
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
