package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The durability half of the crash harness (THREATS T31). A kill -9 leaves
// the kernel's page cache intact, so a build that never fsyncs survives
// every kill; what it cannot hide is the missing system call. The child
// runs under
//
//	strace -f --seccomp-bpf -ttt -T -y -s 0 -e trace=pwrite64,fdatasync,fsync -ff -o DIR/trace
//
// and every acknowledged write must have, between the moment the client
// sent it and the moment its 2xx arrived, bbolt's commit record (a write of
// one of the two meta pages) followed by an fdatasync or fsync of the store
// file that completed. A write answered before its commit was on disk, or a
// store opened with NoSync, fails it.

// straceArgs are the arguments before the traced command; -ff writes one
// file per thread (prefix.TID), so that no line is split by another
// thread's "<unfinished ...>".
func straceArgs(prefix string) []string {
	return []string{"-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-ttt", "-T", "-y", "-s", "0",
		"-e", "trace=pwrite64,fdatasync,fsync", "-ff", "-o", prefix}
}

// ioKind is what a traced system call did to the store file.
type ioKind int

const (
	ioMeta ioKind = iota // pwrite64 of a meta page: the commit record
	ioSync               // fdatasync or fsync that returned 0
)

// ioEvent is one completed system call on the store file, in
// microseconds of the wall clock (strace -ttt; -T gives the duration).
type ioEvent struct {
	kind       ioKind
	start, end int64
}

// ackedWrite is one request the service answered 2xx, with the client's
// wall clock just before sending and just after the answer.
type ackedWrite struct {
	what       string
	send, recv int64 // µs since the epoch
}

// straceLine is one complete call: "1796158305.182144 pwrite64(5</d/eidwallet.db>, ""..., 4096, 0) = 4096 <0.000047>".
var straceLine = regexp.MustCompile(`^(\d+)\.(\d{6}) (pwrite64|fdatasync|fsync)\(\d+<([^>]*)>(.*)\) += (-?\d+)(?: [^<]*)? <(\d+)\.(\d{6})>$`)

// pwriteArgs ends the pwrite64 arguments: count and offset.
var pwriteArgs = regexp.MustCompile(`, (\d+), (\d+)$`)

// parseStrace reads one strace output and returns the completed calls on
// the file named base (the store), given the store's page size. Lines of
// other files, failed calls and calls cut by the kill are skipped.
func parseStrace(r io.Reader, base string, pageSize int64) ([]ioEvent, error) {
	var out []ioEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil || filepath.Base(m[4]) != base {
			continue
		}
		call, args, ret := m[3], m[5], m[6]
		start := micros(m[1], m[2])
		e := ioEvent{kind: ioSync, start: start, end: start + micros(m[7], m[8])}
		switch call {
		case "fdatasync", "fsync":
			if ret != "0" {
				continue
			}
		case "pwrite64":
			a := pwriteArgs.FindStringSubmatch(args)
			if a == nil {
				return nil, fmt.Errorf("strace: pwrite64 arguments not understood: %q", sc.Text())
			}
			n, _ := strconv.ParseInt(a[1], 10, 64)
			off, _ := strconv.ParseInt(a[2], 10, 64)
			// bbolt's meta pages are pages 0 and 1; a commit ends by
			// writing one of them, whole (tx.writeMeta).
			if n != pageSize || (off != 0 && off != pageSize) || ret != a[1] {
				continue
			}
			e.kind = ioMeta
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func micros(sec, frac string) int64 {
	s, _ := strconv.ParseInt(sec, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	return s*1_000_000 + f
}

// readTraces parses every per-thread file strace -ff wrote with prefix.
func readTraces(prefix, base string, pageSize int64) ([]ioEvent, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, err
	}
	var all []ioEvent
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		evs, err := parseStrace(f, base, pageSize)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

// undurable returns the writes that were acknowledged without a commit
// record made durable inside their window: for each, there must be a meta
// page write that started after the request was sent, then a sync that
// started after that write ended and ended before the answer arrived.
func undurable(writes []ackedWrite, events []ioEvent) []ackedWrite {
	var metas, syncs []ioEvent
	for _, e := range events {
		if e.kind == ioMeta {
			metas = append(metas, e)
		} else {
			syncs = append(syncs, e)
		}
	}
	byStart := func(a, b ioEvent) int { return cmp.Compare(a.start, b.start) }
	startsAt := func(e ioEvent, t int64) int { return cmp.Compare(e.start, t) }
	slices.SortFunc(metas, byStart)
	slices.SortFunc(syncs, byStart)
	var bad []ackedWrite
	for _, w := range writes {
		ok := false
		// The earliest commit record inside the window has the most syncs
		// after it; any later one could only do worse.
		i, _ := slices.BinarySearchFunc(metas, w.send, startsAt)
		if i < len(metas) && metas[i].end <= w.recv {
			j, _ := slices.BinarySearchFunc(syncs, metas[i].end, startsAt)
			for ; j < len(syncs) && syncs[j].start <= w.recv; j++ {
				if syncs[j].end <= w.recv {
					ok = true
					break
				}
			}
		}
		if !ok {
			bad = append(bad, w)
		}
	}
	return bad
}

// TestCrashDurabilityCheck shows that the durability check sees what a kill
// cannot: a commit never synced (NoSync), a sync that finished after the
// answer, a sync of another file, a sync before the commit record. The
// trace lines are strace's own format.
func TestCrashDurabilityCheck(t *testing.T) {
	const db = "/d/eidwallet.db"
	meta := func(ts string, off int) string {
		return fmt.Sprintf(`%s pwrite64(5<%s>, ""..., 4096, %d) = 4096 <0.000020>`, ts, db, off)
	}
	data := func(ts string) string {
		return fmt.Sprintf(`%s pwrite64(5<%s>, ""..., 8192, 16384) = 8192 <0.000020>`, ts, db)
	}
	sync := func(ts, dur string) string {
		return fmt.Sprintf(`%s fdatasync(5<%s>) = 0 <%s>`, ts, db, dur)
	}
	// The write is sent at 100.000100 and answered at 100.010000.
	w := ackedWrite{what: "issue", send: 100_000_100, recv: 100_010_000}
	tests := []struct {
		name    string
		trace   []string
		durable bool
	}{
		{"commit synced before the answer", []string{data("100.000200"), sync("100.000300", "0.001000"), meta("100.001400", 0), sync("100.001500", "0.002000")}, true},
		{"fsync counts as well", []string{meta("100.001400", 4096), `100.001500 fsync(5</d/eidwallet.db>) = 0 <0.000100>`}, true},
		{"NoSync: pages written, never synced", []string{data("100.000200"), meta("100.001400", 0)}, false},
		{"synced, but the answer came first", []string{meta("100.001400", 0), sync("100.001500", "0.009000")}, false},
		{"sync before the commit record only", []string{data("100.000200"), sync("100.000300", "0.001000"), meta("100.001400", 0)}, false},
		{"commit of an earlier request", []string{meta("100.000050", 0), sync("100.000300", "0.001000")}, false},
		{"another file synced", []string{meta("100.001400", 0), `100.001500 fdatasync(9</d/admin-token>) = 0 <0.000100>`}, false},
		{"failed sync", []string{meta("100.001400", 0), `100.001500 fdatasync(5</d/eidwallet.db>) = -1 EIO (Input/output error) <0.000100>`}, false},
		{"sync cut by the kill", []string{meta("100.001400", 0), `100.001500 fdatasync(5</d/eidwallet.db> <unfinished ...>) = ?`}, false},
		{"data page, not a meta page", []string{data("100.001400"), sync("100.001500", "0.000100")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := parseStrace(strings.NewReader(strings.Join(tt.trace, "\n")+"\n"), "eidwallet.db", 4096)
			if err != nil {
				t.Fatal(err)
			}
			bad := undurable([]ackedWrite{w}, evs)
			if got := len(bad) == 0; got != tt.durable {
				t.Errorf("durable = %v, want %v (events %+v)", got, tt.durable, evs)
			}
		})
	}
}
