package main

import (
	"strings"
	"testing"
)

// TestUnknownVariables: an EIDWALLET_ variable no command reads (a
// misspelt setting, silently dropped before) stops the process, naming the
// nearest one it knows; every setting of serve, the tools' own and the
// tests' families pass.
func TestUnknownVariables(t *testing.T) {
	ok := []string{"PATH=/bin", "EIDWALLET_DATA_DIR=/srv", "EIDWALLET_POSTGRES_DSN=postgres://db", "EIDWALLET_LIMIT_VERIFY_PER_KEY=10/s",
		"EIDWALLET_MASTER_KEY=k", "EIDWALLET_VERIFIER_TRUST_ANCHORS=a.pem", "EIDWALLET_URL=http://x", "EIDWALLET_DEVICE=d.json",
		"EIDWALLET_TEST_STORE=postgres", "EIDWALLET_BENCH_LARGE_STORE=1000", "EIDWALLET_QR_EXPIRED=EID1:X",
		// What Kubernetes sets for a Service named eidwallet.
		"EIDWALLET_SERVICE_HOST=10.0.0.1", "EIDWALLET_SERVICE_PORT=8080", "EIDWALLET_SERVICE_PORT_HTTPS=443", "EIDWALLET_PORT=tcp://10.0.0.1:8080",
		"EIDWALLET_PORT_8080_TCP=tcp://10.0.0.1:8080", "EIDWALLET_PORT_8080_TCP_ADDR=10.0.0.1", "EIDWALLET_PORT_8080_TCP_PROTO=tcp"}
	if err := unknownVariable(ok); err != nil {
		t.Errorf("known variables refused: %v", err)
	}
	for v, want := range map[string]string{
		"EIDWALLET_POSTGRES_URL=postgres://db": "did you mean EIDWALLET_POSTGRES_DSN?",
		"EIDWALLET_DATADIR=/srv":               "did you mean EIDWALLET_DATA_DIR?",
		"EIDWALLET_LIMIT_VERIFY_PER_KY=1/s":    "did you mean EIDWALLET_LIMIT_VERIFY_PER_KEY?",
		"EIDWALLET_SOMETHING_ELSE=1":           "EIDWALLET_SOMETHING_ELSE is no variable of eidwallet: unset it",
	} {
		err := unknownVariable(append(ok, v))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", v, err, want)
		}
	}
}
