package failpoint_test

import (
	"testing"

	"github.com/eidwallet/eidwallet/internal/failpoint"
)

// TestDefaultBuildIgnoresTheVariable: without -tags failpoints an armed
// point is never acted on (the process would not survive this test).
func TestDefaultBuildIgnoresTheVariable(t *testing.T) {
	if failpoint.Enabled {
		t.Skip("built with -tags failpoints: Inject would kill the test")
	}
	t.Setenv(failpoint.EnvVar, failpoint.AfterCommit+":1")
	for range 3 {
		failpoint.Inject(failpoint.AfterCommit)
		failpoint.Inject(failpoint.BeforeCommit)
	}
}
