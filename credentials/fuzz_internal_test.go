package credentials

import (
	"strings"
	"testing"
)

// Fuzz targets for every parser of untrusted input (CONVENTIONS 9, THREATS
// T22). Seeds live in testdata/fuzz/<target>; `make fuzz` runs each briefly.

// FuzzSplit: splitting never panics, and what it accepts joins back to the
// input.
func FuzzSplit(f *testing.F) {
	f.Add("a.b.c~")
	f.Add("a.b.c~WyJzIiwibiIsInYiXQ~x.y.z")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := split(s)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		joined := p.jwt + "~" + strings.Join(p.disclosures, "~")
		if len(p.disclosures) > 0 {
			joined += "~"
		}
		if joined+p.kb != s || p.sdHashInput != joined {
			t.Fatalf("split(%q) does not join back", s)
		}
		if len(p.disclosures) > MaxDisclosures {
			t.Fatalf("%d disclosures accepted", len(p.disclosures))
		}
	})
}

// FuzzDecodeDisclosure: decoding never panics and never accepts a reserved
// claim name.
func FuzzDecodeDisclosure(f *testing.F) {
	f.Add("WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd")
	f.Add("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0")
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := decodeDisclosure(raw)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !d.isArray && (d.name == sdKey || d.name == arrayKey) {
			t.Fatalf("reserved name %q accepted", d.name)
		}
	})
}

// FuzzProcessPayload: processing any payload with any disclosures never
// panics; on success no digest placeholder is left, nothing is nested
// deeper than MaxDepth, and every disclosure was used.
func FuzzProcessPayload(f *testing.F) {
	f.Add([]byte(`{"_sd":["jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"],"iss":"x"}`), "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd")
	f.Add([]byte(`{"nationalities":[{"...":"pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo"}]}`), "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0")
	f.Fuzz(func(t *testing.T, payload []byte, disclosures string) {
		var obj map[string]any
		if unmarshalStrict(payload, &obj) != nil || obj == nil {
			return
		}
		var raws []string
		if disclosures != "" {
			raws = strings.Split(disclosures, "~")
		}
		p, err := newProcessor(raws, validityClaim)
		if err != nil {
			return
		}
		out, err := p.object(obj, 1, true)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.finish() != nil {
			return
		}
		if depth(out) > MaxDepth+1 {
			t.Fatalf("processed payload nested %d deep", depth(out))
		}
		if hasSD(out) {
			t.Fatal("_sd left in processed payload")
		}
	})
}

func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

func hasSD(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x[sdKey]; ok {
			return true
		}
		for _, e := range x {
			if hasSD(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasSD(e) {
				return true
			}
		}
	}
	return false
}
