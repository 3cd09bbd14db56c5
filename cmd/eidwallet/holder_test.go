package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
)

func TestHolderUsageErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	existing := filepath.Join(dir, "existing.json")
	if err := os.WriteFile(existing, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EIDWALLET_URL": "http://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage: eidwallet holder"},
		{"help", []string{"help"}, exitOK, "share --credential ID|TYPE"},
		{"unknown", []string{"dance"}, exitUsage, `unknown command "dance"`},
		{"no device file", []string{"--device", missing, "credentials"}, exitUsage, "enrol first"},
		{"share without items", []string{"--device", missing, "share"}, exitUsage, "share needs --credential and --claims"},
		{"claims before credential", []string{"share", "--claims", "full_name"}, exitUsage, "--claims comes after the --credential"},
		{"credential without claims", []string{"share", "--credential", "national_id"}, exitUsage, "has no --claims"},
		{"cancel without id", []string{"cancel"}, exitUsage, "takes 1 argument(s), got 0"},
		{"enrol without code", []string{"enrol", "--citizen", "001090000001"}, exitUsage, "enrol needs --citizen and --code"},
		{"enrol over a device file", []string{"enrol", "--device", existing, "--citizen", "001090000001", "--code", "c"}, exitInvalid, "pass --force"},
		{"enrol, server down", []string{"enroll", "--device", missing, "--citizen", "001090000001", "--code", "c", "--timeout", "2s"}, exitInvalid, "is the service running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, holderCommand, env, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr+r.stdout, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, r.stdout, r.stderr)
			}
		})
	}
	// A failed enrolment leaves no device file and no pending key behind.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files after failed enrolments, want only the existing one", len(entries))
	}
}

func TestHolderRefusesReadableDeviceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.json")
	if err := os.WriteFile(path, []byte(`{"device_id":"d"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, holderCommand, map[string]string{"EIDWALLET_DEVICE": path}, "", "credentials")
	if r.code != exitUsage || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("exit %d, stderr %s; want 2 and a chmod hint", r.code, r.stderr)
	}
}

// TestHolderCommands enrols a device through the CLI and shares with it,
// a verifier redeeming the printed code through the client package.
func TestHolderCommands(t *testing.T) {
	st := newCLIStack(t)
	ctx := context.Background()
	adminEnv := map[string]string{"EIDWALLET_URL": st.url, "EIDWALLET_ADMIN_TOKEN": st.token}
	const citizenID = "001090000001"
	var iss api.IssuerView
	adminJSON(t, adminEnv, &iss, "issuers", "create", "--id", "mps", "--name", "MPS", "--types", "national_id")
	var ik api.NewAPIKey
	adminJSON(t, adminEnv, &ik, "issuers", "api-key", "mps")
	var ver api.VerifierView
	adminJSON(t, adminEnv, &ver, "verifiers", "create", "--name", "Corner Pharmacy", "--category", "pharmacy", "--claims", "national_id:full_name,age_over_18")
	var ac api.ActivationCodeResponse
	adminJSON(t, adminEnv, &ac, "activation-code", citizenID)

	c := client.New(st.url)
	cred, err := c.Issuer(ik.Key).Issue(ctx, api.IssueRequest{
		CitizenID: citizenID, Type: "national_id", ExpiresAt: time.Now().AddDate(10, 0, 0),
		Claims: map[string]any{"id_number": citizenID, "full_name": "Nguyen Van Demo", "birth_date": "1990-01-01", "sex": "M",
			"nationality": "VNM", "issue_date": "2021-05-01", "expiry_date": "2036-01-01",
			"portrait": "data:image/png;base64,iVBORw0KGgo="},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Enrol, the code read from stdin as a citizen may type it: lower case,
	// spaces for hyphens (the service reads any such spelling). The device
	// file remembers the URL.
	typed := strings.ToLower(strings.ReplaceAll(ac.Code, "-", " "))
	devFile := filepath.Join(t.TempDir(), "phone.json")
	r := runCmd(t, holderCommand, map[string]string{"EIDWALLET_URL": st.url, "EIDWALLET_DEVICE": devFile}, typed+"\n",
		"enrol", "--citizen", citizenID, "--code", "-", "--name", "Test phone")
	if r.code != exitOK {
		t.Fatalf("enrol: exit %d\n%s", r.code, r.stderr)
	}
	var enr struct {
		DeviceID    string `json:"device_id"`
		DeviceFile  string `json:"device_file"`
		OneTimeKeys int    `json:"one_time_keys"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &enr); err != nil || enr.DeviceID == "" || enr.DeviceFile != devFile {
		t.Fatalf("enrol output %q: %v", r.stdout, err)
	}
	// One-time keys from the start (SPEC §6): every share a copy of its own.
	if enrolled, err := client.LoadDevice(devFile); err != nil || enr.OneTimeKeys != wallet.DefaultBatchSize || enrolled.PoolSize() != wallet.DefaultBatchSize {
		t.Fatalf("device file after enrol: %v, %d pool keys (%d said); want %d", err, enrolled.PoolSize(), enr.OneTimeKeys, wallet.DefaultBatchSize)
	}
	if fi, err := os.Stat(devFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device file: %v, %v", fi, err)
	}
	if _, err := os.Stat(devFile + ".pending"); !os.IsNotExist(err) {
		t.Error("the pending key file is left behind")
	}
	env := map[string]string{"EIDWALLET_DEVICE": devFile} // no URL: the device file's

	hold := func(args ...string) cliResult {
		t.Helper()
		r := runCmd(t, holderCommand, env, "", args...)
		if r.code != exitOK {
			t.Fatalf("holder %q: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}

	r = hold("credentials")
	for _, want := range []string{cred.CredentialID, "national_id", "full_name", "Nguyen Van Demo", "[image/png,"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("credentials output lacks %q:\n%s", want, r.stdout)
		}
	}
	var creds []api.CredentialView
	if err := json.Unmarshal([]byte(hold("credentials", "--json").stdout), &creds); err != nil || len(creds) != 1 {
		t.Fatalf("credentials --json: %v", err)
	}

	// Share by type name; the QR, then its text, then the expiry.
	r = hold("share", "--credential", "national_id", "--claims", "full_name,age_over_18", "--ttl", "120")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) < 15 || !strings.ContainsAny(r.stdout, "█▀▄") {
		t.Fatalf("share output has no QR code:\n%s", r.stdout)
	}
	qrText := lines[len(lines)-2]
	if !strings.HasPrefix(qrText, "EID1:") || !strings.HasPrefix(lines[len(lines)-1], "expires ") {
		t.Fatalf("share output ends %q / %q", qrText, lines[len(lines)-1])
	}
	res, err := c.Verifier(ver.APIKey.Key).Verify(ctx, qrText)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Documents[0].Claims; len(got) != 2 || got["full_name"] != "Nguyen Van Demo" {
		t.Errorf("verified claims = %v", got)
	}

	// One-time keys: the device file keeps them; shares then present
	// batch copies bound to them, and the file drops each one spent. The
	// share above spent one; 'keys' registers what the service asks for.
	pooled, err := client.LoadDevice(devFile)
	if err != nil || pooled.PoolSize() != wallet.DefaultBatchSize-1 {
		t.Fatalf("device file after the first share: %v, %d pool keys; want the spent one dropped", err, pooled.PoolSize())
	}
	if r := hold("keys"); !strings.Contains(r.stdout, " one-time keys on this device (") {
		t.Fatalf("keys output:\n%s%s", r.stdout, r.stderr)
	}
	if pooled, err = client.LoadDevice(devFile); err != nil {
		t.Fatal(err)
	}
	keys := pooled.PoolSize()
	var pv api.ShareView
	if err := json.Unmarshal([]byte(hold("share", "--credential", cred.CredentialID, "--claims", "age_over_18", "--json").stdout), &pv); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Verifier(ver.APIKey.Key).Verify(ctx, pv.QRText); err != nil || res.Documents[0].Claims["age_over_18"] != true {
		t.Fatalf("a pooled share: %+v, %v", res, err)
	}
	if pooled, err = client.LoadDevice(devFile); err != nil || pooled.PoolSize() != keys-1 {
		t.Errorf("device file after a pooled share: %v, %d pool keys; want the spent one of %d dropped", err, pooled.PoolSize(), keys)
	}

	// A second share, as JSON, then cancelled.
	var sv api.ShareView
	if err := json.Unmarshal([]byte(hold("share", "--credential", cred.CredentialID, "--claims", "age_over_18", "--verifier", ver.ID, "--json").stdout), &sv); err != nil || sv.Status != "active" {
		t.Fatalf("share --json: %+v, %v", sv, err)
	}
	if r := hold("cancel", sv.ShareID); !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("cancel: %s", r.stderr)
	}
	r = hold("shares")
	if !strings.Contains(r.stdout, sv.ShareID) || !strings.Contains(r.stdout, "cancelled") || !strings.Contains(r.stdout, "redeemed") {
		t.Errorf("shares output:\n%s", r.stdout)
	}

	r = hold("activity")
	if !strings.Contains(r.stdout, api.EventShareRedeemed) || !strings.Contains(r.stdout, ver.ID) {
		t.Errorf("activity output:\n%s", r.stdout)
	}
	r = hold("activity", "--export")
	var exp api.ActivityResponse
	if err := json.Unmarshal([]byte(r.stdout), &exp); err != nil || !wallet.CheckChain(exp.Entries) || !strings.Contains(r.stderr, "intact") {
		t.Errorf("activity --export: %v\n%s", err, r.stderr)
	}
	r = hold("devices")
	if !strings.Contains(r.stdout, "Test phone") || !strings.Contains(r.stdout, "(this device)") {
		t.Errorf("devices output:\n%s", r.stdout)
	}

	// Refusals: unknown type, a claim the credential lacks, unknown share.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"share", "--credential", "driver_licence", "--claims", "classes"}, "you hold no credential"},
		{[]string{"share", "--credential", "national_id", "--claims", "shoe_size"}, "400 invalid_request"},
		{[]string{"cancel", "shr_nope"}, "404 not_found"},
	} {
		r := runCmd(t, holderCommand, env, "", tt.args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("holder %q: exit %d, stderr %q; want 1 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}

	// Revoking this device ends its access.
	if r := hold("revoke-device", enr.DeviceID); !strings.Contains(r.stderr, "no longer works") {
		t.Errorf("revoke-device: %s", r.stderr)
	}
	if r := runCmd(t, holderCommand, env, "", "credentials"); r.code != exitInvalid || !strings.Contains(r.stderr, "400 invalid_grant") || !strings.Contains(r.stderr, "no longer takes this device") {
		t.Errorf("after revocation: exit %d\n%s", r.code, r.stderr)
	}
}

// TestRequestShownAsIs: a verifier's request is printed with every control
// and format character of its texts written out (\u{…}), so an escape
// sequence cannot rewrite the line that names the verifier, and an
// unsigned OpenID4VP request is marked as such (SPEC §3.4: the citizen
// sees the verifier's verified name).
func TestRequestShownAsIs(t *testing.T) {
	var out bytes.Buffer
	h := &holderCmd{cmdEnv: &cmdEnv{name: "eidwallet holder", stdout: &out, stderr: io.Discard}}
	unsigned := false
	h.printRequest(&api.RequestView{RequestID: "req_1", Status: "pending",
		Verifier: api.VerifierParty{ID: "https://shop.example", Name: "Shop\x1b[1A\r\x1b[2K  from Ministry", Category: "retail\u202e"},
		Purpose:  "Age check\nfrom Ministry of Public Security", Verified: &unsigned,
		Claims: []api.RequestedClaim{{Type: "national_id", Claim: "age_over_18", Registered: true}}})
	got := out.String()
	for _, want := range []string{`Shop\u{1B}[1A\u{D}\u{1B}[2K  from Ministry`, `retail\u{202E}`, `Age check\u{A}from Ministry`, "NOT VERIFIED"} {
		if !strings.Contains(got, want) {
			t.Errorf("printed request lacks %q:\n%s", want, got)
		}
	}
	if strings.ContainsAny(got, "\x1b\r\u202e") || strings.Count(got, "\n") != 5 {
		t.Errorf("a control character reached the terminal:\n%q", got)
	}
	if s := shown("Nhà thuốc 👩‍⚕️"); s != "Nhà thuốc 👩‍⚕️" {
		t.Errorf("shown changed plain text: %q", s)
	}
}
