package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/eidwallet/eidwallet/internal/failpoint"
)

// Every setting of serve is also an EIDWALLET_ variable, and the tools
// read a few of their own: a variable of that prefix that none of them
// reads is a misspelt one (EIDWALLET_POSTGRES_URL for …_DSN), whose
// setting would be silently dropped. The process refuses to run with one,
// naming the nearest it knows.

// otherVariables are the EIDWALLET_ variables read beside serve's own
// settings: the client tools', and the tests' and benchmarks' (which start
// the binary with theirs set).
var otherVariables = []string{
	"URL", "ADMIN_TOKEN", "DEVICE", "VERIFIER_KEY", "VERIFIER_ID", "ISSUER_API_KEY", "DATA",
	strings.TrimPrefix(failpoint.EnvVar, "EIDWALLET_"), // the crash harness's (a -tags failpoints build)
	"CHROMIUM", "SCREENSHOTS", "QR", "QR_CANCELLED", "QR_EXPIRED", "QR_OTHER_VERIFIER", "QR_REVOKED", "QR_UNREGISTERED",
}

// testPrefixes are whole families of the tests' variables.
var testPrefixes = []string{"TEST_", "BENCH_"}

// serviceLinks are the variables Kubernetes (and Docker links) set in every
// pod for a Service named eidwallet: EIDWALLET_SERVICE_HOST,
// EIDWALLET_PORT, EIDWALLET_PORT_8080_TCP_ADDR, …; none is a setting.
var serviceLinks = regexp.MustCompile(`^(SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_[A-Z]+)?)?)$`)

// knownVariables lists every EIDWALLET_ variable some command reads, the
// names after the prefix: serve's, found by reading its configuration
// with an environment that records what is asked, and the others.
func knownVariables() []string {
	var names []string
	_, _ = parseServeConfig(nil, func(k string) string {
		names = append(names, strings.TrimPrefix(k, "EIDWALLET_"))
		return ""
	}, io.Discard)
	return append(names, otherVariables...)
}

// unknownVariable returns an error naming the first EIDWALLET_ variable of
// environ (KEY=value entries) that no command reads, or nil.
func unknownVariable(environ []string) error {
	known := sync.OnceValue(knownVariables) // serve's flags are built only when there is a name to judge
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "EIDWALLET_")
		if !ok || serviceLinks.MatchString(name) || slices.ContainsFunc(testPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) ||
			slices.Contains(known(), name) {
			continue
		}
		hint := ""
		if near := nearest(name, known()); near != "" {
			hint = fmt.Sprintf(" (did you mean EIDWALLET_%s?)", near)
		}
		return fmt.Errorf("%s is no variable of eidwallet%s: unset it, or see 'eidwallet serve -h' for the settings", k, hint)
	}
	return nil
}

// nearest is the known name closest to name by edit distance, if it is
// close enough to be a misspelling of it (at most a third of its length).
func nearest(name string, known []string) string {
	best, dist := "", len(name)/3+1
	for _, k := range known {
		if d := editDistance(name, k); d < dist {
			best, dist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (ASCII names).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
