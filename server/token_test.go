package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/docs"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// oauthDescription is the character set RFC 6749 §5.2 allows in
// error_description.
var oauthDescription = regexp.MustCompile(`^[\x20\x21\x23-\x5b\x5d-\x7e]+$`)

// TestTokenSuccess: the token endpoint's two body forms; the answer is not
// cached (RFC 6749 §5.1), and parameters it does not use, client_id
// included, are ignored (RFC 6749 §3.2, §3.2.1).
func TestTokenSuccess(t *testing.T) {
	h := newHarness(t)
	w := h.setup()

	var tok api.TokenResponse
	resp, _ := h.call("POST", "/v1/token", "", map[string]string{"grant_type": grantJWTBearer, "assertion": w.assertion(h)}, 200, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 600 || tok.AccessToken == "" {
		t.Fatalf("token answer %+v", tok)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("token answer cacheable: %v", resp.Header)
	}
	h.call("GET", "/v1/me/devices", tok.AccessToken, nil, 200, nil)

	body := url.Values{"grant_type": {grantJWTBearer}, "assertion": {w.assertion(h)}, "scope": {"anything"}, "client_id": {"my-app"}}
	if resp := h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", []byte(body.Encode())); resp.StatusCode != 200 {
		t.Fatalf("extra form parameters: %d %s", resp.StatusCode, readAll(t, resp))
	}
}

// TestTokenErrors lists every refusal of the token endpoint with the
// status and RFC 6749 §5.2 code it answers (RFC 7523 §3.1 for the
// assertion): error and error_description only, the description in the
// RFC's character set, never cached, and 401 invalid_client only where
// the request tried client authentication, with its scheme in
// WWW-Authenticate.
func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	now := h.clock.Now()

	// A second device of the same citizen, revoked.
	gone := &world{citizen: w.citizen}
	gone.enroll(h)
	goneAssertion := gone.assertion(h)
	h.call("DELETE", "/v1/me/devices/"+gone.deviceID, gone.token, nil, 204, nil)

	sign := func(key *ecdsa.PrivateKey, edit func(map[string]any)) string {
		claims := map[string]any{"iss": w.deviceID, "sub": w.deviceID, "aud": h.svc.TokenEndpoint(),
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text()}
		if edit != nil {
			edit(claims)
		}
		return must(credentials.SignJWT(key, "", "", claims))
	}
	other := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	used := w.assertion(h)
	if resp := h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", form("grant_type", grantJWTBearer, "assertion", used)); resp.StatusCode != 200 {
		t.Fatalf("first use of an assertion: %d %s", resp.StatusCode, readAll(t, resp))
	}

	const formCT, jsonCT = "application/x-www-form-urlencoded", "application/json"
	good := func() string { return w.assertion(h) }
	big := append(form("grant_type", grantJWTBearer, "assertion", ""), bytes.Repeat([]byte("a"), 70<<10)...)
	for _, tc := range []struct {
		name          string
		contentType   string
		authorization string
		body          []byte
		status        int
		code          api.Code
		challenge     string // WWW-Authenticate of a 401
	}{
		// RFC 6749 §5.2 unsupported_grant_type.
		{"another grant type", formCT, "", form("grant_type", "password", "assertion", good()), 400, api.CodeUnsupportedGrantType, ""},
		{"another grant type, JSON", jsonCT, "", jsonBody(t, "grant_type", "client_credentials", "assertion", good()), 400, api.CodeUnsupportedGrantType, ""},
		{"RFC 7523 client assertion type as grant", formCT, "", form("grant_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "assertion", good()), 400, api.CodeUnsupportedGrantType, ""},

		// RFC 6749 §5.2 invalid_request: missing, repeated, malformed.
		{"no grant_type", formCT, "", form("assertion", good()), 400, api.CodeInvalidRequest, ""},
		{"empty grant_type", formCT, "", form("grant_type", "", "assertion", good()), 400, api.CodeInvalidRequest, ""},
		{"no assertion", formCT, "", form("grant_type", grantJWTBearer), 400, api.CodeInvalidRequest, ""},
		{"empty assertion", formCT, "", form("grant_type", grantJWTBearer, "assertion", ""), 400, api.CodeInvalidRequest, ""},
		{"assertion repeated", formCT, "", []byte("grant_type=" + url.QueryEscape(grantJWTBearer) + "&assertion=a&assertion=b"), 400, api.CodeInvalidRequest, ""},
		{"grant_type repeated", formCT, "", []byte("grant_type=" + url.QueryEscape(grantJWTBearer) + "&grant_type=" + url.QueryEscape(grantJWTBearer) + "&assertion=" + good()), 400, api.CodeInvalidRequest, ""},
		{"an unused parameter repeated", formCT, "", []byte("grant_type=" + url.QueryEscape(grantJWTBearer) + "&assertion=" + good() + "&x=1&x=2"), 400, api.CodeInvalidRequest, ""},
		{"malformed form", formCT, "", []byte("grant_type=%zz"), 400, api.CodeInvalidRequest, ""},
		{"empty body", formCT, "", []byte{}, 400, api.CodeInvalidRequest, ""},
		{"JSON unknown member", jsonCT, "", []byte(`{"grant_type":"` + grantJWTBearer + `","assertion":"a","scope":"x"}`), 400, api.CodeInvalidRequest, ""},
		{"JSON member repeated", jsonCT, "", []byte(`{"grant_type":"` + grantJWTBearer + `","assertion":"a","assertion":"b"}`), 400, api.CodeInvalidRequest, ""},
		{"JSON malformed", jsonCT, "", []byte(`{"grant_type":`), 400, api.CodeInvalidRequest, ""},
		{"JSON of another shape", jsonCT, "", []byte(`["grant_type"]`), 400, api.CodeInvalidRequest, ""},
		{"a body neither form nor JSON", "text/plain", "", []byte("grant_type=x"), 400, api.CodeInvalidRequest, ""},
		{"no Content-Type", "", "", form("grant_type", grantJWTBearer, "assertion", good()), 400, api.CodeInvalidRequest, ""},
		{"a body over 64 KiB", formCT, "", big, 400, api.CodeInvalidRequest, ""},
		{"client authentication two ways", formCT, "Basic bXktYXBwOnNlY3JldA==", form("grant_type", grantJWTBearer, "assertion", good(), "client_secret", "secret"), 400, api.CodeInvalidRequest, ""},

		// RFC 7523 §3.1 invalid_grant: the assertion.
		{"not a JWT", formCT, "", form("grant_type", grantJWTBearer, "assertion", "x.y.z"), 400, api.CodeInvalidGrant, ""},
		{"signed by another key", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(other, nil)), 400, api.CodeInvalidGrant, ""},
		{"unknown device", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) { c["iss"], c["sub"] = "dev_unknown", "dev_unknown" })), 400, api.CodeInvalidGrant, ""},
		{"revoked device", formCT, "", form("grant_type", grantJWTBearer, "assertion", goneAssertion), 400, api.CodeInvalidGrant, ""},
		{"another aud", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) { c["aud"] = "https://other.example/v1/token" })), 400, api.CodeInvalidGrant, ""},
		{"expired", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-8*time.Minute).Unix()
		})), 400, api.CodeInvalidGrant, ""},
		{"not yet valid", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(10*time.Minute).Unix(), now.Add(12*time.Minute).Unix()
		})), 400, api.CodeInvalidGrant, ""},
		{"lives over 5 minutes", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) { c["exp"] = now.Add(10 * time.Minute).Unix() })), 400, api.CodeInvalidGrant, ""},
		{"no jti", formCT, "", form("grant_type", grantJWTBearer, "assertion", sign(w.device, func(c map[string]any) { delete(c, "jti") })), 400, api.CodeInvalidGrant, ""},
		{"jti used before", formCT, "", form("grant_type", grantJWTBearer, "assertion", used), 400, api.CodeInvalidGrant, ""},
		{"jti used before, JSON", jsonCT, "", jsonBody(t, "grant_type", grantJWTBearer, "assertion", used), 400, api.CodeInvalidGrant, ""},

		// RFC 6749 §5.2 invalid_client: only a request that tried client
		// authentication, which no client here has.
		{"HTTP Basic client authentication", formCT, "Basic bXktYXBwOnNlY3JldA==", form("grant_type", grantJWTBearer, "assertion", good()), 401, api.CodeInvalidClient, `Basic realm="eidwallet"`},
		{"a bearer token as client authentication", formCT, "Bearer " + w.token, form("grant_type", grantJWTBearer, "assertion", good()), 401, api.CodeInvalidClient, `Bearer realm="eidwallet"`},
		{"client_secret in the body", formCT, "", form("grant_type", grantJWTBearer, "assertion", good(), "client_id", "my-app", "client_secret", "secret"), 401, api.CodeInvalidClient, `Basic realm="eidwallet"`},
		{"client_assertion in the body", formCT, "", form("grant_type", grantJWTBearer, "assertion", good(),
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", good()), 401, api.CodeInvalidClient, `Basic realm="eidwallet"`},
		{"an odd scheme", formCT, "N\"o pe", form("grant_type", grantJWTBearer, "assertion", good()), 401, api.CodeInvalidClient, `Basic realm="eidwallet"`},
		// RFC 6749 §2.3: more than one method of client authentication in
		// one request is invalid_request, both in the body as well.
		{"a client_secret and a client_assertion in the body", formCT, "", form("grant_type", grantJWTBearer, "assertion", good(),
			"client_assertion", "y", "client_secret", "z"), 400, api.CodeInvalidRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := must(http.NewRequest("POST", h.url+"/v1/token", bytes.NewReader(tc.body)))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			resp := must(h.client.Do(req))
			raw := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, raw)
			}
			var members map[string]jsontext.Value
			if err := json.Unmarshal(raw, &members); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			names := make([]string, 0, len(members))
			for k := range members {
				names = append(names, k)
			}
			slices.Sort(names)
			if !slices.Equal(names, []string{"error", "error_description"}) {
				t.Errorf("members %v, want error and error_description only", names)
			}
			var e apiError
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			if e.Error != string(tc.code) {
				t.Errorf("error %q, want %q: %s", e.Error, tc.code, raw)
			}
			if !oauthDescription.MatchString(e.Description) {
				t.Errorf("error_description %q outside RFC 6749 §5.2's characters", e.Description)
			}
			for header, want := range map[string]string{
				"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache", "WWW-Authenticate": tc.challenge,
			} {
				if got := resp.Header.Get(header); got != want {
					t.Errorf("%s %q, want %q", header, got, want)
				}
			}
		})
	}
}

// form is a form body of name, value pairs, in order.
func form(pairs ...string) []byte {
	v := url.Values{}
	for i := 0; i < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return []byte(v.Encode())
}

// jsonBody is a JSON object of name, value pairs.
func jsonBody(t *testing.T, pairs ...string) []byte {
	t.Helper()
	m := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return mustJSON(t, m)
}

// TestTokenErrorsDocumented holds docs/openapi.json to the token
// endpoint's answers: its OAuth codes by status, none of the SPEC §5
// answers it no longer gives.
func TestTokenErrorsDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Properties struct {
							Error struct {
								Enum []string `json:"enum"`
							} `json:"error"`
						} `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
				Headers map[string]jsontext.Value `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(docs.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	responses := doc.Paths["/v1/token"]["post"].Responses
	for status, want := range map[string][]string{
		"400": {string(api.CodeInvalidGrant), string(api.CodeInvalidRequest), string(api.CodeUnsupportedGrantType)},
		"401": {string(api.CodeInvalidClient)},
	} {
		r := responses[status]
		got := slices.Sorted(slices.Values(r.Content["application/json"].Schema.Properties.Error.Enum))
		if !slices.Equal(got, want) {
			t.Errorf("%s: codes %v, want %v", status, got, want)
		}
		for _, h := range []string{"Cache-Control", "Pragma"} {
			if _, ok := r.Headers[h]; !ok {
				t.Errorf("%s: no %s header documented", status, h)
			}
		}
	}
	if _, ok := responses["401"].Headers["WWW-Authenticate"]; !ok {
		t.Error("401: no WWW-Authenticate documented")
	}
	for _, gone := range []string{"409", "413", "415"} {
		if _, ok := responses[gone]; ok {
			t.Errorf("%s is documented, which the token endpoint no longer answers", gone)
		}
	}
}
