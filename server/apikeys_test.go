package server_test

import (
	"bytes"
	"testing"

	"github.com/eidwallet/eidwallet/api"
)

// TestAPIKeysListed (issue 13 item 4): the operator lists the API keys,
// all or one owner's, with their role and revocation and never the key;
// other roles may not.
func TestAPIKeysListed(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	var list api.APIKeyList
	_, raw := h.call("GET", "/v1/admin/api-keys", h.admin, nil, 200, &list)
	all := list.APIKeys
	for _, secret := range []string{w.issuerKey, w.verifierKey, h.admin} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatal("the listing holds an API key")
		}
	}
	h.call("GET", "/v1/admin/api-keys?owner="+w.verifierID, h.admin, nil, 200, &list)
	mine := list.APIKeys
	if len(mine) != 1 || mine[0].Role != api.RoleVerifier || mine[0].Owner != w.verifierID || mine[0].Revoked != nil || len(all) < 2 {
		t.Fatalf("verifier's keys %+v of %d", mine, len(all))
	}
	h.call("DELETE", "/v1/admin/api-keys/"+mine[0].ID, h.admin, nil, 204, nil)
	h.call("GET", "/v1/admin/api-keys?owner="+w.verifierID, h.admin, nil, 200, &list)
	if mine = list.APIKeys; mine[0].Revoked == nil {
		t.Errorf("a revoked key listed as %+v", mine[0])
	}
	wantError(t, h.request("GET", "/v1/admin/api-keys", w.issuerKey, "", nil), 403, "forbidden")
}

// TestRetireVerifier (issue 13 item 4): a retired verifier's keys stop
// working at once, it gets no new one, no share can name it and the
// consent screen no longer lists it; its record stays, marked retired.
func TestRetireVerifier(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	_, qrText := w.share(h, "full_name")
	var view api.VerifierView
	h.call("DELETE", "/v1/admin/verifiers/"+w.verifierID, h.admin, nil, 200, &view)
	if view.Retired == nil {
		t.Fatalf("retired verifier: %+v", view)
	}
	wantError(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", []byte(`{"qr":"`+qrText+`"}`)), 401, "unauthenticated")
	h.call("POST", "/v1/admin/verifiers/"+w.verifierID+"/api-keys", h.admin, nil, 409, nil)
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{VerifierID: w.verifierID,
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}, 409, nil)
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}, 201, &created)
	if len(created.RedeemableBy) != 0 {
		t.Errorf("the consent screen lists %+v", created.RedeemableBy)
	}
	var list api.VerifierList
	h.call("GET", "/v1/admin/verifiers", h.admin, nil, 200, &list)
	if all := list.Verifiers; len(all) != 1 || all[0].Retired == nil {
		t.Errorf("verifiers after the retirement: %+v", all)
	}
	h.call("DELETE", "/v1/admin/verifiers/"+w.verifierID, h.admin, nil, 200, nil) // twice: no error
	h.call("DELETE", "/v1/admin/verifiers/nope", h.admin, nil, 404, nil)
}
