package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
)

func newTestDevice(t *testing.T) *client.Device {
	t.Helper()
	d, err := client.NewDevice("Test phone")
	if err != nil {
		t.Fatal(err)
	}
	d.ID, d.HolderID, d.URL = "dev_1", "hol_1", "https://wallet.example"
	return d
}

func TestDeviceSaveLoad(t *testing.T) {
	d := newTestDevice(t)
	path := filepath.Join(t.TempDir(), "device.json")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("device file mode %04o, want 0600", st.Mode().Perm())
	}
	got, err := client.LoadDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != d.ID || got.HolderID != d.HolderID || got.Name != d.Name || got.URL != d.URL {
		t.Errorf("loaded %+v, want %+v", got, d)
	}
	if !got.Key.(*ecdsa.PrivateKey).Equal(d.Key) {
		t.Error("loaded key differs from the saved one")
	}
	// Saving again replaces the file atomically and leaves no temp file.
	d.Name = "Renamed"
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a second save, want 1", len(entries))
	}
}

func TestLoadDeviceRefusesReadableFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	path := filepath.Join(t.TempDir(), "device.json")
	if err := newTestDevice(t).Save(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := client.LoadDevice(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want a refusal naming chmod 600", mode, err)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "device.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDeviceKeyForms(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pemJSON, _ := json.Marshal(map[string]any{"device_id": "dev_9", "holder_id": "hol_9", "key_pem": pemKey})

	d, err := client.LoadDevice(writeFile(t, string(pemJSON)))
	if err != nil {
		t.Fatalf("PKCS#8 PEM key: %v", err)
	}
	if d.ID != "dev_9" || !d.Key.(*ecdsa.PrivateKey).Equal(k) {
		t.Errorf("PEM device loaded wrong: id %q", d.ID)
	}

	// A saved file, then tampered with.
	saved := filepath.Join(t.TempDir(), "d.json")
	if err := newTestDevice(t).Save(saved); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(saved)
	var good map[string]any
	if err := json.Unmarshal(raw, &good); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPt, _ := other.PublicKey.Bytes()

	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"no key", func(m map[string]any) { delete(m, "key") }},
		{"both key forms", func(m map[string]any) { m["key_pem"] = pemKey }},
		{"x of another key", func(m map[string]any) {
			m["key"].(map[string]any)["x"] = base64.RawURLEncoding.EncodeToString(otherPt[1:33])
		}},
		{"wrong curve", func(m map[string]any) { m["key"].(map[string]any)["crv"] = "P-384" }},
		{"short d", func(m map[string]any) { m["key"].(map[string]any)["d"] = "AAAA" }},
		{"newer version", func(m map[string]any) { m["version"] = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]any{}
			_ = json.Unmarshal(raw, &m)
			tt.mutate(m)
			b, _ := json.Marshal(m)
			if _, err := client.LoadDevice(writeFile(t, string(b))); err == nil {
				t.Error("loaded, want an error")
			}
		})
	}
	// The public key of a private PEM that is not P-256 is refused.
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(k384)
	b384, _ := json.Marshal(map[string]any{"key_pem": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}))})
	if _, err := client.LoadDevice(writeFile(t, string(b384))); err == nil {
		t.Error("P-384 PEM loaded, want an error")
	}
}

// assertionClaims mirrors RFC 7523 §3 (the service's own type is
// unexported).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

func TestSignAssertion(t *testing.T) {
	d := newTestDevice(t)
	pub, _ := d.PublicKey()
	now := time.Unix(1_800_000_000, 0)
	const aud = "https://wallet.example/v1/token"
	jtis := map[string]bool{}
	for range 3 {
		tok, err := d.SignAssertion(aud, now)
		if err != nil {
			t.Fatal(err)
		}
		var c assertionClaims
		var gotKid string
		err = credentials.VerifyJWT(tok, "", func(kid, iss string) (*ecdsa.PublicKey, error) {
			gotKid = kid
			if iss != d.ID {
				return nil, errors.New("iss is not the device id")
			}
			return pub, nil
		}, &c)
		if err != nil {
			t.Fatalf("VerifyJWT: %v", err)
		}
		wantKid, _ := credentials.Thumbprint(pub)
		if gotKid != wantKid {
			t.Errorf("kid %q, want the thumbprint %q", gotKid, wantKid)
		}
		if c.Iss != d.ID || c.Sub != d.ID || c.Aud != aud {
			t.Errorf("iss/sub/aud = %q/%q/%q", c.Iss, c.Sub, c.Aud)
		}
		if c.Iat != now.Unix() || c.Exp != now.Add(60*time.Second).Unix() {
			t.Errorf("iat %d exp %d, want %d and +60", c.Iat, c.Exp, now.Unix())
		}
		if len(c.Jti) < 22 || jtis[c.Jti] {
			t.Errorf("jti %q is short or repeated", c.Jti)
		}
		jtis[c.Jti] = true
		// The typ header is JWT: a check demanding another typ fails.
		if err := credentials.VerifyJWT(tok, "at+jwt", func(string, string) (*ecdsa.PublicKey, error) { return pub, nil }, &c); err == nil {
			t.Error("assertion verified as at+jwt")
		}
	}
	d.ID = ""
	if _, err := d.SignAssertion(aud, now); err == nil {
		t.Error("unenrolled device signed an assertion")
	}
}

// localCredential issues a national_id bound to d, as the service would.
func localCredential(t *testing.T, d *client.Device) (sdjwt string, trust *credentials.TrustStore, now time.Time) {
	t.Helper()
	now = time.Now().Truncate(time.Second)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const iss = "https://wallet.example/issuers/mps"
	is, err := credentials.NewIssuer(iss, ik, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	typ, _ := types.ByID(credentials.NationalID)
	pub, _ := d.PublicKey()
	sdjwt, err = is.Issue(credentials.IssueParams{
		Type: typ, Holder: pub, IssuedAt: now, ExpiresAt: now.AddDate(5, 0, 0),
		Claims: map[string]any{
			"id_number": "001090000001", "full_name": "Nguyen Van Demo", "birth_date": "1990-01-01",
			"sex": "M", "nationality": "VNM", "issue_date": "2021-05-01", "expiry_date": "2030-01-01",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	trust = credentials.NewTrustStore()
	trust.AddIssuer(iss, map[string]*ecdsa.PublicKey{is.KeyID(): &ik.PublicKey}, typ.VCT)
	return sdjwt, trust, now
}

func TestSignKB(t *testing.T) {
	d := newTestDevice(t)
	sdjwt, trust, now := localCredential(t, d)
	pres, err := credentials.Present(sdjwt, []string{"full_name", "age_over_18"})
	if err != nil {
		t.Fatal(err)
	}
	item := api.ToSign{CredentialID: "cred_1", Presentation: pres, Aud: "ver_shop", Nonce: "n-123", SDHash: credentials.SDHash(pres)}
	kb, err := d.SignKB(item, now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := credentials.Verify(pres+kb, trust, credentials.VerifyOptions{Now: now, RequireKB: true, Audience: "ver_shop", Nonce: "n-123"})
	if err != nil {
		t.Fatalf("verify presentation with the device's KB-JWT: %v", err)
	}
	if v.KB == nil || v.KB.Aud != "ver_shop" || v.KB.Nonce != "n-123" || v.KB.IssuedAt != now.Unix() || v.KB.SDHash != item.SDHash {
		t.Errorf("KB = %+v", v.KB)
	}
	if len(v.Disclosed) != 2 {
		t.Errorf("disclosed %v, want full_name and age_over_18", v.Disclosed)
	}

	// The device refuses to sign when the service's sd_hash is not the hash
	// of the presentation it shows, and a presentation without its ~.
	bad := item
	bad.SDHash = credentials.SDHash(sdjwt)
	if _, err := d.SignKB(bad, now); !errors.Is(err, client.ErrSDHashMismatch) {
		t.Errorf("sd_hash mismatch: err = %v, want ErrSDHashMismatch", err)
	}
	bad = item
	bad.Presentation = strings.TrimSuffix(pres, "~")
	if _, err := d.SignKB(bad, now); err == nil {
		t.Error("signed a presentation not ending in ~")
	}
	bad = item
	bad.Nonce = ""
	if _, err := d.SignKB(bad, now); err == nil {
		t.Error("signed without a nonce")
	}
}

func TestCheckShare(t *testing.T) {
	d := newTestDevice(t)
	sdjwt, _, _ := localCredential(t, d)
	pres := func(claims ...string) string {
		p, err := credentials.Present(sdjwt, claims)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	req := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: "c1", Claims: []string{"full_name", "age_over_18"}}}}
	item := func(cred, aud string, p string) api.ToSign {
		return api.ToSign{CredentialID: cred, Presentation: p, Aud: aud, Nonce: "n", SDHash: credentials.SDHash(p)}
	}
	forVerifier := req
	forVerifier.VerifierID = "ver_shop"
	tests := []struct {
		name    string
		req     api.ShareRequest
		created *api.ShareCreated
		ok      bool
	}{
		{"as asked", req, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "x", pres("full_name", "age_over_18"))}}, true},
		{"fewer claims", req, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "x", pres("age_over_18"))}}, true},
		{"an extra claim", req, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "x", pres("full_name", "age_over_18", "birth_date"))}}, false},
		{"another credential", req, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c2", "x", pres("full_name"))}}, false},
		{"two presentations", req, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "x", pres("full_name")), item("c1", "x", pres("full_name"))}}, false},
		{"bound to the verifier", forVerifier, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "ver_shop", pres("full_name"))}}, true},
		{"bound to another audience", forVerifier, &api.ShareCreated{ShareID: "s", ToSign: []api.ToSign{item("c1", "ver_other", pres("full_name"))}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := client.CheckShare(tt.req, tt.created)
			if tt.ok && err != nil {
				t.Errorf("CheckShare: %v", err)
			}
			if !tt.ok && !errors.Is(err, client.ErrOverDisclosure) {
				t.Errorf("CheckShare = %v, want ErrOverDisclosure", err)
			}
		})
	}
}
