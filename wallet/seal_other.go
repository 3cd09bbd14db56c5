//go:build !unix

package wallet

import "io/fs"

// fileOwner is unknown where files have no uid (Windows: ACLs).
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
