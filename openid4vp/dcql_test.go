package openid4vp_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// dcqlExamples are the DCQL queries of OpenID4VP 1.0 §6 and Appendix D,
// copied from the specification's repository (testdata/dcql/README.md).
func dcqlExamples(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "dcql", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(out) != 7 {
		t.Fatalf("testdata/dcql holds %d examples, want the specification's 7", len(out))
	}
	return out
}

func mustParseQuery(t testing.TB, data []byte) *openid4vp.Query {
	t.Helper()
	q, err := openid4vp.ParseQuery(data)
	if err != nil {
		t.Fatalf("ParseQuery(%s): %v", data, err)
	}
	return q
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func paths(cl []openid4vp.ClaimsQuery) []openid4vp.Path {
	var out []openid4vp.Path
	for _, c := range cl {
		out = append(out, c.Path)
	}
	return out
}

// Every example of the specification is a valid query (§6).
func TestParseQueryAcceptsSpecExamples(t *testing.T) {
	for name, data := range dcqlExamples(t) {
		t.Run(name, func(t *testing.T) { mustParseQuery(t, data) })
	}
}

// What ParseQuery reads from the examples is what they say.
func TestParseQuerySpecExamplesContent(t *testing.T) {
	ex := dcqlExamples(t)
	const idCred = "https://credentials.example.com/identity_credential"

	t.Run("simple", func(t *testing.T) {
		q := mustParseQuery(t, ex["simple.json"])
		if len(q.Credentials) != 1 || q.CredentialSets != nil {
			t.Fatalf("credentials %d, credential_sets %v", len(q.Credentials), q.CredentialSets)
		}
		c := q.Credentials[0]
		if c.ID != "my_credential" || c.Format != openid4vp.FormatSDJWTVC || c.Multiple || c.RequireHolderBinding != nil {
			t.Errorf("credential query %+v", c)
		}
		if c.Meta == nil || !reflect.DeepEqual(c.Meta.VCTValues, []string{idCred}) {
			t.Errorf("meta %+v", c.Meta)
		}
		want := []openid4vp.Path{{"family_name"}, {"given_name"}, {"address", "street_address"}}
		if got := paths(c.Claims); !reflect.DeepEqual(got, want) {
			t.Errorf("paths %v, want %v", got, want)
		}
		if c.ClaimSets != nil {
			t.Errorf("claim_sets %v", c.ClaimSets)
		}
	})
	t.Run("claims_alternatives", func(t *testing.T) {
		c := mustParseQuery(t, ex["claims_alternatives.json"]).Credentials[0]
		want := [][]string{{"a", "c", "d", "e"}, {"a", "b", "e"}}
		if !reflect.DeepEqual(c.ClaimSets, want) {
			t.Errorf("claim_sets %v, want %v", c.ClaimSets, want)
		}
		var ids []string
		for _, cl := range c.Claims {
			ids = append(ids, cl.ID)
		}
		if !reflect.DeepEqual(ids, []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("claim ids %v", ids)
		}
	})
	t.Run("credentials_alternatives", func(t *testing.T) {
		q := mustParseQuery(t, ex["credentials_alternatives.json"])
		if len(q.Credentials) != 5 || len(q.CredentialSets) != 2 {
			t.Fatalf("credentials %d, credential_sets %d", len(q.Credentials), len(q.CredentialSets))
		}
		s0, s1 := q.CredentialSets[0], q.CredentialSets[1]
		if s0.Required != nil || s1.Required == nil || *s1.Required {
			t.Errorf("required: %v, %v; want absent, false", s0.Required, s1.Required)
		}
		want := [][]string{{"pid"}, {"other_pid"}, {"pid_reduced_cred_1", "pid_reduced_cred_2"}}
		if !reflect.DeepEqual(s0.Options, want) {
			t.Errorf("options %v, want %v", s0.Options, want)
		}
	})
	t.Run("complex_mdoc", func(t *testing.T) {
		q := mustParseQuery(t, ex["complex_mdoc.json"])
		for _, c := range q.Credentials {
			// meta holds only doctype_value, which the dc+sd-jwt Meta does
			// not know: present, with no vct_values.
			if c.Format != "mso_mdoc" || c.Meta == nil || c.Meta.VCTValues != nil {
				t.Errorf("%s: format %q meta %+v", c.ID, c.Format, c.Meta)
			}
		}
	})
	t.Run("value_matching_simple", func(t *testing.T) {
		c := mustParseQuery(t, ex["value_matching_simple.json"]).Credentials[0]
		var got []string
		for _, cl := range c.Claims {
			if cl.Values == nil {
				got = append(got, "absent")
				continue
			}
			got = append(got, string(mustMarshal(t, cl.Values)))
		}
		want := []string{`["Doe"]`, "absent", "absent", `["90210","90211"]`}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("values %v, want %v", got, want)
		}
	})
}

// baseQuery is a valid query using every structure Validate checks: two
// credential queries, claims with ids and claim_sets, credential_sets.
func baseQuery() map[string]any {
	return map[string]any{
		"credentials": []any{
			map[string]any{
				"id": "pid", "format": "dc+sd-jwt",
				"meta": map[string]any{"vct_values": []any{"urn:eudi:pid:1"}},
				"claims": []any{
					map[string]any{"id": "a", "path": []any{"family_name"}, "values": []any{"Doe"}},
					map[string]any{"id": "b", "path": []any{"address", "locality"}},
				},
				"claim_sets":          []any{[]any{"a", "b"}, []any{"a"}},
				"trusted_authorities": []any{map[string]any{"type": "aki", "values": []any{"s9tIpPmhxdiuNkHMEWNpYim8S8Y"}}},
			},
			map[string]any{"id": "mdl", "format": "mso_mdoc", "meta": map[string]any{"doctype_value": "org.iso.18013.5.1.mDL"}},
		},
		"credential_sets": []any{map[string]any{"options": []any{[]any{"pid"}, []any{"mdl"}}}},
	}
}

func cred(q map[string]any, i int) map[string]any {
	return q["credentials"].([]any)[i].(map[string]any)
}

func claim(q map[string]any, i, j int) map[string]any {
	return cred(q, i)["claims"].([]any)[j].(map[string]any)
}

func set0(q map[string]any) map[string]any { return q["credential_sets"].([]any)[0].(map[string]any) }

func mdlQueries(n int) []any {
	var out []any
	for i := range n {
		out = append(out, map[string]any{"id": fmt.Sprintf("m%d", i), "format": "mso_mdoc", "meta": map[string]any{}})
	}
	return out
}

func claimQueries(n int) []any {
	var out []any
	for i := range n {
		out = append(out, map[string]any{"path": []any{fmt.Sprintf("c%d", i)}})
	}
	return out
}

// ParseQuery refuses each structural error of §6, §7 and §B.3.5 that
// Validate names, and the bounds of this package.
func TestParseQueryRefuses(t *testing.T) {
	if _, err := openid4vp.ParseQuery(mustMarshal(t, baseQuery())); err != nil {
		t.Fatalf("the base query is refused: %v", err)
	}
	long := strings.Repeat("a", 65)
	cases := []struct {
		name string
		edit func(q map[string]any)
	}{
		// §6: credentials is a REQUIRED non-empty array.
		{"credentials absent", func(q map[string]any) { delete(q, "credentials") }},
		{"credentials empty", func(q map[string]any) { q["credentials"] = []any{} }},
		{"credentials null", func(q map[string]any) { q["credentials"] = nil }},
		{"credentials an object", func(q map[string]any) { q["credentials"] = cred(q, 0) }},
		{"credentials over MaxQueryItems", func(q map[string]any) {
			q["credentials"] = mdlQueries(openid4vp.MaxQueryItems + 1)
			delete(q, "credential_sets")
		}},
		// §6.1 id: REQUIRED, non-empty, [A-Za-z0-9_-], unique.
		{"id absent", func(q map[string]any) { delete(cred(q, 0), "id") }},
		{"id empty", func(q map[string]any) { cred(q, 0)["id"] = "" }},
		{"id with a space", func(q map[string]any) { cred(q, 0)["id"] = "p id" }},
		{"id with a dot", func(q map[string]any) { cred(q, 0)["id"] = "p.id" }},
		{"id non-ASCII letter", func(q map[string]any) { cred(q, 0)["id"] = "pïd" }},
		{"id a number", func(q map[string]any) { cred(q, 0)["id"] = 7 }},
		{"id over 64 characters (this package's bound)", func(q map[string]any) { cred(q, 1)["id"] = long }},
		{"id twice", func(q map[string]any) { cred(q, 1)["id"] = "pid" }},
		// §6.1 format and meta: REQUIRED.
		{"format absent", func(q map[string]any) { delete(cred(q, 1), "format") }},
		{"format empty", func(q map[string]any) { cred(q, 1)["format"] = "" }},
		{"format a number", func(q map[string]any) { cred(q, 1)["format"] = 1 }},
		{"meta absent", func(q map[string]any) { delete(cred(q, 1), "meta") }},
		{"meta null", func(q map[string]any) { cred(q, 1)["meta"] = nil }},
		{"meta a string", func(q map[string]any) { cred(q, 1)["meta"] = "x" }},
		// §B.3.5: vct_values REQUIRED, non-empty array of strings.
		{"dc+sd-jwt meta without vct_values", func(q map[string]any) { cred(q, 0)["meta"] = map[string]any{} }},
		{"dc+sd-jwt vct_values empty", func(q map[string]any) { cred(q, 0)["meta"] = map[string]any{"vct_values": []any{}} }},
		{"vct_values of numbers", func(q map[string]any) { cred(q, 0)["meta"] = map[string]any{"vct_values": []any{1}} }},
		{"vct_values a string", func(q map[string]any) { cred(q, 0)["meta"] = map[string]any{"vct_values": "urn:eudi:pid:1"} }},
		// §6.1 multiple and require_cryptographic_holder_binding: booleans.
		{"multiple a string", func(q map[string]any) { cred(q, 0)["multiple"] = "true" }},
		{"require_cryptographic_holder_binding a string", func(q map[string]any) {
			cred(q, 0)["require_cryptographic_holder_binding"] = "false"
		}},
		// §6.1.1 trusted_authorities: non-empty; type and non-empty values.
		{"trusted_authorities empty", func(q map[string]any) { cred(q, 0)["trusted_authorities"] = []any{} }},
		{"trusted_authority without type", func(q map[string]any) {
			cred(q, 0)["trusted_authorities"] = []any{map[string]any{"values": []any{"x"}}}
		}},
		{"trusted_authority without values", func(q map[string]any) {
			cred(q, 0)["trusted_authorities"] = []any{map[string]any{"type": "aki"}}
		}},
		{"trusted_authority values empty", func(q map[string]any) {
			cred(q, 0)["trusted_authorities"] = []any{map[string]any{"type": "aki", "values": []any{}}}
		}},
		// §6.1 claims: non-empty when present.
		{"claims empty", func(q map[string]any) { delete(cred(q, 0), "claim_sets"); cred(q, 0)["claims"] = []any{} }},
		{"the same claim twice (§6.1: verifiers MUST NOT)", func(q map[string]any) {
			delete(cred(q, 0), "claim_sets")
			cred(q, 0)["claims"] = []any{
				map[string]any{"path": []any{"address", "locality"}},
				map[string]any{"path": []any{"address", "locality"}},
			}
		}},
		{"claims over MaxQueryItems", func(q map[string]any) {
			delete(cred(q, 0), "claim_sets")
			cred(q, 0)["claims"] = claimQueries(openid4vp.MaxQueryItems + 1)
		}},
		// §6.4.1: claim_sets MUST NOT be present without claims; it names
		// claims by id.
		{"claim_sets without claims", func(q map[string]any) { delete(cred(q, 0), "claims") }},
		{"claim_sets naming an unknown id", func(q map[string]any) { cred(q, 0)["claim_sets"] = []any{[]any{"a", "z"}} }},
		{"claim_sets naming an id of another credential query", func(q map[string]any) {
			cred(q, 1)["claims"] = []any{map[string]any{"id": "z", "path": []any{"x"}}}
			cred(q, 0)["claim_sets"] = []any{[]any{"z"}}
		}},
		{"claim_sets empty", func(q map[string]any) { cred(q, 0)["claim_sets"] = []any{} }},
		{"claim_sets with an empty option", func(q map[string]any) { cred(q, 0)["claim_sets"] = []any{[]any{"a"}, []any{}} }},
		{"claim_sets of strings", func(q map[string]any) { cred(q, 0)["claim_sets"] = []any{"a"} }},
		// §6.3 id: REQUIRED with claim_sets, well-formed, unique.
		{"claim without id under claim_sets", func(q map[string]any) { delete(claim(q, 0, 1), "id") }},
		{"claim id twice", func(q map[string]any) { claim(q, 0, 1)["id"] = "a" }},
		{"claim id with a slash", func(q map[string]any) { claim(q, 0, 1)["id"] = "a/b" }},
		{"claim id empty", func(q map[string]any) { claim(q, 0, 1)["id"] = "" }},
		// §6.2: options REQUIRED, non-empty, of non-empty arrays of known ids.
		{"credential_sets empty", func(q map[string]any) { q["credential_sets"] = []any{} }},
		{"credential_sets naming an unknown id", func(q map[string]any) {
			set0(q)["options"] = []any{[]any{"pid"}, []any{"nope"}}
		}},
		{"credential_sets naming a claim id", func(q map[string]any) { set0(q)["options"] = []any{[]any{"a"}} }},
		{"credential_set without options", func(q map[string]any) { delete(set0(q), "options") }},
		{"credential_set options empty", func(q map[string]any) { set0(q)["options"] = []any{} }},
		{"credential_set with an empty option", func(q map[string]any) { set0(q)["options"] = []any{[]any{}} }},
		{"credential_set required a string", func(q map[string]any) { set0(q)["required"] = "no" }},
		// §6.3 path, §7: a non-empty array of strings, nulls and
		// non-negative integers.
		{"path absent", func(q map[string]any) { delete(claim(q, 0, 0), "path") }},
		{"path empty", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{} }},
		{"path a string", func(q map[string]any) { claim(q, 0, 0)["path"] = "family_name" }},
		{"path null", func(q map[string]any) { claim(q, 0, 0)["path"] = nil }},
		{"path negative index", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{"nationalities", -1} }},
		{"path fractional index", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{"nationalities", 1.5} }},
		{"path object element", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{"a", map[string]any{}} }},
		{"path array element", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{"a", []any{0}} }},
		{"path boolean element", func(q map[string]any) { claim(q, 0, 0)["path"] = []any{"a", true} }},
		{"path of 9 elements (this package's bound)", func(q map[string]any) {
			claim(q, 0, 0)["path"] = []any{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
		}},
		// §6.3 values: a non-empty array of strings, integers or booleans.
		{"values empty", func(q map[string]any) { claim(q, 0, 0)["values"] = []any{} }},
		{"values a string", func(q map[string]any) { claim(q, 0, 0)["values"] = "Doe" }},
		{"values with a fraction", func(q map[string]any) { claim(q, 0, 0)["values"] = []any{1.5} }},
		{"values with null", func(q map[string]any) { claim(q, 0, 0)["values"] = []any{nil} }},
		{"values with an object", func(q map[string]any) { claim(q, 0, 0)["values"] = []any{map[string]any{}} }},
		{"values with an array", func(q map[string]any) { claim(q, 0, 0)["values"] = []any{[]any{"Doe"}} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := baseQuery()
			c.edit(q)
			data := mustMarshal(t, q)
			if got, err := openid4vp.ParseQuery(data); err == nil {
				t.Errorf("ParseQuery(%s) = %+v, want an error", data, got)
			}
		})
	}
}

// Cases only the JSON text can express: number forms, duplicate member
// names, syntax, size.
func TestParseQueryRefusesText(t *testing.T) {
	const tmpl = `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},` +
		`"claims":[{"path":["nationalities",%s],"values":[%s]}]}]}`
	valid := fmt.Sprintf(tmpl, "0", `"DE"`)
	mustParseQuery(t, []byte(valid))
	for _, ok := range []struct{ index, value string }{{"1", "1"}, {"null", "-7"}, {"2147483647", "true"}, {"0", "false"}} {
		mustParseQuery(t, fmt.Appendf(nil, tmpl, ok.index, ok.value))
	}
	cases := map[string]string{
		// §7: indices are non-negative integers, written as such.
		"index 1.0":       fmt.Sprintf(tmpl, "1.0", `"DE"`),
		"index 1e0":       fmt.Sprintf(tmpl, "1e0", `"DE"`),
		"index -1":        fmt.Sprintf(tmpl, "-1", `"DE"`),
		"index 0.5":       fmt.Sprintf(tmpl, "0.5", `"DE"`),
		"index an object": fmt.Sprintf(tmpl, `{"i":1}`, `"DE"`),
		// §6.3: values are strings, integers or booleans.
		"value 1.5":          fmt.Sprintf(tmpl, "0", "1.5"),
		"value null":         fmt.Sprintf(tmpl, "0", "null"),
		"value 1e400":        fmt.Sprintf(tmpl, "0", "1e400"),
		"value beyond int64": fmt.Sprintf(tmpl, "0", "9223372036854775808"),
		// Duplicate member names are refused at every level (the package
		// doc: strict JSON).
		"duplicate credentials": `{"credentials":[],"credentials":[{"id":"pid","format":"mso_mdoc","meta":{}}]}`,
		"duplicate id":          `{"credentials":[{"id":"x","id":"pid","format":"mso_mdoc","meta":{}}]}`,
		"duplicate format":      `{"credentials":[{"id":"pid","format":"mso_mdoc","format":"mso_mdoc","meta":{}}]}`,
		"duplicate meta member": `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["a"],"vct_values":["b"]}}]}`,
		"duplicate path": `{"credentials":[{"id":"pid","format":"mso_mdoc","meta":{},` +
			`"claims":[{"path":["a"],"path":["b"]}]}]}`,
		"duplicate unknown member": `{"x":1,"x":2,"credentials":[{"id":"pid","format":"mso_mdoc","meta":{}}]}`,
		// RFC 8259 member names are case-sensitive: these name no
		// credentials, no id.
		"Credentials": `{"Credentials":[{"id":"pid","format":"mso_mdoc","meta":{}}]}`,
		"ID":          `{"credentials":[{"ID":"pid","format":"mso_mdoc","meta":{}}]}`,
		"Meta":        `{"credentials":[{"id":"pid","format":"mso_mdoc","Meta":{}}]}`,
		// Not a query at all.
		"empty":         ``,
		"truncated":     valid[:len(valid)-1],
		"trailing data": valid + ` {}`,
		"an array":      `[` + valid + `]`,
		"null":          `null`,
		"invalid UTF-8": strings.Replace(valid, "pid", "p\xffd", 1),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if q, err := openid4vp.ParseQuery([]byte(data)); err == nil {
				t.Errorf("ParseQuery(%s) = %+v, want an error", data, q)
			}
		})
	}
}

// The size bound comes first: a valid query padded to MaxQueryBytes is
// read, one byte more is not.
func TestParseQueryMaxQueryBytes(t *testing.T) {
	base := mustMarshal(t, baseQuery())
	at := append(bytes.Clone(base), bytes.Repeat([]byte(" "), openid4vp.MaxQueryBytes-len(base))...)
	if _, err := openid4vp.ParseQuery(at); err != nil {
		t.Errorf("a query of MaxQueryBytes is refused: %v", err)
	}
	if _, err := openid4vp.ParseQuery(append(at, ' ')); err == nil {
		t.Error("a query over MaxQueryBytes is read")
	}
}

// What the specification allows beyond the examples is accepted: unknown
// members ignored (§6), the bounds reached but not passed, every kind of
// path element and value.
func TestParseQueryAccepts(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(q map[string]any)
		check func(t *testing.T, q *openid4vp.Query)
	}{
		{"unknown members at every level", func(q map[string]any) {
			q["future"] = map[string]any{"x": 1}
			cred(q, 0)["future"] = []any{1}
			cred(q, 0)["meta"].(map[string]any)["future"] = true
			claim(q, 0, 0)["future"] = "x"
			set0(q)["purpose"] = "age check"
		}, nil},
		{"id of 64 characters, every allowed character", func(q map[string]any) {
			cred(q, 1)["id"] = strings.Repeat("aZ09_-", 10) + "abcd"
			set0(q)["options"] = []any{[]any{"pid"}}
		}, nil},
		{"MaxQueryItems credentials", func(q map[string]any) {
			q["credentials"] = mdlQueries(openid4vp.MaxQueryItems)
			delete(q, "credential_sets")
		}, nil},
		{"MaxQueryItems claims", func(q map[string]any) {
			delete(cred(q, 0), "claim_sets")
			cred(q, 0)["claims"] = claimQueries(openid4vp.MaxQueryItems)
		}, nil},
		{"claims without claim_sets need no ids", func(q map[string]any) {
			delete(cred(q, 0), "claim_sets")
			delete(claim(q, 0, 0), "id")
			delete(claim(q, 0, 1), "id")
		}, nil},
		{"meta empty for a format other than dc+sd-jwt", func(q map[string]any) { cred(q, 1)["meta"] = map[string]any{} }, nil},
		{"no claims", func(q map[string]any) { delete(cred(q, 0), "claims"); delete(cred(q, 0), "claim_sets") }, nil},
		{"path of strings, nulls and indices", func(q map[string]any) {
			claim(q, 0, 1)["path"] = []any{"degrees", nil, "type", 0, "x", nil, 3, "y"}
		}, func(t *testing.T, q *openid4vp.Query) {
			want := openid4vp.Path{"degrees", nil, "type", 0, "x", nil, 3, "y"}
			if got := q.Credentials[0].Claims[1].Path; !reflect.DeepEqual(got, want) {
				t.Errorf("path %#v, want %#v", got, want)
			}
		}},
		{"values of each type", func(q map[string]any) {
			claim(q, 0, 0)["values"] = []any{"Doe", 42, -1, true, false}
		}, func(t *testing.T, q *openid4vp.Query) {
			if got := string(mustMarshal(t, q.Credentials[0].Claims[0].Values)); got != `["Doe",42,-1,true,false]` {
				t.Errorf("values %s", got)
			}
		}},
		{"flags", func(q map[string]any) {
			cred(q, 0)["multiple"] = true
			cred(q, 0)["require_cryptographic_holder_binding"] = false
			set0(q)["required"] = false
		}, func(t *testing.T, q *openid4vp.Query) {
			c := q.Credentials[0]
			if !c.Multiple || c.RequireHolderBinding == nil || *c.RequireHolderBinding {
				t.Errorf("multiple %v, require_cryptographic_holder_binding %v", c.Multiple, c.RequireHolderBinding)
			}
			if r := q.CredentialSets[0].Required; r == nil || *r {
				t.Errorf("required %v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := baseQuery()
			c.edit(q)
			got := mustParseQuery(t, mustMarshal(t, q))
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

// arthur is the JSON-based credential of §7.3.
const arthur = `{
  "name": "Arthur Dent",
  "address": {
    "street_address": "42 Market Street",
    "locality": "Milliways",
    "postal_code": "12345"
  },
  "degrees": [
    {
      "type": "Bachelor of Science",
      "university": "University of Betelgeuse"
    },
    {
      "type": "Master of Science",
      "university": "University of Betelgeuse"
    }
  ],
  "nationalities": ["British", "Betelgeusian"]
}`

func claimsOf(t testing.TB, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// selectSafely is Select, a panic reported as a failure so that the other
// cases still run.
func selectSafely(t *testing.T, claims map[string]any, p openid4vp.Path) (sel []any, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Select(%#v) panics: %v", p, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return openid4vp.Select(claims, p)
}

// Select processes a claims path pointer as §7.1.1 says, on the example of
// §7.3 and on the cases its steps name.
func TestSelect(t *testing.T) {
	ex := claimsOf(t, arthur)
	mixed := claimsOf(t, `{
		"items": [{"a": 1}, {"b": 2}, {"a": 3}],
		"matrix": [[1, 2], [3], []],
		"nothing": null,
		"objs": [{"a": {"b": "x"}}, {"a": "flat"}]
	}`)
	cases := []struct {
		name   string
		claims map[string]any
		path   openid4vp.Path
		want   []any // nil: an error
	}{
		// §7.3, each example.
		{"§7.3 name", ex, openid4vp.Path{"name"}, []any{"Arthur Dent"}},
		{"§7.3 address", ex, openid4vp.Path{"address"}, []any{ex["address"]}},
		{"§7.3 address.street_address", ex, openid4vp.Path{"address", "street_address"}, []any{"42 Market Street"}},
		{"§7.3 degrees[*].type", ex, openid4vp.Path{"degrees", nil, "type"}, []any{"Bachelor of Science", "Master of Science"}},
		{"§7.3 nationalities[1]", ex, openid4vp.Path{"nationalities", 1}, []any{"Betelgeusian"}},
		// More of the same credential.
		{"an index then a key", ex, openid4vp.Path{"degrees", 0, "type"}, []any{"Bachelor of Science"}},
		{"null over an array of strings", ex, openid4vp.Path{"nationalities", nil}, []any{"British", "Betelgeusian"}},
		{"an array itself", ex, openid4vp.Path{"nationalities"}, []any{ex["nationalities"]}},
		// Step 2.1: a missing key removes the element; step 3: an empty
		// selection is an error.
		{"missing key", ex, openid4vp.Path{"birthdate"}, nil},
		{"missing nested key", ex, openid4vp.Path{"address", "country"}, nil},
		{"missing keys removed under null", mixed, openid4vp.Path{"items", nil, "a"}, []any{1.0, 3.0}},
		{"every key missing under null", mixed, openid4vp.Path{"items", nil, "c"}, nil},
		{"a null claim is selected", mixed, openid4vp.Path{"nothing"}, []any{nil}},
		// Step 2.1: a key into a non-object is an error.
		{"key into a string", ex, openid4vp.Path{"name", "first"}, nil},
		{"key into an array", ex, openid4vp.Path{"degrees", "type"}, nil},
		{"key into strings under null", ex, openid4vp.Path{"nationalities", nil, "x"}, nil},
		{"key into a null claim", mixed, openid4vp.Path{"nothing", "x"}, nil},
		{"key into one non-object among objects", mixed, openid4vp.Path{"objs", nil, "a", "b"}, nil},
		// Step 2.2: null over non-arrays is an error.
		{"null over an object", ex, openid4vp.Path{"address", nil}, nil},
		{"null over a string", ex, openid4vp.Path{"name", nil}, nil},
		{"null over the root", ex, openid4vp.Path{nil}, nil},
		{"nulls over nested arrays", mixed, openid4vp.Path{"matrix", nil, nil}, []any{1.0, 2.0, 3.0}},
		// Step 2.3: an index into a non-array is an error; a missing index
		// removes the array.
		{"index into an object", ex, openid4vp.Path{"address", 0}, nil},
		{"index into a string", ex, openid4vp.Path{"name", 0}, nil},
		{"index into the root", ex, openid4vp.Path{0}, nil},
		{"index past the end", ex, openid4vp.Path{"nationalities", 2}, nil},
		{"index past the end of some arrays", mixed, openid4vp.Path{"matrix", nil, 1}, []any{2.0}},
		// Step 2.4: anything else is an error — a Path is []any, so a
		// caller can build one that never came through ParseQuery.
		{"negative index", ex, openid4vp.Path{"nationalities", -1}, nil},
		{"float element", ex, openid4vp.Path{"nationalities", 1.0}, nil},
		{"int64 element", ex, openid4vp.Path{"nationalities", int64(1)}, nil},
		{"boolean element", ex, openid4vp.Path{true}, nil},
		{"object element", ex, openid4vp.Path{map[string]any{}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := selectSafely(t, c.claims, c.path)
			switch {
			case c.want == nil && err == nil:
				t.Errorf("Select(%#v) = %#v, want an error", c.path, got)
			case c.want != nil && err != nil:
				t.Errorf("Select(%#v): %v, want %#v", c.path, err, c.want)
			case c.want != nil && !reflect.DeepEqual(got, c.want):
				t.Errorf("Select(%#v) = %#v, want %#v", c.path, got, c.want)
			}
		})
	}
}

// Select reads claims; it never changes them.
func TestSelectLeavesClaimsAlone(t *testing.T) {
	ex := claimsOf(t, arthur)
	before := string(mustMarshal(t, ex))
	for _, p := range []openid4vp.Path{{"degrees", nil, "type"}, {"nationalities", nil}, {"address"}} {
		if _, err := openid4vp.Select(ex, p); err != nil {
			t.Fatal(err)
		}
	}
	if after := string(mustMarshal(t, ex)); after != before {
		t.Errorf("claims changed:\n%s\n%s", before, after)
	}
}

const pidVCT = "urn:eudi:pid:1"

func pid(t testing.TB, claims string) openid4vp.Presented {
	t.Helper()
	return openid4vp.Presented{VCT: pidVCT, Claims: claimsOf(t, claims)}
}

type checkCase struct {
	name string
	got  map[string][]openid4vp.Presented
	ok   bool
}

func runCheck(t *testing.T, query string, cases []checkCase) {
	t.Helper()
	q := mustParseQuery(t, []byte(query))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := q.CheckResponse(c.got)
			if c.ok && err != nil {
				t.Errorf("CheckResponse: %v, want nil", err)
			}
			if !c.ok && err == nil {
				t.Error("CheckResponse = nil, want an error")
			}
		})
	}
}

// §8.6 step 1 and §8.1: every entry names a credential query, with one
// presentation unless multiple; step 2.2: each satisfies its query.
func TestCheckResponseEntries(t *testing.T) {
	query := `{"credentials":[
		{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `","urn:eudi:pid:de:1"]},
		 "claims":[{"path":["family_name"]},{"path":["address","locality"]}]},
		{"id":"many","format":"dc+sd-jwt","multiple":true,"meta":{"vct_values":["` + pidVCT + `"]}}
	]}`
	full := pid(t, `{"family_name":"Doe","address":{"locality":"Berlin"},"age":40}`)
	runCheck(t, query, []checkCase{
		{"each query answered", map[string][]openid4vp.Presented{"pid": {full}, "many": {full}}, true},
		{"the other vct of vct_values", map[string][]openid4vp.Presented{
			"pid":  {{VCT: "urn:eudi:pid:de:1", Claims: full.Claims}},
			"many": {full},
		}, true},
		{"multiple with two", map[string][]openid4vp.Presented{"pid": {full}, "many": {full, full}}, true},
		{"unknown query id", map[string][]openid4vp.Presented{"pid": {full}, "many": {full}, "other": {full}}, false},
		{"two presentations without multiple", map[string][]openid4vp.Presented{"pid": {full, full}, "many": {full}}, false},
		{"no presentation in an entry", map[string][]openid4vp.Presented{"pid": {}, "many": {full}}, false},
		{"vct not in vct_values", map[string][]openid4vp.Presented{
			"pid":  {{VCT: "urn:eudi:pid:fr:1", Claims: full.Claims}},
			"many": {full},
		}, false},
		{"vct not in vct_values for one of multiple", map[string][]openid4vp.Presented{
			"pid":  {full},
			"many": {full, {VCT: "urn:other", Claims: full.Claims}},
		}, false},
		{"a claim missing", map[string][]openid4vp.Presented{"pid": {pid(t, `{"family_name":"Doe"}`)}, "many": {full}}, false},
		{"a nested claim missing", map[string][]openid4vp.Presented{
			"pid":  {pid(t, `{"family_name":"Doe","address":{"country":"DE"}}`)},
			"many": {full},
		}, false},
		{"a claim of the wrong shape", map[string][]openid4vp.Presented{
			"pid":  {pid(t, `{"family_name":"Doe","address":"Berlin"}`)},
			"many": {full},
		}, false},
		// §8.6 step 3, §6.4.2: without credential_sets every query is
		// required.
		{"a query unanswered without credential_sets", map[string][]openid4vp.Presented{"pid": {full}}, false},
		{"nothing", map[string][]openid4vp.Presented{}, false},
	})
}

// §6.3, §6.4.1: with values, the claim's type and value both match one of
// them — a JSON number 1 (or 1.0, the same number) for 1, never the string
// "1", and no boolean for a number.
func TestCheckResponseValues(t *testing.T) {
	query := func(values string) string {
		return `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]},` +
			`"claims":[{"path":["v"],"values":` + values + `}]}]}`
	}
	cases := []struct {
		values, claim string
		ok            bool
	}{
		{`["Doe"]`, `"Doe"`, true},
		{`["Doe","Smith"]`, `"Smith"`, true},
		{`["Doe"]`, `"doe"`, false},
		{`["Doe"]`, `["Doe"]`, false},
		{`[1]`, `1`, true},
		{`[1]`, `1.0`, true},
		{`[1]`, `1e0`, true},
		{`[1]`, `"1"`, false},
		{`["1"]`, `1`, false},
		{`[1]`, `1.5`, false},
		{`[1]`, `true`, false},
		{`[0]`, `false`, false},
		{`[-3]`, `-3`, true},
		{`[1]`, `2`, false},
		{`[18,21]`, `21`, true},
		// Exactly: 2^53+1 is not the claim 2^53 (which a float64 holds
		// exactly), though float64(2^53+1) rounds to it.
		{`[9007199254740993]`, `9007199254740992`, false},
		{`[9007199254740992]`, `9007199254740992`, true},
		{`[true]`, `true`, true},
		{`[true]`, `false`, false},
		{`[false]`, `false`, true},
		{`[true]`, `"true"`, false},
		{`[true]`, `1`, false},
		{`["true"]`, `true`, false},
		{`[1]`, `null`, false},
		{`["Doe"]`, `null`, false},
		{`[1]`, `{}`, false},
	}
	for _, c := range cases {
		t.Run(c.values+" against "+c.claim, func(t *testing.T) {
			q := mustParseQuery(t, []byte(query(c.values)))
			err := q.CheckResponse(map[string][]openid4vp.Presented{"pid": {pid(t, `{"v":`+c.claim+`}`)}})
			if c.ok != (err == nil) {
				t.Errorf("CheckResponse: %v, want ok %v", err, c.ok)
			}
		})
	}
	// Under null, one selected value matching is enough.
	q := mustParseQuery(t, []byte(`{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["`+pidVCT+`"]},`+
		`"claims":[{"path":["nationalities",null],"values":["DE"]}]}]}`))
	if err := q.CheckResponse(map[string][]openid4vp.Presented{"pid": {pid(t, `{"nationalities":["FR","DE"]}`)}}); err != nil {
		t.Errorf("one of two nationalities matching: %v", err)
	}
	if err := q.CheckResponse(map[string][]openid4vp.Presented{"pid": {pid(t, `{"nationalities":["FR","IT"]}`)}}); err == nil {
		t.Error("no nationality matching is accepted")
	}
}

// §6.4.1: with claim_sets, one option satisfied — the first or a later one
// — is enough; none is not.
func TestCheckResponseClaimSets(t *testing.T) {
	query := `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]},
		"claims":[
			{"id":"over18","path":["age_over_18"],"values":[true]},
			{"id":"birthdate","path":["birthdate"]},
			{"id":"name","path":["family_name"]}
		],
		"claim_sets":[["over18"],["birthdate","name"]]}]}`
	one := func(claims string) map[string][]openid4vp.Presented {
		return map[string][]openid4vp.Presented{"pid": {pid(t, claims)}}
	}
	runCheck(t, query, []checkCase{
		{"first option", one(`{"age_over_18":true}`), true},
		{"later option", one(`{"birthdate":"1990-01-01","family_name":"Doe"}`), true},
		{"both options", one(`{"age_over_18":true,"birthdate":"1990-01-01","family_name":"Doe"}`), true},
		{"part of the later option", one(`{"birthdate":"1990-01-01"}`), false},
		{"first option with a value not matching", one(`{"age_over_18":false}`), false},
		{"no option", one(`{"nationality":"DE"}`), false},
	})
}

// §6.4.2, §8.6 step 3: with credential_sets, every required set (required
// absent or true) has an option answered in full; optional sets need
// nothing.
func TestCheckResponseCredentialSets(t *testing.T) {
	query := `{"credentials":[
		{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}},
		{"id":"other_pid","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}},
		{"id":"reduced_1","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}},
		{"id":"reduced_2","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}},
		{"id":"loyalty","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}},
		{"id":"badge","format":"dc+sd-jwt","meta":{"vct_values":["` + pidVCT + `"]}}
	],
	"credential_sets":[
		{"options":[["pid"],["other_pid"],["reduced_1","reduced_2"]]},
		{"required":false,"options":[["loyalty"]]},
		{"required":true,"options":[["badge"]]}
	]}`
	p := pid(t, `{}`)
	got := func(ids ...string) map[string][]openid4vp.Presented {
		m := map[string][]openid4vp.Presented{}
		for _, id := range ids {
			m[id] = []openid4vp.Presented{p}
		}
		return m
	}
	runCheck(t, query, []checkCase{
		{"first option", got("pid", "badge"), true},
		{"second option", got("other_pid", "badge"), true},
		{"two-credential option", got("reduced_1", "reduced_2", "badge"), true},
		{"with the optional set", got("pid", "loyalty", "badge"), true},
		{"half of the two-credential option", got("reduced_1", "badge"), false},
		{"required set (required absent) unanswered", got("loyalty", "badge"), false},
		{"required set (required true) unanswered", got("pid"), false},
		{"only the optional set", got("loyalty"), false},
		{"an answer not satisfying its query", map[string][]openid4vp.Presented{
			"pid": {p}, "badge": {p}, "loyalty": {{VCT: "urn:other", Claims: map[string]any{}}},
		}, false},
	})
}
