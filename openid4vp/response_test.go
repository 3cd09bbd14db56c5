package openid4vp_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// presentation stands for a compact SD-JWT+KB (§B.3.6); ParseForm and
// ParsePayload only carry it.
const presentation = "eyJhbGciOiJFUzI1NiJ9.eyJ2Y3QiOiJ1cm4ifQ.c2ln~WyJzIiwiZ2l2ZW5fbmFtZSIsIkpvaG4iXQ~eyJhbGciOiJFUzI1NiJ9.e30.c2ln"

func form(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return v
}

// A direct_post body (§8.2) as the wallet sends it: a VP Token (§8.1) and
// the request's state, read into the response.
func TestParseFormVPToken(t *testing.T) {
	r, err := openid4vp.ParseForm(form(
		"vp_token", `{"my_credential":["`+presentation+`"],"other":["a","b"]}`,
		"state", "eyJhb...6-sVA",
	))
	if err != nil {
		t.Fatal(err)
	}
	want := &openid4vp.Response{
		VPToken: map[string][]string{"my_credential": {presentation}, "other": {"a", "b"}},
		State:   "eyJhb...6-sVA",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("ParseForm = %+v, want %+v", r, want)
	}
}

// §8.2: the form is parsed from the raw body as a server would, and
// parameters it does not know are ignored ("The Client MUST ignore any
// unrecognized parameters", §8.1).
func TestParseFormRawBody(t *testing.T) {
	body := "vp_token=" + url.QueryEscape(`{"pid":["`+presentation+`"]}`) + "&state=s1&iss=https%3A%2F%2Fwallet.example&presentation_submission=x"
	f, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	r, err := openid4vp.ParseForm(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != "s1" || !reflect.DeepEqual(r.VPToken, map[string][]string{"pid": {presentation}}) {
		t.Errorf("ParseForm = %+v", r)
	}
}

// §8.5 and RFC 6749 §4.1.2.1: an error response, its description and state
// kept, no VP Token.
func TestParseFormError(t *testing.T) {
	r, err := openid4vp.ParseForm(form("error", openid4vp.ErrAccessDenied, "error_description", "the user declined", "state", "s1"))
	if err != nil {
		t.Fatal(err)
	}
	want := &openid4vp.Response{Error: openid4vp.ErrAccessDenied, ErrorDescription: "the user declined", State: "s1"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("ParseForm = %+v, want %+v", r, want)
	}
}

// §8.3.1: direct_post.jwt carries response alone (and the state, which
// ParseForm keeps); the rest stays for ParsePayload.
func TestParseFormEncrypted(t *testing.T) {
	const jwe = "eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn"
	for _, c := range []struct {
		name string
		f    url.Values
		want *openid4vp.Response
	}{
		{"response alone", form("response", jwe), &openid4vp.Response{Encrypted: jwe}},
		{"response and state", form("response", jwe, "state", "s1"), &openid4vp.Response{Encrypted: jwe, State: "s1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := openid4vp.ParseForm(c.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, c.want) {
				t.Errorf("ParseForm = %+v, want %+v", r, c.want)
			}
		})
	}
}

// RFC 6749 §3.1: a parameter sent without a value is treated as if it
// were omitted.
func TestParseFormEmptyParameters(t *testing.T) {
	ok := `{"pid":["` + presentation + `"]}`
	for name, f := range map[string]url.Values{
		"empty response":          form("response", "", "vp_token", ok),
		"empty error":             form("error", "", "vp_token", ok),
		"empty error_description": form("error_description", "", "vp_token", ok),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := openid4vp.ParseForm(f)
			if err != nil {
				t.Fatal(err)
			}
			if r.Encrypted != "" || r.Error != "" || !reflect.DeepEqual(r.VPToken, map[string][]string{"pid": {presentation}}) {
				t.Errorf("ParseForm = %+v", r)
			}
		})
	}
}

// Each malformed body is refused.
func TestParseFormRefuses(t *testing.T) {
	ok := `{"pid":["` + presentation + `"]}`
	many := func(n, per int) string {
		m := make([]string, n)
		for i := range m {
			m[i] = fmt.Sprintf(`"q%d":[%s]`, i, strings.TrimSuffix(strings.Repeat(`"p",`, per), ","))
		}
		return "{" + strings.Join(m, ",") + "}"
	}
	if _, err := openid4vp.ParseForm(form("vp_token", many(openid4vp.MaxQueryItems, openid4vp.MaxQueryItems))); err != nil {
		t.Fatalf("MaxQueryItems entries of MaxQueryItems presentations refused: %v", err)
	}
	cases := map[string]url.Values{
		// RFC 6749 §3.1: parameters MUST NOT be included more than once.
		"vp_token twice": form("vp_token", ok, "vp_token", ok),
		"state twice":    form("vp_token", ok, "state", "a", "state", "b"),
		"error twice":    form("error", "access_denied", "error", "access_denied"),
		"response twice": form("response", "a..b.c.d", "response", "a..b.c.d"),
		// §8.3.1: the encrypted response holds the other parameters.
		"response with vp_token": form("response", "a..b.c.d", "vp_token", ok),
		"response with error":    form("response", "a..b.c.d", "error", "access_denied"),
		// §8.1: vp_token is a JSON-encoded object of non-empty arrays of
		// presentations (strings for dc+sd-jwt).
		"nothing":                                   form(),
		"state alone":                               form("state", "s1"),
		"vp_token empty":                            form("vp_token", ""),
		"vp_token not JSON":                         form("vp_token", presentation),
		"vp_token truncated JSON":                   form("vp_token", ok[:len(ok)-1]),
		"vp_token with trailing data":               form("vp_token", ok+"x"),
		"vp_token an empty object":                  form("vp_token", "{}"),
		"vp_token null":                             form("vp_token", "null"),
		"vp_token an array":                         form("vp_token", `["`+presentation+`"]`),
		"vp_token a JSON string":                    form("vp_token", `"`+presentation+`"`),
		"vp_token an empty array":                   form("vp_token", `{"pid":[]}`),
		"vp_token an entry a string":                form("vp_token", `{"pid":"`+presentation+`"}`),
		"vp_token an entry of numbers":              form("vp_token", `{"pid":[1]}`),
		"vp_token an entry of objects":              form("vp_token", `{"pid":[{}]}`),
		"vp_token an entry null":                    form("vp_token", `{"pid":null}`),
		"vp_token a name twice":                     form("vp_token", `{"pid":["a"],"pid":["b"]}`),
		"vp_token invalid UTF-8":                    form("vp_token", "{\"p\xffd\":[\"a\"]}"),
		"vp_token over MaxQueryItems entries":       form("vp_token", many(openid4vp.MaxQueryItems+1, 1)),
		"vp_token over MaxQueryItems presentations": form("vp_token", many(1, openid4vp.MaxQueryItems+1)),
		// §8.1, §8.5: a response is a VP Token or an error, not both.
		"error and vp_token":      form("error", "access_denied", "vp_token", ok),
		"error_description alone": form("error_description", "x"),
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if r, err := openid4vp.ParseForm(f); err == nil {
				t.Errorf("ParseForm(%v) = %+v, want an error", f, r)
			}
		})
	}
}

// The plaintext of an encrypted response (§8.3) has the response
// parameters as top-level members, vp_token a JSON object — the example
// of §8.3.1.
func TestParsePayload(t *testing.T) {
	cases := []struct {
		name, plain string
		want        *openid4vp.Response
	}{
		{"§8.3.1 example", `{
  "vp_token": {"example_jwt_vc": ["eY...QMA"]}
}`, &openid4vp.Response{VPToken: map[string][]string{"example_jwt_vc": {"eY...QMA"}}}},
		{"vp_token and state", `{"vp_token":{"pid":["` + presentation + `"]},"state":"s1"}`,
			&openid4vp.Response{VPToken: map[string][]string{"pid": {presentation}}, State: "s1"}},
		{"unknown members ignored", `{"vp_token":{"pid":["a"]},"iss":"https://wallet.example","future":{"x":[1]}}`,
			&openid4vp.Response{VPToken: map[string][]string{"pid": {"a"}}}},
		{"error", `{"error":"access_denied","error_description":"declined","state":"s1"}`,
			&openid4vp.Response{Error: "access_denied", ErrorDescription: "declined", State: "s1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := openid4vp.ParsePayload([]byte(c.plain))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, c.want) {
				t.Errorf("ParsePayload = %+v, want %+v", r, c.want)
			}
		})
	}
}

func TestParsePayloadRefuses(t *testing.T) {
	big := `{"vp_token":{"pid":["` + strings.Repeat("a", openid4vp.MaxResponseBytes) + `"]}}`
	cases := map[string]string{
		"not JSON":               presentation,
		"empty":                  ``,
		"an empty object":        `{}`,
		"null":                   `null`,
		"an array":               `[{"vp_token":{"pid":["a"]}}]`,
		"state alone":            `{"state":"s1"}`,
		"vp_token null":          `{"vp_token":null}`,
		"vp_token empty":         `{"vp_token":{}}`,
		"vp_token a string":      `{"vp_token":"{\"pid\":[\"a\"]}"}`, // the form's encoding, not the payload's
		"vp_token an array":      `{"vp_token":["a"]}`,
		"entry empty":            `{"vp_token":{"pid":[]}}`,
		"entry a string":         `{"vp_token":{"pid":"a"}}`,
		"entry of numbers":       `{"vp_token":{"pid":[1]}}`,
		"name twice in vp_token": `{"vp_token":{"pid":["a"],"pid":["b"]}}`,
		"member twice":           `{"vp_token":{"pid":["a"]},"vp_token":{"pid":["b"]}}`,
		"state twice":            `{"vp_token":{"pid":["a"]},"state":"a","state":"b"}`,
		"state a number":         `{"vp_token":{"pid":["a"]},"state":1}`,
		"error a number":         `{"error":1}`,
		"error and vp_token":     `{"error":"access_denied","vp_token":{"pid":["a"]}}`,
		"trailing data":          `{"vp_token":{"pid":["a"]}} {}`,
		"over MaxResponseBytes":  big,
	}
	for name, plain := range cases {
		t.Run(name, func(t *testing.T) {
			if r, err := openid4vp.ParsePayload([]byte(plain)); err == nil {
				t.Errorf("ParsePayload(%.80s) = %+v, want an error", plain, r)
			}
		})
	}
}

// TestParseRefusalsSayNoGoTypes: what is wrong with a wallet's response or
// a DCQL query is said in its own terms, a JSON pointer at most, never in
// the decoder's (Go types), which go back to the other party (SPEC §5:
// internal details never reach a client).
func TestParseRefusalsSayNoGoTypes(t *testing.T) {
	var errs []error
	_, err := openid4vp.ParseForm(form("vp_token", `{"card":"not an array"}`, "state", "s"))
	errs = append(errs, err)
	_, err = openid4vp.ParsePayload([]byte(`{"state":1}`))
	errs = append(errs, err)
	_, err = openid4vp.ParseQuery([]byte(`{"credentials":[{"id":"c","format":1}]}`))
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: accepted", i)
		}
		for _, word := range []string{"Go ", "[]string", "unmarshal", "float64", "int64"} {
			if strings.Contains(err.Error(), word) {
				t.Errorf("case %d: %q says %q", i, err, word)
			}
		}
	}
}
