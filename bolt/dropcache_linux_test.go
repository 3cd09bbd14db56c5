package bolt_test

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to evict the file's pages from the page cache,
// so the next open reads from disk as after a reboot (clean pages only:
// the file must have been synced, which every commit does).
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
