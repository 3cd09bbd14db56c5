package bolt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkFdatasync is the disk's floor under a commit: the fdatasync
// after writing n 4 KiB pages, scattered over a 64 MiB file as a bbolt
// commit's dirty pages are, or side by side. A commit of one group of
// redemptions writes about 50 pages (docs/performance.md), then fsyncs
// again for the meta page (one page). Run:
//
//	go test -run '^$' -bench Fdatasync -benchtime 200x ./bolt/
func BenchmarkFdatasync(b *testing.B) {
	const page, filePages = 4096, 16384
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "sync"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(page * filePages); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, page)
	for _, n := range []int{1, 25, 50} {
		for _, layout := range []string{"scattered", "contiguous"} {
			b.Run(fmt.Sprintf("pages=%d/%s", n, layout), func(b *testing.B) {
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					for p := range n {
						at := (i*n + p) % filePages
						if layout == "scattered" {
							at = (p*2741 + i*7919) % filePages // strides far apart, a new set each time
						}
						if _, err := f.WriteAt(buf, int64(at)*page); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					if err := unix.Fdatasync(int(f.Fd())); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
