package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
