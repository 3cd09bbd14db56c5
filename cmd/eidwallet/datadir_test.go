package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestServeTightensDataDir: `serve` makes a new data dir 0700 and
// tightens an existing 0755 one to 0700, saying so in the log, and
// starts (THREATS T27, docs/operations.md).
func TestServeTightensDataDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	for name, tc := range map[string]struct {
		mode     fs.FileMode // of an existing dir; 0: none yet
		tightens bool
	}{
		"new":           {0, false},
		"existing 0700": {0o700, false},
		"existing 0755": {0o755, true},
		"existing 0770": {0o770, true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.mode != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			logs := &syncBuffer{}
			srv := startServer(t, dir, logs)
			srv.stop()
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o700 {
				t.Errorf("data dir mode %04o, want 0700", st.Mode().Perm())
			}
			logged := strings.Contains(logs.String(), `"msg":"data dir mode tightened"`)
			if logged != tc.tightens {
				t.Errorf("tightening logged %v, want %v:\n%s", logged, tc.tightens, logs.String())
			}
			if from := fmt.Sprintf(`"from":"%04o"`, tc.mode.Perm()); tc.tightens && !strings.Contains(logs.String(), from) {
				t.Errorf("the log line does not give the old mode (%s):\n%s", from, logs.String())
			}
		})
	}
}

// TestServeRefusesUnsafeMasterKeyDir: a master key whose directory group
// or others may write (sticky or not), or that another user owns, stops
// `serve` before anything is made or read: exit 1, the directory named,
// no key file created; so does a key file another user owns (THREATS
// T27). A 0755 directory of the service's user is fine.
func TestServeRefusesUnsafeMasterKeyDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	for name, tc := range map[string]struct {
		mode  fs.FileMode
		owner int // -1: this user
		want  string
	}{
		"world-writable":        {0o777, -1, "writable by group or others"},
		"group-writable":        {0o770, -1, "writable by group or others"},
		"sticky world-writable": {0o777 | fs.ModeSticky, -1, "writable by group or others"},
		"another user's":        {0o755, 65534, "is owned by uid 65534"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.owner >= 0 && os.Getuid() != 0 {
				t.Skip("chown needs root")
			}
			keyDir := filepath.Join(t.TempDir(), "keys")
			if err := os.Mkdir(keyDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(keyDir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(keyDir, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			key := filepath.Join(keyDir, "master.key")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0",
				"--data-dir", filepath.Join(t.TempDir(), "data"), "--master-key", key},
				func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d: %s", code, exitInvalid, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), keyDir) {
				t.Errorf("stderr %q does not name %s and %q", stderr.String(), keyDir, tc.want)
			}
			if _, err := os.Stat(key); !os.IsNotExist(err) {
				t.Errorf("a master key was made in the refused directory: %v", err)
			}
		})
	}

	// A key file another user owns is refused like one others can read.
	t.Run("key file of another user", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("chown needs root")
		}
		key := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(key, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(key, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0",
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--master-key", key},
			func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
		if code != exitInvalid || !strings.Contains(stderr.String(), key+" is owned by uid 65534") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})

	// The same directory, fixed, is accepted.
	t.Run("0755 of this user", func(t *testing.T) {
		keyDir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(keyDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(keyDir, 0o755); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, filepath.Join(t.TempDir(), "data"), &syncBuffer{}, "--master-key", filepath.Join(keyDir, "master.key"))
		srv.stop()
	})
}

// TestServeRefusesAMissingMasterKey: once a store holds records sealed
// with a master key, a start that finds the key file gone refuses, saying
// so, and makes no new key (which would open none of them and, backed up,
// be mistaken for the real one).
func TestServeRefusesAMissingMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startServer(t, dir, &syncBuffer{}).stop()
	key := filepath.Join(dir, "master.key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCommand(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	if code == exitOK || !strings.Contains(errOut, "master key") || !strings.Contains(errOut, "missing") {
		t.Errorf("a start without its master key: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new master key was made: %v", err)
	}
}

// TestServeChecksTLSFilesFirst: a TLS key file group or others may read
// (THREATS T27), or a certificate that does not load, stops the start
// before anything listens or is written.
func TestServeChecksTLSFilesFirst(t *testing.T) {
	certFile, keyFile, _ := tlsFiles(t)
	for _, c := range []struct {
		name, cert string
		keyMode    os.FileMode
		want       string
	}{
		{"a readable key", certFile, 0o644, "accessible to group or others"},
		{"a missing cert", filepath.Join(t.TempDir(), "none.pem"), 0o600, "--tls-cert"},
	} {
		if err := os.Chmod(keyFile, c.keyMode); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "data")
		code, out, errOut := runCommand(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--tls-cert", c.cert, "--tls-key", keyFile)
		if code == exitOK || !strings.Contains(errOut, c.want) || strings.Contains(out, "listening") {
			t.Errorf("%s: exit %d\n%s\n%s", c.name, code, out, errOut)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the data dir was made, or anything in it (%v)", c.name, err)
		}
	}
}

// TestServeRefusesBeforeWriting: a start refused for its address (in use)
// or its master key's directory (missing) writes nothing: no data dir for
// the first, no store file for the second (operations.md).
func TestServeRefusesBeforeWriting(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "data")
	code, _, errOut := runCommand(t, "serve", "--addr", taken.Addr().String(), "--data-dir", dir)
	if _, err := os.Stat(dir); code == exitOK || !strings.Contains(errOut, "listen") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("address in use: exit %d, data dir %v\n%s", code, err, errOut)
	}
	dir = t.TempDir()
	code, _, errOut = runCommand(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--master-key", filepath.Join(dir, "none", "master.key"))
	if left, _ := os.ReadDir(dir); code == exitOK || !strings.Contains(errOut, "master key directory") || len(left) != 0 {
		t.Errorf("master key directory missing: exit %d, data dir holds %v\n%s", code, left, errOut)
	}
}
