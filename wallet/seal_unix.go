//go:build unix

package wallet

import (
	"io/fs"
	"syscall"
)

// fileOwner is the uid that owns st's file.
func fileOwner(st fs.FileInfo) (int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}
