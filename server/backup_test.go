package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestBackupWhileServing: GET /v1/admin/backup gives the embedded store as
// it is at one moment while issuances go on: a store file of the length it
// announces, which opens and holds every credential acknowledged before
// the copy began. Only the admin may take it; on PostgreSQL it is 409 (its
// own tools back it up).
func TestBackupWhileServing(t *testing.T) {
	h := newHarnessOver(t, servicetest.OpenBolt(t))
	w := h.setup()
	h.logs.Discard()
	body := issueLine(t, h, w.citizen)
	// issue issues a credential and returns its id ("" after reporting a
	// failure: it runs on a goroutine of its own too, where t.Fatal may not).
	issue := func() string {
		resp := h.request("POST", "/v1/issuer/credentials", w.issuerKey, "application/json", body)
		defer resp.Body.Close()
		var r api.IssueResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 201 {
			t.Errorf("issue: %d (%v)", resp.StatusCode, err)
		}
		return r.CredentialID
	}
	var before []string
	for range 5 {
		before = append(before, issue())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the service goes on issuing during the copy
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				issue()
			}
		}
	}()
	resp := h.request("GET", "/v1/admin/backup", h.admin, "", nil)
	copyBytes, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(stop)
	wg.Wait()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(copyBytes)) {
		t.Fatalf("backup: %d %q, Content-Length %q for %d bytes (%v)", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.Header.Get("Content-Length"), len(copyBytes), err)
	}
	path := filepath.Join(t.TempDir(), "eidwallet.db")
	if err := os.WriteFile(path, copyBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	copied, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer copied.Close()
	err = copied.View(t.Context(), func(tx wallet.Tx) error {
		for _, id := range before {
			if _, err := wallet.Credentials.Get(tx, id); err != nil {
				t.Errorf("credential %s, acknowledged before the copy: %v", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, h.request("GET", "/v1/admin/backup", w.verifierKey, "", nil), 403, "forbidden")
	if dsn := os.Getenv("EIDWALLET_TEST_POSTGRES_DSN"); dsn != "" {
		ph := newHarnessOver(t, servicetest.OpenPostgres(t, dsn))
		wantError(t, ph.request("GET", "/v1/admin/backup", ph.admin, "", nil), 409, "conflict")
	}
}

// TestBackupReaderThatStops: a backup download whose reader stops reading
// is cut once a write has waited the idle time (the bulk streams'), so a
// hung backup script does not hold a copy of the store, and the request,
// for ever.
func TestBackupReaderThatStops(t *testing.T) {
	store := servicetest.OpenBolt(t)
	h := newHarnessOver(t, store, func(c *server.Config) { c.BulkIdleTimeout = 300 * time.Millisecond })
	fill(t, store, 32)
	conn := askBackup(t, h.url, h.admin)
	time.Sleep(2 * time.Second) // well past the idle time, reading nothing
	if n, length := readBackup(t, conn); n >= length {
		t.Errorf("a reader that stopped for 2 s got %d of %d bytes, want the copy cut short", n, length)
	}
}

// TestBackupEndsAtShutdown: a backup download under way (its reader slow)
// does not hold the server's shutdown: the copy is cut when it begins.
func TestBackupEndsAtShutdown(t *testing.T) {
	store := servicetest.OpenBolt(t)
	h := newHarnessOver(t, store)
	srv, url := serveWithTimeouts(t, h, time.Minute)
	fill(t, store, 32)
	conn := askBackup(t, url, h.admin)
	time.Sleep(300 * time.Millisecond) // the copy is being sent, its reader not reading
	shutDownPromptly(t, srv)
	if n, length := readBackup(t, conn); n >= length {
		t.Errorf("the copy under way at shutdown: %d of %d bytes, want it cut short", n, length)
	}
}

// askBackup sends GET /v1/admin/backup on a connection of its own, and
// reads nothing of the answer.
func askBackup(t *testing.T, url, admin string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /v1/admin/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", admin)
	return conn
}

// readBackup reads the 200 answer to askBackup: the bytes that came, and
// the length it announced.
func readBackup(t *testing.T, conn net.Conn) (n, length int64) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("backup: %d", resp.StatusCode)
	}
	n, _ = io.Copy(io.Discard, resp.Body)
	return n, resp.ContentLength
}

// fill puts n MiB of records into store: larger than what two sockets'
// buffers hold between them.
func fill(t *testing.T, store wallet.Store, n int) {
	t.Helper()
	for i := range n {
		if err := store.Update(t.Context(), func(tx wallet.Tx) error {
			return wallet.Put(tx, wallet.Meta.Kind(), wallet.Record{Key: []any{"filler-" + strconv.Itoa(i)}, Body: make([]byte, 1<<20)})
		}); err != nil {
			t.Fatal(err)
		}
	}
}
