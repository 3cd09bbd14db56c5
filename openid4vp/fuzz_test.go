package openid4vp_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// sameValue is reflect.DeepEqual except that a nil slice equals an empty
// one: an absent optional array and an empty one encode alike (omitempty),
// and both mean "not there".
func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int64:
		return a.Int() == b.Int()
	default:
		return false // no other kind is in a Query
	}
}

// FuzzParseQuery feeds any bytes to ParseQuery: it never panics, what it
// accepts is valid, re-encodes, and parses again to the same query (a
// fixed point after one round); Select and CheckResponse on what it
// accepts never panic.
func FuzzParseQuery(f *testing.F) {
	for _, data := range dcqlExamples(f) {
		f.Add(data)
	}
	f.Add(mustMarshal(f, baseQuery()))
	f.Add([]byte(`{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},` +
		`"claims":[{"path":["nationalities",null,0],"values":[1,true,"DE",-3]}],"multiple":true,` +
		`"require_cryptographic_holder_binding":false,"trusted_authorities":[{"type":"aki","values":["x"]}]}]}`))
	claims := claimsOf(f, arthur)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := openid4vp.ParseQuery(data)
		if err != nil {
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("ParseQuery accepted a query Validate refuses: %v", err)
		}
		enc, err := json.Marshal(q, json.Deterministic(true))
		if err != nil {
			t.Fatalf("an accepted query does not encode: %v", err)
		}
		q2, err := openid4vp.ParseQuery(enc)
		if err != nil {
			t.Fatalf("the re-encoding %s of %q is refused: %v", enc, data, err)
		}
		if !sameValue(reflect.ValueOf(q), reflect.ValueOf(q2)) {
			t.Fatalf("%q re-encodes as %s, which parses to another query:\n%#v\n%#v", data, enc, q, q2)
		}
		enc2, err := json.Marshal(q2, json.Deterministic(true))
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("the second encoding differs: %s, %v\n%s", enc2, err, enc)
		}
		got := map[string][]openid4vp.Presented{}
		for _, c := range q.Credentials {
			for _, cl := range c.Claims {
				_, _ = openid4vp.Select(claims, cl.Path)
			}
			vct := ""
			if c.Meta != nil && len(c.Meta.VCTValues) > 0 {
				vct = c.Meta.VCTValues[0]
			}
			got[c.ID] = []openid4vp.Presented{{VCT: vct, Claims: claims}}
		}
		_ = q.CheckResponse(got)
	})
}

// FuzzParseForm feeds any body, parsed as the response URI parses it
// (url.ParseQuery, refused on error), to ParseForm: it never panics, and
// what it accepts is exactly one of an encrypted response, an error and a
// VP Token within bounds, the form's values carried unchanged.
func FuzzParseForm(f *testing.F) {
	f.Add("vp_token=" + url.QueryEscape(`{"my_credential":["`+presentation+`"]}`) + "&state=eyJhb...6-sVA")
	f.Add("error=invalid_request&error_description=unsupported%20client_id_prefix&state=eyJhb...6-sVA")
	f.Add("response=eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn&state=s")
	f.Add("vp_token=%7B%22a%22%3A%5B%22x%22%5D%7D&vp_token=%7B%7D")
	f.Add("response=&vp_token=%7B%22a%22%3A%5B%22x%22%2C%22y%22%5D%7D")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r, err := openid4vp.ParseForm(form)
		if err != nil {
			return
		}
		for name, v := range form {
			if len(v) > 1 {
				t.Fatalf("accepted %s twice", name)
			}
		}
		if r.State != form.Get("state") {
			t.Fatalf("state %q, form %q", r.State, form.Get("state"))
		}
		switch {
		case r.Encrypted != "":
			if r.Encrypted != form.Get("response") || r.VPToken != nil || r.Error != "" || form.Get("vp_token") != "" || form.Get("error") != "" {
				t.Fatalf("encrypted response with more: %+v from %v", r, form)
			}
		case r.Error != "":
			if r.Error != form.Get("error") || r.ErrorDescription != form.Get("error_description") || r.VPToken != nil || form.Get("vp_token") != "" {
				t.Fatalf("error response with more: %+v from %v", r, form)
			}
		default:
			checkVPToken(t, r)
		}
	})
}

// FuzzParsePayload feeds any plaintext to ParsePayload: it never panics,
// and what it accepts is an error or a VP Token within bounds, never an
// encrypted response.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"vp_token": {"example_jwt_vc": ["eY...QMA"]}}`))
	f.Add([]byte(`{"vp_token":{"pid":["a","b"]},"state":"s1","iss":"https://wallet.example"}`))
	f.Add([]byte(`{"error":"access_denied","error_description":"declined","state":"s1"}`))
	f.Add([]byte(`{"vp_token":"{\"pid\":[\"a\"]}"}`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		r, err := openid4vp.ParsePayload(plain)
		if err != nil {
			return
		}
		if r.Encrypted != "" {
			t.Fatalf("a payload is an encrypted response: %+v", r)
		}
		if r.Error != "" {
			if r.VPToken != nil {
				t.Fatalf("error and vp_token: %+v", r)
			}
			return
		}
		checkVPToken(t, r)
	})
}

// checkVPToken checks §8.1's shape within this package's bounds.
func checkVPToken(t *testing.T, r *openid4vp.Response) {
	t.Helper()
	if len(r.VPToken) == 0 || len(r.VPToken) > openid4vp.MaxQueryItems {
		t.Fatalf("vp_token of %d entries: %+v", len(r.VPToken), r)
	}
	for id, ps := range r.VPToken {
		if len(ps) == 0 || len(ps) > openid4vp.MaxQueryItems {
			t.Fatalf("vp_token %q of %d presentations", id, len(ps))
		}
	}
}
