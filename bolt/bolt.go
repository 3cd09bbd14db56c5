// Package bolt implements wallet.Store on bbolt, the embedded default store
// (one file, one process). It is the only importer of go.etcd.io/bbolt.
//
// Layout: a bucket per record kind wallet declares (wallet.Kinds), keyed
// by the record's encoded key (keys.go), and a bucket per index of a kind,
// whose keys sort in the index's order, so that "by holder, newest first,
// at most n" is a reverse cursor walk that stops after n. Nothing is
// scanned or cached at open: opening is bbolt's mmap plus reading two meta
// pages and the freelist, whatever the size of the file (SPEC §7), but for
// the one walk that fills an index a kind gained since the file was
// written (backfill.go).
package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/eidwallet/eidwallet/internal/failpoint"
	"github.com/eidwallet/eidwallet/internal/group"
	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Defaults for Open.
const (
	// DefaultTimeout is how long Open waits for the file lock before giving
	// up: a second server on the same data dir must fail with a clear error,
	// not hang, while a restart gets a moment for the old process to exit.
	DefaultTimeout = time.Second
	// DefaultBatchSize is the most calls one group commit takes.
	DefaultBatchSize = 1000
)

// ErrLocked is returned by Open when another process (or another Store in
// this one) holds the file.
var ErrLocked = errors.New("database file is in use by another process")

// Store is a wallet.Store in one bbolt file. It is safe for concurrent use:
// bbolt runs any number of readers beside one writer.
type Store struct {
	db     *bbolt.DB
	path   string
	group  group.Group[*groupCall] // concurrent Batches, committed together (group.go)
	writer writerCounts
}

var _ wallet.Store = (*Store)(nil)

// Option changes how Open opens the file.
type Option func(*config)

type config struct {
	timeout   time.Duration
	batchSize int
	fillChunk int // records per transaction filling a new index (backfill.go)
}

// WithTimeout sets how long Open waits for the file lock (DefaultTimeout
// when d <= 0).
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithBatchSize sets the most calls one Batch commit takes
// (DefaultBatchSize when n <= 0).
func WithBatchSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// Open opens or creates the store file at path with mode 0600 (it holds
// sealed credentials and hashes: THREATS T25). The directory must exist.
// It fails with ErrLocked when the file stays locked for the timeout.
// Every commit is fsynced before Update or Batch returns (THREATS T31).
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{timeout: DefaultTimeout, batchSize: DefaultBatchSize, fillChunk: fillChunk}
	for _, o := range opts {
		o(&cfg)
	}
	// bbolt makes a new store of an empty file: one that is there and
	// empty was truncated (or its first start cut off before anything was
	// written), and is not taken for a first start over what it held.
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return nil, fmt.Errorf("bolt: open %q: %w: the file is empty (restore a copy; or remove it to start a new store)", path, ErrDamaged)
	}
	db, err := openDB(path, cfg.timeout)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %q: %w (waited %s for the lock)", path, ErrLocked, cfg.timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %q: %w", path, err)
	}

	// The first reads of the tree: a damaged page panics in bbolt.
	err = damagedOnPanic(func() error {
		stale, err := ensureBuckets(db)
		if err == nil {
			err = fillIndexes(db, stale, cfg.fillChunk)
		}
		return err
	})
	if err != nil {
		// After a panic a transaction may still hold the mapping, and
		// Close would wait for it: the file is left to the process's end.
		if !errors.Is(err, errPanicked) {
			_ = db.Close()
		}
		return nil, fmt.Errorf("bolt: open %q: %w", path, err)
	}
	st := &Store{db: db, path: path}
	st.writer.opened = db.Stats().TxStats
	st.group = group.Group[*groupCall]{Max: cfg.batchSize, Run: st.commitGroup}
	return st, nil
}

// openDB opens the bbolt file at path. bbolt panics on some damaged files
// (a torn copy's freelist, a truncated file): that is an error here, so a
// damaged store is said as one, not as a crash. A file shorter than the
// pages its meta page counts is refused before any request could read
// past its end.
func openDB(path string, timeout time.Duration) (db *bbolt.DB, err error) {
	err = damagedOnPanic(func() error {
		var err error
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{
			Timeout: timeout,
			// The hashmap freelist stays fast as a large file fragments;
			// the array one degrades (bbolt's own advice, etcd's default).
			// The freelist is still written at every commit, so open never
			// has to rebuild it by scanning the file.
			FreelistType: bbolt.FreelistMapType,
		})
		// Both meta pages unreadable: overwritten or torn, not a store.
		if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrVersionMismatch) {
			return fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err == nil {
		err = db.View(func(tx *bbolt.Tx) error {
			if tx.Size() > fi.Size() {
				return fmt.Errorf("%w: the file is %d bytes, its pages %d (cut short: restore a whole copy)", ErrDamaged, fi.Size(), tx.Size())
			}
			return nil
		})
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// errPanicked marks the ErrDamaged of a panic in bbolt.
var errPanicked = errors.New("bbolt panicked")

// damagedOnPanic runs fn, which reads the file through bbolt, and makes a
// panic in it (a damaged page, or with SetPanicOnFault a page past the
// end of a truncated file, which would otherwise kill the process with
// SIGBUS) an ErrDamaged.
func damagedOnPanic(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %w: %v", ErrDamaged, errPanicked, p)
		}
	}()
	return fn()
}

// ErrDamaged is a store file that cannot be read as a bbolt file: torn
// (copied while it was written), truncated or overwritten. Restore a good
// copy (operations.md, "Backups").
var ErrDamaged = errors.New("the store file is damaged")

// Buckets beside those of the record kinds.
const (
	bucketFormat       = "format"         // "version" → format
	bucketOnce         = "once"           // UseOnce key → expiry (appendTime)
	bucketOnceByExpiry = "once_by_expiry" // expiry ‖ key → empty
)

// format names the layout of this package's files: a file of another
// layout (one written before record kinds) is refused, not misread.
const format = "kinds-1"

// ensureBuckets creates the buckets every Tx method assumes, and returns
// the kinds whose indexes some records may lack entries of (backfill.go).
// A file that has them all, its indexes full, is only read: a write
// transaction would cost a commit and an fsync at every start.
func ensureBuckets(db *bbolt.DB) ([]*wallet.Kind, error) {
	names := []string{bucketFormat, bucketOnce, bucketOnceByExpiry}
	for _, k := range append(wallet.Kinds(), wallet.CounterKinds()...) {
		names = append(names, k.Name)
		for _, ix := range k.Indexes {
			names = append(names, indexBucket(k, ix))
		}
	}
	missing, empty := false, true
	var stale []*wallet.Kind
	err := db.View(func(btx *bbolt.Tx) error {
		_ = btx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
		f := btx.Bucket([]byte(bucketFormat))
		if f != nil {
			if v := f.Get([]byte("version")); string(v) != format {
				return fmt.Errorf("file format %q, want %q", v, format)
			}
		} else if !empty {
			return fmt.Errorf("file of an older layout (no format %q): start from a new data dir", format)
		}
		for _, name := range names {
			if btx.Bucket([]byte(name)) == nil {
				missing = true
			}
		}
		if !empty {
			stale = staleKinds(f)
		}
		return nil
	})
	if err != nil || !missing {
		return stale, err
	}
	return stale, db.Update(func(btx *bbolt.Tx) error {
		for _, name := range names {
			if _, err := btx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		f := btx.Bucket([]byte(bucketFormat))
		if empty { // a new file: every index is full
			for _, k := range wallet.Kinds() {
				if err := markFilled(f, k); err != nil {
					return err
				}
			}
		}
		return f.Put([]byte("version"), []byte(format))
	})
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// View runs fn in a read-only transaction. Errors from fn come back as they
// are, so the service sees its own errors unwrapped.
func (s *Store) View(ctx context.Context, fn func(wallet.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: view: %w", err)
	}
	var fnErr error
	err := s.db.View(func(btx *bbolt.Tx) error {
		fnErr = fn(&tx{btx: btx})
		return fnErr
	})
	return s.result("view", fnErr, err)
}

// Fetch runs ls in a read-only transaction.
func (s *Store) Fetch(ctx context.Context, ls ...wallet.Lookup) ([][]byte, error) {
	var out [][]byte
	err := s.View(ctx, func(tx wallet.Tx) error {
		var err error
		out, err = tx.Fetch(ls...)
		return err
	})
	return out, err
}

// Update runs fn in a read-write transaction and commits it, fsynced, when
// fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: update: %w", err)
	}
	var fnErr error
	err := s.commit(1, func(btx *bbolt.Tx) error {
		fnErr = fn(&tx{btx: btx})
		return fnErr
	})
	return s.result("update", fnErr, err)
}

// commit runs fn, which makes writes writes (Update and Batch calls), in
// a read-write transaction and commits it, fsynced; the time it holds the
// single writer is counted (WriterStats). Update and every group commit go
// through it. The failpoint calls vanish from the default build; a -tags
// failpoints build can die just before or just after the commit (the
// crash harness, THREATS T31).
func (s *Store) commit(writes int, fn func(*bbolt.Tx) error) error {
	ran := false
	err := s.db.Update(func(btx *bbolt.Tx) error {
		// The time fn holds the writer; bbolt times its commit itself
		// (WriterStats). Timed here, inside the transaction, and not
		// around Update: once bbolt lets the writer go, the next holder
		// may run before this goroutine does again.
		start := time.Now()
		defer func() { s.writer.ran.Add(int64(time.Since(start))) }()
		ran = true
		if err := fn(btx); err != nil {
			return err
		}
		if failpoint.Enabled {
			failpoint.Inject(failpoint.BeforeCommit)
		}
		return nil
	})
	if ran {
		s.writer.count(writes, err == nil)
	}
	if failpoint.Enabled && err == nil {
		failpoint.Inject(failpoint.AfterCommit)
	}
	return err
}

// Batch runs fn in a transaction shared with other concurrent Batch calls:
// one commit and one fsync for all of them (group.go). If one fn
// fails, it is run again alone so that it cannot undo the others; fn may
// therefore run more than once.
func (s *Store) Batch(ctx context.Context, fn func(wallet.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: batch: %w", err)
	}
	// fnErr is written by the committing goroutine and read here after
	// the result arrives over the call's channel.
	var fnErr error
	err := s.batch(func(btx *bbolt.Tx) error {
		fnErr = fn(&tx{btx: btx})
		return fnErr
	})
	return s.result("batch", fnErr, err)
}

// Apply is a Batch of one Tx.Apply. A refused write leaves the
// transaction as it was (Tx.Apply checks every write before it makes
// any), so its refusal is answered without failing, and so rolling back,
// the group it was committed with.
func (s *Store) Apply(ctx context.Context, ws ...wallet.Write) error {
	var refused error
	err := s.Batch(ctx, func(tx wallet.Tx) error {
		refused = tx.Apply(ws...)
		if errors.Is(refused, wallet.ErrChanged) || errors.Is(refused, wallet.ErrExists) || errors.Is(refused, wallet.ErrNotFound) {
			return nil
		}
		return refused
	})
	if err != nil {
		return err
	}
	return refused
}

// result returns fn's own error untouched, and wraps an error of bbolt's
// (begin, commit, fsync, a panic in a batch) with what failed.
func (s *Store) result(op string, fnErr, err error) error {
	if err == nil {
		return nil
	}
	if fnErr != nil && errors.Is(err, fnErr) {
		return fnErr
	}
	return fmt.Errorf("bolt: %s %q: %w", op, s.path, err)
}

// Ping reports whether the store can serve: a read transaction that finds
// the buckets.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: ping: %w", err)
	}
	err := s.db.View(func(btx *bbolt.Tx) error {
		if btx.Bucket([]byte(bucketFormat)) == nil {
			return errors.New("format bucket missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: ping %q: %w", s.path, err)
	}
	return nil
}

// Backup writes a copy of the whole store file as it is at one moment
// (one read transaction: bbolt's Tx.WriteTo), while the store goes on
// serving; sized is told the copy's length first. The copy is a store
// file: opened by Open, it holds every record as stored, sealed.
//
// The transaction copies into a spool file beside the store (unlinked
// at once, so that nothing is left of it after a crash), and w is written
// from that after it ends: a reader as slow as it likes, or one that
// stops reading, holds no transaction. One held would keep bbolt from
// growing its mapping when the file grows, and so stop every write until
// the reader finished.
func (s *Store) Backup(w io.Writer, sized func(int64)) error {
	spool, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".backup-*") // 0600, as the store
	if err != nil {
		return fmt.Errorf("bolt: backup: %w", err)
	}
	defer spool.Close()
	if os.Remove(spool.Name()) != nil { // a system that keeps an open file's name: removed once closed
		defer os.Remove(spool.Name())
	}
	var n int64
	err = s.db.View(func(btx *bbolt.Tx) error {
		var err error
		n, err = btx.WriteTo(spool)
		return err
	})
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("bolt: backup: %w", err)
	}
	sized(n)
	if _, err := io.Copy(w, io.LimitReader(spool, n)); err != nil {
		return fmt.Errorf("bolt: backup: %w", err)
	}
	return nil
}

// Close closes the file, waiting for running transactions. Closing twice
// is harmless.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %q: %w", s.path, err)
	}
	return nil
}
