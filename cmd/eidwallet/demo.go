package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
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

// demoState is what the demo keeps between starts (mode 0600): the API
// keys are shown once by the service.
type demoState struct {
	IssuerKeys  map[string]string `json:"issuer_keys"`
	VerifierKey string            `json:"verifier_key"`
}

// runDemo loads the demo data through the service's own API (SPEC §8) on
// first start, then shares the demo citizen's name, portrait and age check
// and prints the live QR with the command that verifies it.
func runDemo(ctx context.Context, baseURL, dataDir, tokenPath string, stdout io.Writer) error {
	c := client.New(baseURL)
	statePath := filepath.Join(dataDir, "demo.json")
	devicePath := filepath.Join(dataDir, "demo-device.json")
	state, err := loadDemoState(statePath)
	if errors.Is(err, os.ErrNotExist) {
		if state, err = seedDemo(ctx, c, tokenPath, devicePath); err != nil {
			return err
		}
		b, _ := json.Marshal(state, outputJSON, jsontext.WithIndent("  "))
		if err := writeSecretFile(statePath, b); err != nil {
			return err
		}
	} else if err != nil {
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

The demo keys are in %s; the admin token in %s.
`, demoCitizen, demoVerifier, art, share.QRText, share.ExpiresAt.Local().Format(time.TimeOnly),
		baseURL, state.VerifierKey, share.QRText, baseURL, baseURL, statePath, tokenPath)
	return nil
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

// seedDemo creates the demo issuers, verifier, citizen and device.
func seedDemo(ctx context.Context, c *client.Client, tokenPath, devicePath string) (*demoState, error) {
	token, err := os.ReadFile(tokenPath)
	if err != nil {
		return nil, fmt.Errorf("the demo needs the admin token of the first start: %w", err)
	}
	admin := c.Admin(strings.TrimSpace(string(token)))
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
		req.CitizenID, req.ValidUntil = demoCitizen, until
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
