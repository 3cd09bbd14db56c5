package server_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// timeLayoutPattern is api.TimeLayout as a pattern.
var timeLayoutPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// timesIn collects, from the JSON value v, every string member whose name
// is a time's (at, *_at, from, to, start), by path.
func timesIn(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, m := range v {
			if s, ok := m.(string); ok && (k == "at" || strings.HasSuffix(k, "_at") || k == "from" || k == "to" || k == "start") {
				out[path+"/"+k] = s
			}
			timesIn(m, path+"/"+k, out)
		}
	case []any:
		for _, m := range v {
			timesIn(m, path+"[]", out)
		}
	}
}

// TestAnswersWriteOneTimeForm: every time in the answers of the main flows,
// the admin's, the issuer's, the holder's and the verifier's (a sealed
// document's issued_at and expires_at included), is in api.TimeLayout:
// RFC 3339, UTC, three fractional digits (issue 13), whatever the zone the
// request gave it in.
func TestAnswersWriteOneTimeForm(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	h.clock.Advance(1234567 * time.Microsecond) // sub-second, so fractions show
	_, qrText := w.share(h, "full_name")
	answers := map[string][]byte{}
	get := func(name, method, path, bearer string, in any, status int) {
		_, answers[name] = h.call(method, path, bearer, in, status, nil)
	}
	get("issuers", "GET", "/v1/admin/issuers", h.admin, nil, 200)
	get("verifiers", "GET", "/v1/admin/verifiers", h.admin, nil, 200)
	get("api keys", "GET", "/v1/admin/api-keys", h.admin, nil, 200)
	get("activation code", "POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: "099999999999"}, 201)
	get("issued", "GET", "/v1/issuer/credentials/"+w.credential.CredentialID, w.issuerKey, nil, 200)
	get("credentials", "GET", "/v1/me/credentials", w.token, nil, 200)
	get("devices", "GET", "/v1/me/devices", w.token, nil, 200)
	get("shares", "GET", "/v1/me/shares", w.token, nil, 200)
	get("verify", "POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qrText}, 200)
	get("activity", "GET", "/v1/me/activity", w.token, nil, 200)
	get("verifications", "GET", "/v1/verifier/verifications", w.verifierKey, nil, 200)
	get("request", "POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{Purpose: "Check", Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}}, 201)
	for name, raw := range answers {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		times := map[string]string{}
		timesIn(v, "", times)
		if len(times) == 0 {
			t.Errorf("%s: no time in %s", name, raw)
		}
		for path, s := range times {
			if !timeLayoutPattern.MatchString(s) {
				t.Errorf("%s %s = %q, not in api.TimeLayout", name, path, s)
			}
		}
	}
}

// TestIssueTakesExpiresAtOrValidUntil: an issue request names the
// credential's end expires_at, as every answer does, or valid_until, the
// name SPEC §3.2 gives it; one of the two, in any RFC 3339 zone, and the
// credential ends then either way.
func TestIssueTakesExpiresAtOrValidUntil(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	end := h.clock.Now().AddDate(2, 0, 0).Truncate(24 * time.Hour).In(time.FixedZone("ICT", 7*3600))
	body := func(members string) []byte {
		return []byte(`{"citizen_id":"` + w.citizen + `","type":"health_insurance","claims":{"card_number":"HI-1","full_name":"A",` +
			`"birth_date":"1990-04-17","insured_from":"2025-01-01"}` + members + `}`)
	}
	at := `"` + end.Format(time.RFC3339) + `"`
	for name, members := range map[string]string{"expires_at": `,"expires_at":` + at, "valid_until": `,"valid_until":` + at} {
		resp := h.request("POST", "/v1/issuer/credentials", w.issuerKey, "application/json", body(members))
		var issued api.IssueResponse
		if raw := readAll(t, resp); resp.StatusCode != 201 || json.Unmarshal(raw, &issued) != nil {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, raw)
		}
		var got api.IssuedCredential
		h.call("GET", "/v1/issuer/credentials/"+issued.CredentialID, w.issuerKey, nil, 200, &got)
		if !got.ExpiresAt.Equal(end) {
			t.Errorf("%s: the credential expires at %s, want %s", name, got.ExpiresAt, end.UTC())
		}
	}
	for name, members := range map[string]string{"both": `,"expires_at":` + at + `,"valid_until":` + at, "neither": ""} {
		e := wantError(t, h.request("POST", "/v1/issuer/credentials", w.issuerKey, "application/json", body(members)), 400, "invalid_request")
		if !strings.Contains(e.Description, "expires_at") {
			t.Errorf("%s: description %q does not name expires_at", name, e.Description)
		}
	}
}
