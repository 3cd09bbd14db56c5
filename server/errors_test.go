package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
)

// TestHTTPStatus holds the error table to SPEC §5 (and RFC 6749 §5.2 for
// the token endpoint), code by code.
func TestHTTPStatus(t *testing.T) {
	for code, want := range map[api.Code]int{
		api.CodeInvalidRequest:     400,
		api.CodeUnauthenticated:    401,
		api.CodeForbidden:          403,
		api.CodeNotFound:           404,
		api.CodeMethodNotAllowed:   405,
		api.CodeAlreadyRedeemed:    409,
		api.CodeReplay:             409,
		api.CodeConflict:           409,
		api.CodeShareExpired:       410,
		api.CodeShareCancelled:     410,
		api.CodeTooLarge:           413,
		api.CodeUnsupportedMedia:   415,
		api.CodeVerificationFailed: 422,
		api.CodeRateLimited:        429,
		api.CodeStatusUnavailable:  503,
		api.CodeStorageUnavailable: 503,
		api.CodeInternal:           500,
		api.Code("no_such_code"):   500,
		// RFC 6749 §5.2: the token endpoint's own codes.
		api.CodeInvalidGrant:         400,
		api.CodeUnsupportedGrantType: 400,
		api.CodeInvalidClient:        401,
	} {
		if got := server.HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
}

// TestServiceErrorsThroughHandlers checks that what the service says
// reaches the client through the table, for each class of error a
// handler can meet, with the reason where SPEC §5 has one.
func TestServiceErrorsThroughHandlers(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	verify := func(qr string) *http.Response {
		return h.request("POST", "/v1/verify", w.verifierKey, "application/json", mustJSON(t, api.VerifyRequest{QR: qr}))
	}

	// 400 from the service: a QR that is not an EID1 code.
	wantError(t, verify("hello"), 400, "invalid_request")
	// 404: an unknown share token (T23), and another holder's object (T18).
	wantError(t, verify("EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found")
	wantError(t, h.request("GET", "/v1/me/shares/shr_nosuch", w.token, "", nil), 404, "not_found")
	// 410: a cancelled share.
	id, qrText := w.share(h, "full_name")
	h.call("DELETE", "/v1/me/shares/"+id, w.token, nil, 204, nil)
	wantError(t, verify(qrText), 410, "share_cancelled")
	wantError(t, h.request("GET", "/v1/me/shares/"+id+"/qr.png", w.token, "", nil), 410, "share_cancelled")
	// 410: approving a share cancelled before its approval; 409 replay for
	// one approved already.
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}, 201, &created)
	h.call("DELETE", "/v1/me/shares/"+created.ShareID, w.token, nil, 204, nil)
	wantError(t, h.request("POST", "/v1/me/shares/"+created.ShareID+"/approve", w.token, "application/json",
		mustJSON(t, api.ApproveRequest{KBJWTs: []string{"x"}})), 410, "share_cancelled")
	wantError(t, h.request("POST", "/v1/me/shares/"+id+"/approve", w.token, "application/json",
		mustJSON(t, api.ApproveRequest{KBJWTs: []string{"x"}})), 410, "share_cancelled")
	// 410: an expired share (T16).
	_, qrText = w.share(h, "full_name")
	h.clock.Advance(2 * wallet.DefaultShareTTL)
	wantError(t, verify(qrText), 410, "share_expired")
	// 409: the active key cannot be retired.
	var iv api.IssuerView
	h.call("GET", "/v1/admin/issuers", h.admin, nil, 200, &api.IssuerList{})
	h.call("POST", "/v1/admin/issuers/vss/keys", h.admin, nil, 201, &iv)
	wantError(t, h.request("DELETE", "/v1/admin/issuers/vss/keys/"+iv.Keys[len(iv.Keys)-1].Kid, h.admin, "", nil), 409, "conflict")
	// 422 with a reason: sharing a revoked credential.
	h.call("POST", "/v1/issuer/credentials/"+w.credential.CredentialID+"/status", w.issuerKey,
		api.StatusRequest{Status: "revoked"}, 200, nil)
	e := wantError(t, h.request("POST", "/v1/me/shares", w.token, "application/json", mustJSON(t, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}})), 422, "verification_failed")
	if e.Reason != string(credentials.ReasonRevoked) {
		t.Errorf("reason %q, want %s", e.Reason, credentials.ReasonRevoked)
	}
	// 403 from the service: an issuer may only issue its own types (T19).
	wantError(t, h.request("POST", "/v1/issuer/credentials", w.issuerKey, "application/json", mustJSON(t, api.IssueRequest{
		CitizenID: w.citizen, Type: credentials.NationalID, Claims: map[string]any{}, ExpiresAt: h.clock.Now().AddDate(1, 0, 0)})), 403, "forbidden")
	// An assertion jti is accepted once (T11): a second use is the token
	// endpoint's 400 invalid_grant (RFC 7523 §3.1), not SPEC §5's 409.
	a := w.assertion(h)
	body := []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + a)
	if resp := h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", body); resp.StatusCode != 200 {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	wantError(t, h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", body), 400, "invalid_grant")
}

// TestUnauthenticated: no credential is 401 with a bare Bearer challenge;
// a bad, malformed or revoked one is 401 with error="invalid_token"
// (RFC 6750 §3, THREATS T20). Every 401 answer is the same body.
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	w := h.setup()

	resp := h.request("GET", "/v1/me/credentials", "", "", nil)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="eidwallet"` {
		t.Errorf("challenge without credentials: %q", got)
	}
	wantError(t, resp, 401, "unauthenticated")

	var key api.NewAPIKey
	h.call("POST", "/v1/admin/verifiers/"+w.verifierID+"/api-keys", h.admin, nil, 201, &key)
	h.call("DELETE", "/v1/admin/api-keys/"+key.ID, h.admin, nil, 204, nil)

	invalidToken := regexp.MustCompile(`^Bearer realm="eidwallet", error="invalid_token"`)
	for name, header := range map[string]string{
		"unknown key":      "Bearer ewk_nosuchkey",
		"revoked key":      "Bearer " + key.Key,
		"tampered token":   "Bearer " + w.token[:len(w.token)-4] + "AAAA",
		"other scheme":     "Basic dXNlcjpwYXNz",
		"no token":         "Bearer ",
		"not a b64token":   "Bearer a b",
		"lower-case realm": "bearer ewk_nosuchkey",
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.url+"/v1/verifier/verifications", nil)
			req.Header.Set("Authorization", header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !invalidToken.MatchString(got) {
				t.Errorf("challenge %q", got)
			}
			wantError(t, resp, 401, "unauthenticated")
		})
	}

	// An expired access token (10 minutes).
	h.clock.Advance(wallet.AccessTokenTTL + 1)
	wantError(t, h.request("GET", "/v1/me/credentials", w.token, "", nil), 401, "unauthenticated")
}

// TestRoleMismatch calls every authenticated route of the inventory with
// the credential of each other role (THREATS T19): 403 forbidden, before
// any body is read or any id looked up; and with none: 401. The public
// routes are listed here by name, so a new route is authenticated unless
// someone adds it to this list on purpose.
func TestRoleMismatch(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	creds := map[api.Role]string{
		api.RoleAdmin:    h.admin,
		api.RoleIssuer:   w.issuerKey,
		api.RoleVerifier: w.verifierKey,
		api.RoleHolder:   w.token,
	}
	public := map[string]bool{
		"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true,
		"GET /issuers/:id/jwks.json": true, "GET /.well-known/jwt-vc-issuer/issuers/:id": true,
		"GET /.well-known/jwks.json":      true, // the service key (SPEC §3.6)
		"GET /trust-list":                 true, // the signed trust list (THREATS T37)
		"GET /v1/trust-bundle":            true, // the offline verifiers' bundle (issue 12)
		"GET /status-lists/:issuer/:list": true, "POST /v1/enrollments": true, "POST /v1/token": true,
		// The credential types and their type metadata (issue 13).
		"GET /v1/types": true, "GET /v1/types/:id": true, "GET /vct/:vct": true,
		// The web pages: public files; they call the API with the user's own key.
		// OpenID4VP (issue 11): called by standard wallets, bound by the
		// request's token, nonce and state.
		"GET /oid4vp/ca.pem": true, "GET /oid4vp/requests/:token": true, "POST /oid4vp/requests/:token": true,
		"POST /oid4vp/responses/:token": true,
		"GET /verify":                   true, "GET /demo/wallet": true, "GET /admin": true, "GET /assets/:file": true, "GET /vendor/:file": true,
	}
	roleOf := func(path string) api.Role {
		switch {
		case strings.HasPrefix(path, "/v1/admin/"):
			return api.RoleAdmin
		case strings.HasPrefix(path, "/v1/issuer/"):
			return api.RoleIssuer
		case strings.HasPrefix(path, "/v1/me/"):
			return api.RoleHolder
		case path == "/v1/verify", strings.HasPrefix(path, "/v1/verifier/"):
			return api.RoleVerifier
		}
		return ""
	}
	params := regexp.MustCompile(`/:[a-z]+`)
	n := 0
	for _, r := range server.RouteInventory(h.handler) {
		method, pattern := r[0], r[1]
		if public[method+" "+pattern] || method == "HEAD" { // HEAD: TestHeadAnswersAsGet
			continue
		}
		role := roleOf(pattern)
		if role == "" {
			t.Errorf("%s %s is neither public nor in a role group", method, pattern)
			continue
		}
		path := params.ReplaceAllString(pattern, "/x1")
		wantError(t, h.request(method, path, "", "application/json", []byte("{}")), 401, "unauthenticated")
		for other, cred := range creds {
			if other == role {
				continue
			}
			resp := h.request(method, path, cred, "application/json", []byte("{}"))
			if resp.StatusCode != 403 {
				t.Errorf("%s %s as %s: %d, want 403", method, path, other, resp.StatusCode)
				resp.Body.Close()
				continue
			}
			wantError(t, resp, 403, "forbidden")
			n++
		}
	}
	if n < 3*25 {
		t.Errorf("only %d role checks ran", n)
	}
}

// TestUnsupportedMediaType: JSON routes take application/json only; the
// bulk route application/x-ndjson; the token route a form or JSON, and
// answers any other body as an OAuth token endpoint does (RFC 6749 §5.2:
// 400 invalid_request).
func TestUnsupportedMediaType(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	body := mustJSON(t, api.CreateIssuerRequest{ID: "mot", Name: "Traffic", Types: []string{credentials.DriverLicence}})
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data"} {
		wantError(t, h.request("POST", "/v1/admin/issuers", h.admin, ct, body), 415, "unsupported_media_type")
	}
	// Parameters are fine, but a charset other than UTF-8 (RFC 8259 §8.1):
	// such a body would be misread.
	for _, ct := range []string{"application/json; charset=utf-16", "application/json; charset=ISO-8859-1"} {
		wantError(t, h.request("POST", "/v1/admin/issuers", h.admin, ct, body), 415, "unsupported_media_type")
	}
	for i, ct := range []string{"application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		in := mustJSON(t, api.CreateIssuerRequest{ID: fmt.Sprintf("mot%d", i), Name: "Traffic", Types: []string{credentials.DriverLicence}})
		if resp := h.request("POST", "/v1/admin/issuers", h.admin, ct, in); resp.StatusCode != 201 {
			t.Errorf("%s: %d %s", ct, resp.StatusCode, readAll(t, resp))
		} else {
			resp.Body.Close()
		}
	}
	wantError(t, h.request("POST", "/v1/issuer/credentials:bulk", w.issuerKey, "application/json", []byte("{}")), 415, "unsupported_media_type")
	wantError(t, h.request("POST", "/v1/token", "", "text/plain", []byte("grant_type=x")), 400, "invalid_request")
}

// TestRepeatedQueryParameter: a query naming a parameter twice, or that
// does not parse, is 400 invalid_request on every route, before anything
// is read; once each, the same query is answered.
func TestRepeatedQueryParameter(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	for _, c := range []struct{ path, bearer string }{
		{"/v1/me/shares?limit=1&limit=2", w.token},
		{"/v1/admin/issuers?cursor=a&cursor=b", h.admin},
		{"/status-lists/vss/1?x=1&x=1", ""},
		{"/v1/me/shares?limit=1;limit=2", w.token}, // Query would drop both silently
		{"/v1/me/shares?limit=1&cursor=%zz", w.token},
	} {
		wantError(t, h.request("GET", c.path, c.bearer, "", nil), 400, "invalid_request")
	}
	h.call("GET", "/v1/me/shares?limit=1", w.token, nil, 200, nil)
}

// TestBodyTooLarge: a body over 64 KiB is 413 before it is decoded,
// whether its length is announced or not (SPEC §5, T22).
func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	big := append([]byte(`{"issuer_id":"mot","name":"`), bytes.Repeat([]byte("a"), 70<<10)...)
	big = append(big, `","types":["driver_licence"]}`...)
	wantError(t, h.request("POST", "/v1/admin/issuers", h.admin, "application/json", big), 413, "payload_too_large")

	// Chunked: no Content-Length, cut at the limit.
	req, _ := http.NewRequest("POST", h.url+"/v1/enrollments", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, resp, 413, "payload_too_large")

	// The same limit for the token form, answered as the OAuth token
	// endpoint does (RFC 6749 §5.2: 400 invalid_request).
	form := append([]byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="), bytes.Repeat([]byte("a"), 70<<10)...)
	wantError(t, h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", form), 400, "invalid_request")
}

// TestStrictDecoding: unknown, duplicate or wrongly cased members, trailing
// data, wrong types and malformed JSON are 400 invalid_request, and the
// description names the member, never a value.
func TestStrictDecoding(t *testing.T) {
	h := newHarness(t)
	for name, tc := range map[string]struct{ body, mention string }{
		"unknown field":   {`{"issuer_id":"mot","name":"Traffic","types":["driver_licence"],"admin":true}`, "admin"},
		"duplicate field": {`{"issuer_id":"mot","issuer_id":"evil","name":"Traffic","types":["driver_licence"]}`, "issuer_id"},
		"case variant":    {`{"ID":"mot","name":"Traffic","types":["driver_licence"]}`, "ID"},
		"trailing data":   {`{"issuer_id":"mot","name":"Traffic","types":["driver_licence"]} {}`, ""},
		"trailing junk":   {`{"issuer_id":"mot","name":"Traffic","types":["driver_licence"]}x`, ""},
		"wrong type":      {`{"issuer_id":"mot","name":"Traffic","types":"driver_licence"}`, "types"},
		"not an object":   {`["mot"]`, ""},
		"malformed":       {`{"issuer_id":"mot",`, ""},
		"empty":           {``, ""},
	} {
		t.Run(name, func(t *testing.T) {
			e := wantError(t, h.request("POST", "/v1/admin/issuers", h.admin, "application/json", []byte(tc.body)), 400, "invalid_request")
			if !strings.Contains(e.Description, tc.mention) {
				t.Errorf("description %q does not name %q", e.Description, tc.mention)
			}
			if strings.Contains(e.Description, "Traffic") || strings.Contains(e.Description, "wallet.") {
				t.Errorf("description leaks a value or a Go type: %q", e.Description)
			}
		})
	}
	var issuers api.IssuerList
	h.call("GET", "/v1/admin/issuers", h.admin, nil, 200, &issuers)
	if len(issuers.Issuers) != 0 {
		t.Fatalf("a refused request created %+v", issuers.Issuers)
	}
}

// TestNotFoundAndMethod: unknown paths are 404 not_found, and a known path
// asked with a method it does not take is 405 method_not_allowed with
// Allow listing exactly the methods the inventory routes for that path,
// GET always with HEAD (SPEC §5, RFC 9110 §15.5.6); both in the error
// shape, and before any authentication.
func TestNotFoundAndMethod(t *testing.T) {
	h := newHarness(t)
	wantError(t, h.request("GET", "/v1/nothing", "", "", nil), 404, "not_found")
	wantError(t, h.request("GET", "/v1/token/", "", "", nil), 404, "not_found")

	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/v1/token", "POST"},
		{"HEAD", "/v1/token", "POST"},
		{"GET", "/v1/token", "POST"},
		{"OPTIONS", "/healthz", "GET, HEAD"},
		{"PUT", "/healthz", "GET, HEAD"},
		{"OPTIONS", "/v1/me/credentials", "GET, HEAD"},
		{"PUT", "/v1/me/credentials", "GET, HEAD"},
		{"DELETE", "/v1/me/shares", "GET, HEAD, POST"},
		{"PATCH", "/v1/me/shares/x1", "GET, HEAD, DELETE"},
	} {
		resp := h.request(tc.method, tc.path, "", "", nil)
		if allow := resp.Header.Get("Allow"); allow != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, allow, tc.allow)
		}
		if tc.method == "HEAD" {
			if resp.StatusCode != 405 {
				t.Errorf("%s %s: %d, want 405", tc.method, tc.path, resp.StatusCode)
			}
			resp.Body.Close()
			continue
		}
		wantError(t, resp, 405, "method_not_allowed")
	}

	// Every path of the inventory, asked with a method no route takes.
	order := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	methods := map[string][]string{}
	for _, r := range server.RouteInventory(h.handler) {
		methods[r[1]] = append(methods[r[1]], r[0])
	}
	params := regexp.MustCompile(`/:[a-z]+`)
	for pattern, ms := range methods {
		slices.SortFunc(ms, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
		resp := h.request("TRACE", params.ReplaceAllString(pattern, "/x1"), "", "", nil)
		if allow := resp.Header.Get("Allow"); allow != strings.Join(ms, ", ") {
			t.Errorf("TRACE %s: Allow %q, want %q", pattern, allow, strings.Join(ms, ", "))
		}
		wantError(t, resp, 405, "method_not_allowed")
	}
}

// TestHeadAnswersAsGet: every GET route of the inventory answers HEAD
// with the status and headers GET answers, and no body (RFC 9110 §9.3.2,
// SPEC §5), with no credential and with each role's: authentication,
// role checks and lookups run for HEAD as for GET. An event stream ends
// once its headers are out instead of streaming into nothing.
func TestHeadAnswersAsGet(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	shareID, _ := w.share(h, "full_name")
	creds := map[string]string{"none": "", "admin": h.admin, "issuer": w.issuerKey, "verifier": w.verifierKey, "holder": w.token}
	// Real ids where a route has them, so HEAD is seen on 200s too.
	real := strings.NewReplacer(
		"/issuers/:id/", "/issuers/vss/", "/jwt-vc-issuer/issuers/:id", "/jwt-vc-issuer/issuers/vss",
		"/v1/me/credentials/:id", "/v1/me/credentials/"+w.credential.CredentialID,
		"/v1/me/shares/:id", "/v1/me/shares/"+shareID,
		"/assets/:file", "/assets/app.css",
	)
	params := regexp.MustCompile(`/:[a-z]+`)
	// No keep-alive: a GET event stream is left unread and its connection
	// closed, which ends it.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	do := func(method, path, bearer string) *http.Response {
		req, _ := http.NewRequest(method, h.url+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	ignored := map[string]bool{"Date": true, "X-Request-Id": true, "Content-Length": true}
	headerNames := func(hd http.Header) []string {
		var names []string
		for k := range hd {
			if !ignored[k] {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		return names
	}
	gets, oks := 0, 0
	for _, r := range server.RouteInventory(h.handler) {
		if r[0] != "GET" {
			continue
		}
		gets++
		path := params.ReplaceAllString(real.Replace(r[1]), "/x1")
		for role, bearer := range creds {
			get := do("GET", path, bearer)
			get.Body.Close()
			head := do("HEAD", path, bearer)
			body, err := io.ReadAll(head.Body)
			head.Body.Close()
			if head.StatusCode != get.StatusCode || err != nil || len(body) != 0 {
				t.Errorf("HEAD %s as %s: %d with %d bytes (%v), GET %d", path, role, head.StatusCode, len(body), err, get.StatusCode)
				continue
			}
			if g, hd := headerNames(get.Header), headerNames(head.Header); !slices.Equal(g, hd) {
				t.Errorf("HEAD %s as %s: headers %v, GET %v", path, role, hd, g)
			}
			for _, name := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate", "Content-Security-Policy"} {
				if head.Header.Get(name) != get.Header.Get(name) {
					t.Errorf("HEAD %s as %s: %s %q, GET %q", path, role, name, head.Header.Get(name), get.Header.Get(name))
				}
			}
			if get.StatusCode == 200 {
				oks++
			}
		}
	}
	if gets < 20 || oks < 15 {
		t.Errorf("only %d GET routes, %d answers 200", gets, oks)
	}

	// HEAD of an event stream ends on the server once the headers are out:
	// the next request on the same kept-alive connection is answered.
	one := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
	for _, method := range []string{"HEAD", "GET"} {
		req, _ := http.NewRequest(method, h.url+"/v1/me/requests/events", nil)
		if method == "GET" {
			req, _ = http.NewRequest(method, h.url+"/healthz", nil)
		}
		req.Header.Set("Authorization", "Bearer "+w.token)
		resp, err := one.Do(req)
		if err != nil {
			t.Fatalf("%s after HEAD of an event stream: %v", method, err)
		}
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: %d", method, req.URL.Path, resp.StatusCode)
		}
	}
}

// TestSetStatusOfAnotherIssuersCredential: an issuer setting the status of
// another issuer's credential gets the very answer of an unknown id, 404
// not_found byte for byte (SPEC §5, THREATS T18), and the credential is
// left as it was.
func TestSetStatusOfAnotherIssuersCredential(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{
		ID: "mps", Name: "Population Registry", Types: []string{credentials.NationalID}}, 201, nil)
	var other api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/mps/api-keys", h.admin, nil, 201, &other)

	setStatus := func(id string) (*http.Response, []byte) {
		resp := h.request("POST", "/v1/issuer/credentials/"+id+"/status", other.Key, "application/json",
			mustJSON(t, api.StatusRequest{Status: "revoked"}))
		return resp, readAll(t, resp)
	}
	foreign, foreignBody := setStatus(w.credential.CredentialID)
	unknown, unknownBody := setStatus("crd_nosuchcredential")
	for name, resp := range map[string]*http.Response{"foreign": foreign, "unknown": unknown} {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", name, resp.StatusCode)
		}
	}
	var e apiError
	if err := json.Unmarshal(foreignBody, &e); err != nil || e.Error != "not_found" {
		t.Errorf("foreign credential: %s (%v), want not_found", foreignBody, err)
	}
	if !bytes.Equal(foreignBody, unknownBody) {
		t.Errorf("bodies differ:\nforeign %s\nunknown %s", foreignBody, unknownBody)
	}

	var view api.CredentialView
	h.call("GET", "/v1/me/credentials/"+w.credential.CredentialID, w.token, nil, 200, &view)
	if view.Status != api.StatusValid {
		t.Errorf("credential status %q after another issuer's attempt, want %s", view.Status, api.StatusValid)
	}
}

// TestLengthsCountCharacters: the documented maxLength of a text member
// counts characters, as JSON Schema does, not bytes: a Vietnamese letter
// is two or three bytes, and a name, category, purpose, status reason or
// device name of that many such letters is taken, one more is 400.
func TestLengthsCountCharacters(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	text := func(n int) string { return strings.Repeat("ư", n) } // two bytes each
	h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{ID: "nha-thuoc", Name: text(200), Category: text(64),
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}}, 201, nil)
	for _, bad := range []api.CreateVerifierRequest{{ID: "qua-dai", Name: text(201), Category: "pharmacy"}, {ID: "qua-dai", Name: "Shop", Category: text(65)}} {
		bad.Claims = map[string][]string{credentials.HealthInsurance: {"full_name"}}
		wantError(t, h.request("POST", "/v1/admin/verifiers", h.admin, "application/json", mustJSON(t, bad)), 400, "invalid_request")
	}
	asked := func(purpose string) api.CreateRequestRequest {
		return api.CreateRequestRequest{Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: purpose}
	}
	h.call("POST", "/v1/verifier/requests", w.verifierKey, asked(text(200)), 201, nil)
	wantError(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", mustJSON(t, asked(text(201)))), 400, "invalid_request")
	status := "/v1/issuer/credentials/" + w.credential.CredentialID + "/status"
	h.call("POST", status, w.issuerKey, api.StatusRequest{Status: "suspended", Reason: text(200)}, 200, nil)
	wantError(t, h.request("POST", status, w.issuerKey, "application/json", mustJSON(t, api.StatusRequest{Status: "valid", Reason: text(201)})), 400, "invalid_request")
	var code api.ActivationCodeResponse
	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: w.citizen}, 201, &code)
	enrol := func(name string) *http.Response {
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		jwk := must(json.Marshal(must(credentials.PublicJWK(&key.PublicKey))))
		return h.request("POST", "/v1/enrollments", "", "application/json", mustJSON(t, api.EnrollRequest{
			CitizenID: w.citizen, ActivationCode: code.Code, DeviceKey: jwk, DeviceName: name}))
	}
	wantError(t, enrol(text(101)), 400, "invalid_request")
	if resp := enrol(text(100)); resp.StatusCode != 201 {
		t.Errorf("a device name of 100 two-byte letters: %d %s", resp.StatusCode, readAll(t, resp))
	}
}
