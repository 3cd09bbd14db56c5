//go:build !failpoints

package failpoint

// Enabled is false in the default build: every `if failpoint.Enabled`
// block is removed by the compiler.
const Enabled = false

// Inject does nothing in the default build.
func Inject(name string) {}
