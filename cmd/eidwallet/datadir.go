package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
)

// prepareDataDir makes the data directory with mode 0700, or tightens an
// existing one that group or others may enter to 0700: it holds the
// store, the admin token and, by default, the master key (THREATS T27).
// An operator who made it 0755 by hand expects the service to fix that,
// not to stop; the change is logged. A directory that cannot be tightened
// (another user's) stops the start.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	perm := st.Mode().Perm()
	if runtime.GOOS == "windows" || perm&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s has mode %04o and cannot be made 0700: %w", dir, perm, err)
	}
	log.Warn("data dir mode tightened", "path", dir, "from", fmt.Sprintf("%04o", perm), "to", "0700")
	return nil
}
