package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
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

func TestSplitList(t *testing.T) {
	if got := splitList(" full_name, ,age_over_18,"); !reflect.DeepEqual(got, []string{"full_name", "age_over_18"}) {
		t.Errorf("splitList = %q", got)
	}
}
