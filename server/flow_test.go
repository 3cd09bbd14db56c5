package server_test

import (
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/go-json-experiment/json"
)

// TestFlow drives SPEC §3 end to end through the API: enrolment and
// token, issuance, share, approval, redemption, the logs of both sides.
func TestFlow(t *testing.T) {
	h := newHarness(t)
	w := h.setup()

	var list api.CredentialList
	h.call("GET", "/v1/me/credentials", w.token, nil, 200, &list)
	if creds := list.Credentials; len(creds) != 1 || creds[0].ID != w.credential.CredentialID || creds[0].Claims["full_name"] != testFullName {
		t.Fatalf("credentials: %+v", creds)
	}
	var one api.CredentialView
	h.call("GET", "/v1/me/credentials/"+w.credential.CredentialID, w.token, nil, 200, &one)

	shareID, qrText := w.share(h, "full_name")
	var vr api.VerifyResponse
	resp, _ := h.call("POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qrText}, 200, &vr)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("verify Cache-Control %q", cc)
	}
	if vr.Result != "valid" || vr.ShareID != shareID || len(vr.Documents) != 1 || vr.Documents[0].Claims["full_name"] != testFullName {
		t.Fatalf("verify: %+v", vr)
	}
	if _, ok := vr.Documents[0].Claims["card_number"]; ok {
		t.Errorf("undisclosed claim in the answer: %+v", vr.Documents[0].Claims)
	}
	// T13: a second redemption is refused.
	wantError(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", mustJSON(t, api.VerifyRequest{QR: qrText})), 409, "share_already_redeemed")

	var act api.ActivityResponse
	h.call("GET", "/v1/me/activity?export=1", w.token, nil, 200, &act)
	if act.ChainValid == nil || !*act.ChainValid || len(act.Entries) < 4 {
		t.Fatalf("activity export: valid=%v entries=%d", act.ChainValid, len(act.Entries))
	}
	var vl api.VerificationsResponse
	h.call("GET", "/v1/verifier/verifications?limit=10", w.verifierKey, nil, 200, &vl)
	if len(vl.Entries) != 2 || vl.Entries[0].Result != string(api.CodeAlreadyRedeemed) || vl.Entries[1].Result != "valid" {
		t.Fatalf("verifications: %+v", vl.Entries)
	}
	if m := h.metric("eidwallet_verifications_total"); !strings.Contains(m, `result="valid"`) || !strings.Contains(m, `result="share_already_redeemed"`) {
		t.Errorf("verification metrics:\n%s", m)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
