// Package failpoint names the points where a test build of the service can
// be made to die as if killed (kill -9), so that the crash harness
// (cmd/eidwallet/crash_test.go, THREATS T31) can stop the process at the
// exact moments that matter, not only at random ones.
//
// In the default build Enabled is the constant false and Inject is empty:
// a call site written as
//
//	if failpoint.Enabled {
//		failpoint.Inject(failpoint.AfterCommit)
//	}
//
// compiles to nothing, so production binaries carry neither the check nor
// a way to trigger it. Built with -tags failpoints, Inject reads
// EnvVar once: "NAME" or "NAME:N" kills the process with SIGKILL the Nth
// time (default the first) the point NAME is reached. Nothing else in the
// service changes in that build.
package failpoint

// EnvVar names the failpoint to arm in a -tags failpoints build.
const EnvVar = "EIDWALLET_FAILPOINT"

// The named points.
const (
	// BeforeCommit is inside a store write transaction, after the
	// caller's function succeeded and before the commit: nothing of the
	// transaction may survive.
	BeforeCommit = "store-before-commit"
	// AfterCommit is after a store commit returned (written and fsynced),
	// before the caller goes on to answer: the write must survive although
	// it was never acknowledged.
	AfterCommit = "store-after-commit"
)
