//go:build !unix && !windows

package main

import (
	"errors"
	"os"
)

// lockFile fails: this system has no file locks the CLI knows, and what
// it guards (the seen-cti file) is not kept without one.
func lockFile(*os.File) error { return errors.New("no file locks on this system") }

// inUse cannot tell here: no file is taken for in use.
func inUse(*os.File) bool { return false }
