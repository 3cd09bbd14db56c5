package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/eidwallet/eidwallet/bolt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
)

// cliResult is one run of a client command.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs cmd (adminCommand or holderCommand) with env as its
// environment.
func runCmd(t *testing.T, cmd func(context.Context, []string, func(string) string, io.Reader, io.Writer, io.Writer) int, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmd(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code, out.String(), errOut.String()}
}

func TestAdminUsageErrors(t *testing.T) {
	env := map[string]string{"EIDWALLET_ADMIN_TOKEN": "t", "EIDWALLET_URL": "http://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr (or stdout for help)
	}{
		{"no command", nil, exitUsage, "usage: eidwallet admin"},
		{"help", []string{"help"}, exitOK, "activation-code CITIZEN_ID"},
		{"-h", []string{"-h"}, exitOK, "usage: eidwallet admin"},
		{"unknown", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"group without action", []string{"issuers"}, exitUsage, "issuers needs a subcommand"},
		{"unknown action", []string{"issuers", "burn"}, exitUsage, `unknown command "issuers burn"`},
		{"missing argument", []string{"issuers", "rotate-key"}, exitUsage, "takes 1 argument(s), got 0"},
		{"extra argument", []string{"activation-code", "1", "2"}, exitUsage, "takes 1 argument(s), got 2"},
		{"create without flags", []string{"issuers", "create", "--id", "mps"}, exitUsage, "needs --id, --name and --types"},
		{"bad claims flag", []string{"verifiers", "create", "--name", "x", "--category", "y", "--claims", "full_name"}, exitUsage, "want TYPE:CLAIM"},
		{"verifier without claims", []string{"verifiers", "create", "--name", "x", "--category", "y"}, exitUsage, "at least one --claims"},
		{"unknown flag", []string{"issuers", "list", "--colour"}, exitUsage, "flag provided but not defined"},
		{"server down", []string{"issuers", "list", "--timeout", "2s"}, exitInvalid, "is the service running at http://127.0.0.1:1?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, adminCommand, env, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr+r.stdout, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	put := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	put("data/admin-token", "from-data-dir\n", 0o600)
	file := put("tok", "# the admin token\n\n  from-file  \n", 0o600)
	open := put("open", "leaky\n", 0o644)

	tests := []struct {
		name    string
		o       connFlags
		env     map[string]string
		want    string
		wantErr string
	}{
		{"flag wins", connFlags{token: "from-flag", tokenFile: file}, map[string]string{"EIDWALLET_ADMIN_TOKEN": "from-env"}, "from-flag", ""},
		{"file before env", connFlags{tokenFile: file}, map[string]string{"EIDWALLET_ADMIN_TOKEN": "from-env"}, "from-file", ""},
		{"env", connFlags{dataDir: dataDir}, map[string]string{"EIDWALLET_ADMIN_TOKEN": "from-env"}, "from-env", ""},
		{"data dir flag", connFlags{dataDir: dataDir}, nil, "from-data-dir", ""},
		{"data dir env", connFlags{}, map[string]string{"EIDWALLET_DATA_DIR": dataDir}, "from-data-dir", ""},
		{"data dir env alias", connFlags{}, map[string]string{"EIDWALLET_DATA": dataDir}, "from-data-dir", ""},
		{"none", connFlags{dataDir: filepath.Join(dir, "nowhere")}, nil, "", "no admin token"},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name    string
			o       connFlags
			env     map[string]string
			want    string
			wantErr string
		}{"readable by others", connFlags{tokenFile: open}, nil, "", "chmod 600"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.adminToken(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("token %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantURL string
	}{
		{[]string{"mps"}, []string{"mps"}, ""},
		{[]string{"--url", "u", "mps"}, []string{"mps"}, "u"},
		{[]string{"mps", "--url", "u"}, []string{"mps"}, "u"},
		{[]string{"mps", "--url=u", "kid"}, []string{"mps", "kid"}, "u"},
		{[]string{"mps", "--", "--url", "u"}, []string{"mps", "--url", "u"}, ""},
		// A key id may begin with "-" (base64url): an argument, not a flag.
		{[]string{"mps", "-_Xxc0JwsKFaoyFUVEaBbeCDZD_kS_8_1KTB3dSL6D8"}, []string{"mps", "-_Xxc0JwsKFaoyFUVEaBbeCDZD_kS_8_1KTB3dSL6D8"}, ""},
		{[]string{"mps", "-Ab3", "--url", "-u"}, []string{"mps", "-Ab3"}, "-u"},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		u := fs.String("url", "", "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, tt.wantPos) || *u != tt.wantURL {
			t.Errorf("%q: positional %q url %q, want %q %q", tt.args, pos, *u, tt.wantPos, tt.wantURL)
		}
	}
}

// TestParseInterspersedRefusesUnknownFlags: a word written as a flag that
// is none is still refused (a typo is not taken as an argument).
func TestParseInterspersedRefusesUnknownFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("url", "", "")
	if _, err := parseInterspersed(fs, []string{"mps", "--urll", "u"}); err == nil {
		t.Error("--urll was taken")
	}
}

func TestSplitList(t *testing.T) {
	if got := splitList(" full_name, ,age_over_18,"); !reflect.DeepEqual(got, []string{"full_name", "age_over_18"}) {
		t.Errorf("splitList = %q", got)
	}
}

// cliStack is the real service in-process for the client commands: bbolt in
// a temp dir, the wallet service, the HTTP API on loopback, and the admin
// token written where "eidwallet serve" writes it.
type cliStack struct {
	url     string
	dataDir string
	token   string
}

func newCLIStack(t *testing.T) *cliStack {
	t.Helper()
	st := &cliStack{dataDir: t.TempDir()}
	ts := httptest.NewUnstartedServer(nil)
	st.url = "http://" + ts.Listener.Addr().String()
	svc, _ := servicetest.New(t, wallet.Config{PublicURL: st.url})
	var err error
	if st.token, err = svc.BootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st.dataDir, "admin-token"), []byte(st.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = server.New(server.Config{Service: svc})
	ts.Start()
	t.Cleanup(ts.Close)
	return st
}

// adminJSON runs an admin command that must succeed and decodes its output.
func adminJSON(t *testing.T, env map[string]string, out any, args ...string) {
	t.Helper()
	r := runCmd(t, adminCommand, env, "", args...)
	if r.code != exitOK {
		t.Fatalf("admin %q: exit %d\n%s", args, r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("admin %q: output is not JSON: %v\n%s", args, err, r.stdout)
	}
}

func TestAdminCommands(t *testing.T) {
	st := newCLIStack(t)
	// The token comes from <data dir>/admin-token, found through the env.
	env := map[string]string{"EIDWALLET_URL": st.url, "EIDWALLET_DATA_DIR": st.dataDir}

	var iss api.IssuerView
	adminJSON(t, env, &iss, "issuers", "create", "--id", "mps", "--name", "Ministry of Public Security", "--types", "national_id")
	if iss.ID != "mps" || !slices.Equal(iss.Types, []string{"national_id"}) || len(iss.Keys) != 1 {
		t.Fatalf("issuer = %+v", iss)
	}
	var list []api.IssuerView
	adminJSON(t, env, &list, "issuers", "list")
	if len(list) != 1 {
		t.Fatalf("issuers list = %+v", list)
	}
	// Flags after the positional argument, and --url overriding the env.
	var rot api.IssuerView
	adminJSON(t, map[string]string{"EIDWALLET_URL": "http://127.0.0.1:1"}, &rot, "issuers", "rotate-key", "mps", "--url", st.url, "--data-dir", st.dataDir)
	if len(rot.Keys) != 2 {
		t.Fatalf("after rotation: %+v", rot.Keys)
	}
	old := rot.Keys[slices.IndexFunc(rot.Keys, func(k api.KeyView) bool { return !k.Active })].Kid
	var ret api.IssuerView
	adminJSON(t, env, &ret, "issuers", "retire-key", "mps", old)

	var ik api.NewAPIKey
	r := runCmd(t, adminCommand, env, "", "issuers", "api-key", "mps")
	if r.code != exitOK || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("api-key: exit %d\n%s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &ik); err != nil || ik.Key == "" || ik.Owner != "mps" {
		t.Fatalf("api key = %+v, %v", ik, err)
	}
	if strings.Contains(r.stderr, ik.Key) {
		t.Error("the API key is repeated on stderr")
	}

	var ver api.VerifierView
	adminJSON(t, env, &ver, "verifiers", "create", "--id", "pharmacy-1", "--name", "Corner Pharmacy", "--category", "pharmacy",
		"--claims", "national_id:full_name,age_over_18", "--claims", "national_id:birth_date")
	if ver.ID != "pharmacy-1" || ver.APIKey == nil || len(ver.Claims["national_id"]) != 3 {
		t.Fatalf("verifier = %+v", ver)
	}
	var vs []api.VerifierView
	adminJSON(t, env, &vs, "verifiers", "list")
	var vk api.NewAPIKey
	adminJSON(t, env, &vk, "verifiers", "api-key", "pharmacy-1")
	if len(vs) != 1 || vk.Owner != "pharmacy-1" {
		t.Fatalf("verifiers %+v, key %+v", vs, vk)
	}
	var revoked map[string]any
	adminJSON(t, env, &revoked, "api-keys", "revoke", vk.ID)
	// The verifier's keys by id, the one revoked marked so; never a key.
	var keys []api.APIKeyView
	listed := runCmd(t, adminCommand, env, "", "api-keys", "list", "--owner", "pharmacy-1")
	if err := json.Unmarshal([]byte(listed.stdout), &keys); err != nil || listed.code != exitOK ||
		len(keys) != 2 || strings.Contains(listed.stdout, vk.Key) || strings.Contains(listed.stdout, ver.APIKey.Key) {
		t.Fatalf("the verifier's keys: %+v", keys)
	}
	for _, k := range keys {
		if k.Owner != "pharmacy-1" || k.Role != api.RoleVerifier || (k.ID == vk.ID) != (k.Revoked != nil) {
			t.Errorf("key %+v (revoked: %s)", k, vk.ID)
		}
	}
	var origins api.VerifierView
	adminJSON(t, env, &origins, "verifiers", "origins", "pharmacy-1", "https://pharmacy.example")
	if len(origins.Origins) != 1 || origins.Origins[0] != "https://pharmacy.example" {
		t.Fatalf("origins = %+v", origins.Origins)
	}
	if r := runCmd(t, adminCommand, env, "", "verifiers", "origins"); r.code != exitUsage || !strings.Contains(r.stderr, "at least 1 argument") {
		t.Errorf("origins without a verifier: exit %d, %s", r.code, r.stderr)
	}
	var stats api.Stats
	adminJSON(t, env, &stats, "stats", "--by", "hour", "--from", time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339))
	if stats.By != "hour" {
		t.Fatalf("stats = %+v", stats)
	}
	if r := runCmd(t, adminCommand, env, "", "stats", "--from", "yesterday"); r.code != exitUsage || !strings.Contains(r.stderr, "not an RFC 3339 time") {
		t.Errorf("stats --from yesterday: exit %d, %s", r.code, r.stderr)
	}
	var retired api.VerifierView
	adminJSON(t, env, &retired, "verifiers", "retire", "pharmacy-1")
	if retired.Retired == nil {
		t.Fatalf("retired = %+v", retired)
	}
	var ac api.ActivationCodeResponse
	adminJSON(t, env, &ac, "activation-code", "001090000001")
	if ac.Code == "" || !ac.ExpiresAt.After(time.Now()) {
		t.Fatalf("activation code = %+v", ac)
	}

	// Refusals: exit 1 with the service's words.
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"EIDWALLET_URL": st.url, "EIDWALLET_ADMIN_TOKEN": "wrong"}, []string{"issuers", "list"}, "did not accept the credentials"},
		{env, []string{"issuers", "rotate-key", "nope"}, "404 not_found"},
		{env, []string{"issuers", "create", "--id", "mps", "--name", "Again", "--types", "national_id"}, "409 conflict"},
		{env, []string{"activation-code", "12"}, "400 invalid_request"},
	} {
		r := runCmd(t, adminCommand, tt.env, "", tt.args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("admin %q: exit %d, stderr %q; want 1 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestAdminBackup: "admin backup --out FILE" writes the running store's
// copy to FILE, mode 0600, whole (no partial file left), and the copy
// opens as a store; without --out it is a usage error.
func TestAdminBackup(t *testing.T) {
	st := newCLIStack(t)
	env := map[string]string{"EIDWALLET_URL": st.url, "EIDWALLET_DATA_DIR": st.dataDir}
	out := filepath.Join(t.TempDir(), "eidwallet.db")
	var res struct {
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	if os.Getenv("EIDWALLET_TEST_STORE") == "postgres" { // the suites over PostgreSQL: its own tools back it up
		r := runCmd(t, adminCommand, env, "", "backup", "--out", out)
		if _, err := os.Stat(out); r.code != exitInvalid || !strings.Contains(r.stderr, "409") || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("backup on PostgreSQL: exit %d, file %v\n%s", r.code, err, r.stderr)
		}
		return
	}
	adminJSON(t, env, &res, "backup", "--out", out)
	fi, err := os.Stat(out)
	if err != nil || res.File != out || fi.Size() != res.Bytes || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup: %+v, file %v (%v)", res, fi, err)
	}
	if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 1 {
		t.Errorf("files beside the copy: %v, want none (no partial file left)", left)
	}
	copied, err := bolt.Open(out)
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	copied.Close()
	for _, args := range [][]string{{"backup"}, {"backup", "--out", "-"}} {
		if r := runCmd(t, adminCommand, env, "", args...); r.code != exitUsage {
			t.Errorf("%q: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat("-"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file named - was written (%v)", err)
	}
	// Over a running store's own file (bbolt holds its lock): refused, the
	// file left as it is (renamed over, the server would go on writing to
	// the old one).
	live := filepath.Join(t.TempDir(), "eidwallet.db")
	running, err := bolt.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	before, _ := os.Stat(live)
	r := runCmd(t, adminCommand, env, "", "backup", "--out", live)
	if after, _ := os.Stat(live); r.code != exitUsage || !strings.Contains(r.stderr, "in use") || !os.SameFile(before, after) {
		t.Errorf("backup over the live store: exit %d, the same file %v\n%s", r.code, os.SameFile(before, after), r.stderr)
	}
}
