package bolt_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/eidwallet/eidwallet/wallet/storetest"
)

// open is the suite's Open: the store file lives in the suite's dir.
func open(t *testing.T, dir string) wallet.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(dir, "wallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, open)
}

// The file holds sealed records and hashes: only its owner reads it
// (THREATS T25).
func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("store file mode %o, want 600", mode)
	}
}

// A second opener of a file in use fails within its timeout with
// ErrLocked, rather than hanging.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	start := time.Now()
	s2, err := bolt.Open(path, bolt.WithTimeout(100*time.Millisecond))
	took := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
	if !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: error %q does not name the file", err)
	}
	if took > 5*time.Second {
		t.Errorf("second Open took %s with a 100ms timeout", took)
	}

	// Once the first is closed the file opens again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := bolt.Open(path, bolt.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}

func TestOpenNotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a store succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open: error %q does not name the file", err)
	}
}

// Expired one-time keys are removed as new ones come in, so the replay
// cache does not grow without bound. Checked through the file size: after
// many rounds of short-lived keys it stays near the size of one round.
func TestUseOncePrunes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	round := func(r int) {
		now := base.Add(time.Duration(r) * time.Hour)
		err := s.Update(t.Context(), func(tx wallet.Tx) error {
			for i := range 2000 {
				key := strings.Repeat("k", 200) + time.Duration(r*10000+i).String()
				if err := tx.UseOnce(key, now.Add(time.Minute), now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	for r := range 3 {
		round(r)
	}
	early := size()
	for r := 3; r < 30; r++ {
		round(r)
	}
	// 27 more rounds of 2000 keys of ~200 bytes would add over 10 MB
	// if nothing were pruned.
	if late := size(); late > early+4<<20 {
		t.Errorf("file grew from %d to %d bytes over rounds of expired keys", early, late)
	}
}

// TestDamagedFileIsAnError: a file bbolt would panic on (here its freelist
// pages overwritten with a leaf's page type, as in a copy torn while it was
// written) fails Open with ErrDamaged, and the process goes on.
func TestDamagedFileIsAnError(t *testing.T) {
	path, f := storeToDamage(t)
	// Each meta page (pages 0 and 1): a 16-byte page header, then magic,
	// version, page size and flags (4 bytes each), the root bucket (16),
	// then the freelist's page id (8, little-endian).
	var meta [64]byte
	if _, err := f.ReadAt(meta[:], 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int64(binary.LittleEndian.Uint32(meta[24:28])) // the OS's when the file was made
	for page := range int64(2) {
		if _, err := f.ReadAt(meta[:], page*pageSize); err != nil {
			t.Fatal(err)
		}
		freelist := int64(binary.LittleEndian.Uint64(meta[48:56]))
		// The freelist page's flags, after its 8-byte id: a leaf's (0x02).
		if _, err := f.WriteAt([]byte{0x02, 0x00}, freelist*pageSize+8); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if _, err := bolt.Open(path); !errors.Is(err, bolt.ErrDamaged) {
		t.Fatalf("open of a damaged file: %v, want ErrDamaged", err)
	}
}

// TestOverwrittenHeaderIsDamaged: a file whose two meta pages were
// overwritten (bbolt's ErrInvalid, no panic) is refused as damaged too.
func TestOverwrittenHeaderIsDamaged(t *testing.T) {
	path, f := storeToDamage(t)
	if _, err := f.WriteAt(make([]byte, 2*os.Getpagesize()), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := bolt.Open(path); !errors.Is(err, bolt.ErrDamaged) {
		t.Fatalf("open of a file with its header overwritten: %v, want ErrDamaged", err)
	}
}

// storeToDamage makes a store file and closes it, and opens the file for
// a test to write over; the test closes it.
func storeToDamage(t *testing.T) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	return path, f
}

// TestEmptyFileIsNotAFirstStart: a store file that is there and empty
// (truncated) is refused as damaged, not made a new store over.
func TestEmptyFileIsNotAFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(path); !errors.Is(err, bolt.ErrDamaged) {
		t.Fatalf("open of an empty file: %v, want ErrDamaged", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file was written to: %v %v", fi, err)
	}
}

// blockedWriter is a backup's reader that stops reading: its first Write
// says so on started and waits for release.
type blockedWriter struct {
	started, release chan struct{}
	n                int
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		close(w.started)
		<-w.release
	}
	w.n += len(p)
	return len(p), nil
}

// TestBackupHoldsNoTransactionWhileSent: while a backup's reader stops
// reading, the store goes on committing, growing the file well past its
// mapping (which a read transaction held open would block), and leaves
// no spool file behind; the copy is the store as it was.
func TestBackupHoldsNoTransactionWhileSent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	put := func(name string, size int) error {
		return s.Update(ctx, func(tx wallet.Tx) error {
			return wallet.Put(tx, wallet.Meta.Kind(), wallet.Record{Key: []any{name}, Body: make([]byte, size)})
		})
	}
	if err := put("before", 100); err != nil {
		t.Fatal(err)
	}
	w := &blockedWriter{started: make(chan struct{}), release: make(chan struct{})}
	var size int64
	backedUp := make(chan error, 1)
	go func() { backedUp <- s.Backup(w, func(n int64) { size = n }) }()
	<-w.started
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("the data dir holds %d entries while the backup is sent, want the store alone (the spool unlinked)", len(left))
	}
	grown := make(chan error, 1)
	go func() {
		for i := range 32 {
			if err := put(fmt.Sprintf("after-%d", i), 1<<20); err != nil {
				grown <- err
				return
			}
		}
		grown <- nil
	}()
	select {
	case err := <-grown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		close(w.release) // so that the store can close
		t.Fatal("32 MiB of commits did not end in a minute while a backup's reader stood still")
	}
	close(w.release)
	if err := <-backedUp; err != nil {
		t.Fatal(err)
	}
	if int64(w.n) != size {
		t.Errorf("backup wrote %d bytes, told %d", w.n, size)
	}
	if fi, _ := os.Stat(path); fi.Size() < 32<<20 || size >= 32<<20 {
		t.Errorf("store %d bytes, copy %d: want the store grown past 32 MiB, the copy from before", fi.Size(), size)
	}
}

// TestTruncatedFileIsDamaged: a store file cut short (a copy whose
// download stopped) is refused as damaged, not opened to fault on its
// missing pages, at once or in a later request.
func TestTruncatedFileIsDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		if err := s.Update(t.Context(), func(tx wallet.Tx) error {
			return wallet.Put(tx, wallet.Meta.Kind(), wallet.Record{Key: []any{fmt.Sprintf("r%d", i)}, Body: make([]byte, 1<<20)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(whole))
	// Cut short below the pages the meta page counts (the end beyond them
	// is space bbolt grew ahead, unused).
	for _, size := range []int64{n / 2, n / 3, 5 << 20, 64 << 10} {
		cut := filepath.Join(t.TempDir(), "wallet.db")
		if err := os.WriteFile(cut, whole[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := bolt.Open(cut); !errors.Is(err, bolt.ErrDamaged) {
			if err == nil {
				s.Close()
			}
			t.Errorf("open of the file cut to %d of %d bytes: %v, want ErrDamaged", size, n, err)
		}
	}
}

// TestWriterStats: the writer's counts say what it did. Concurrent
// Batches share commits (more writes than commits), every committed write
// is counted once, and a rolled-back Update counts its time held but no
// commit and no write.
func TestWriterStats(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "wallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	const n = 64
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		go func() {
			<-start
			errs <- s.Batch(ctx, func(tx wallet.Tx) error {
				return wallet.Put(tx, wallet.Meta.Kind(), wallet.Record{Key: []any{fmt.Sprintf("r%d", i)}, Body: []byte("x")})
			})
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := s.WriterStats()
	if st.Writes != n || st.Commits < 1 || st.Commits > n || st.Busy <= 0 || st.Written <= 0 || st.Written > st.Busy {
		t.Fatalf("after %d concurrent batches: %+v", n, st)
	}
	t.Logf("%d batches in %d commits, writer held %s", n, st.Commits, st.Busy)

	refused := errors.New("refused")
	err = s.Update(ctx, func(tx wallet.Tx) error {
		time.Sleep(20 * time.Millisecond) // holding the writer
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Update: %v", err)
	}
	after := s.WriterStats()
	if after.Commits != st.Commits || after.Writes != st.Writes || after.Busy-st.Busy < 20*time.Millisecond {
		t.Errorf("a rolled-back Update of 20ms: %+v, then %+v", st, after)
	}

	// One writer: however many wait for it, Updates and Batches alike, it
	// is held no longer than the time that passed.
	began, before := time.Now(), s.WriterStats()
	var wg sync.WaitGroup
	for i := range 48 {
		wg.Go(func() {
			for j := 0; time.Since(began) < 300*time.Millisecond; j++ {
				put := func(tx wallet.Tx) error {
					return wallet.Put(tx, wallet.Meta.Kind(), wallet.Record{Key: []any{fmt.Sprintf("c%d-%d", i, j)}, Body: []byte("x")})
				}
				var err error
				if i%4 == 0 {
					err = s.Update(ctx, put)
				} else {
					err = s.Batch(ctx, put)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, busy := time.Since(began), s.WriterStats().Busy-before.Busy
	if busy <= 0 || busy > elapsed {
		t.Errorf("48 writers for %s: the writer held %s", elapsed, busy)
	}
	t.Logf("48 writers for %s: the writer held %s", elapsed, busy)
}
