package main

import (
	"bytes"
	stdjson "encoding/json" // the oracle: the bytes the commands have always printed
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// TestPrintJSONKeepsEncodingJSONBytes: results print as encoding/json's
// MarshalIndent printed them (scripts read them): HTML characters and
// U+2028 escaped, map members sorted, nil slices null, empty ones [];
// times, as in every answer, in api.TimeLayout.
func TestPrintJSONKeepsEncodingJSONBytes(t *testing.T) {
	retired := time.Date(2026, 12, 1, 21, 35, 4, 123456789, time.UTC)
	for _, v := range []any{
		&api.VerifierView{ID: "v<1>", Name: "Tom & Jerry\u2028", Claims: map[string][]string{"b": {"x"}, "a": nil, "é": {}}},
		[]*api.IssuerView{{ID: "mps", Keys: []api.KeyView{{Kid: "k1", Retired: &retired}}}, {ID: "vss"}},
		&api.ActivityResponse{},
		&api.CredentialView{Claims: map[string]any{"n": 1.5e21, "m": map[string]any{"z": nil, "a": []any{true, "<"}}}},
		map[string]any{"key_id": "key_1", "revoked": true},
		[]*api.RequestView{},
	} {
		want, err := stdjson.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range []time.Time{{}, retired} { // but times, in api.TimeLayout
			v1, _ := stdjson.Marshal(tm)
			want = bytes.ReplaceAll(want, v1, []byte(`"`+tm.Format(api.TimeLayout)+`"`))
		}
		var out bytes.Buffer
		e := &cmdEnv{name: "test", stdout: &out, stderr: &out}
		if rc := e.printJSON(v); rc != exitOK || out.String() != string(want)+"\n" {
			t.Errorf("printJSON(%T) = %d\n%s\nwant\n%s", v, rc, out.String(), want)
		}
	}
}
