//go:build failpoints

package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Enabled is true in a -tags failpoints build.
const Enabled = true

// armed is the point named by EnvVar, read once. Package state is
// acceptable here: this file exists only in the test build, where one
// process is one armed point.
var armed = sync.OnceValue(func() *point {
	name, n, _ := strings.Cut(os.Getenv(EnvVar), ":")
	if name == "" {
		return nil
	}
	p := &point{name: name, at: 1}
	if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
		p.at = v
	}
	return p
})

type point struct {
	name string
	at   int64        // the hit that kills
	hits atomic.Int64 // hits so far
}

// Inject kills the process with SIGKILL when name is the armed point and
// this is its Nth hit: no deferred function, no buffered write, no
// shutdown runs, as with kill -9 from outside.
func Inject(name string) {
	p := armed()
	if p == nil || p.name != name || p.hits.Add(1) != p.at {
		return
	}
	self, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = self.Kill()
	}
	select {} // SIGKILL is not delivered synchronously: never go on
}
