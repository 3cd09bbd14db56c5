package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
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
	// One owner's keys, page by page (the owner index), none of another's.
	for range 4 {
		h.call("POST", "/v1/admin/verifiers/"+w.verifierID+"/api-keys", h.admin, nil, 201, nil)
	}
	var paged []api.APIKeyView
	for cursor := ""; ; {
		list = api.APIKeyList{} // a last page has no next_cursor
		h.call("GET", "/v1/admin/api-keys?limit=2&owner="+w.verifierID+"&cursor="+cursor, h.admin, nil, 200, &list)
		if len(list.APIKeys) > 2 {
			t.Fatalf("a page of %d, limit 2", len(list.APIKeys))
		}
		paged = append(paged, list.APIKeys...)
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	if len(paged) != 5 {
		t.Errorf("the verifier's keys page by page: %d, want 5 (%+v)", len(paged), paged)
	}
	for i, k := range paged {
		if k.Owner != w.verifierID || i > 0 && paged[i-1].ID >= k.ID {
			t.Errorf("key %d of the verifier's pages: %+v", i, k)
		}
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

// TestRevokedKeyRefusedAfterUse: POST /v1/verify takes a key that
// authenticated before from memory (wallet.Service.AuthenticateDeferred)
// and confirms it in the redemption's first read; a key revoked since is
// refused there, 401 with the invalid_token challenge, before the share is
// looked at (it stays unredeemed), on the same-origin and the CORS path,
// and for a code that is no share code too.
func TestRevokedKeyRefusedAfterUse(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	const bank = "https://bank.example"
	h.call("PUT", "/v1/admin/verifiers/"+w.verifierID+"/origins", h.admin, api.OriginsRequest{Origins: []string{bank}}, 200, nil)
	_, first := w.share(h, "full_name")
	h.call("POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: first}, 200, nil)
	var keys api.APIKeyList
	h.call("GET", "/v1/admin/api-keys?owner="+w.verifierID, h.admin, nil, 200, &keys)
	h.call("DELETE", "/v1/admin/api-keys/"+keys.APIKeys[0].ID, h.admin, nil, 204, nil)
	// A code that is no share code is refused for the key first: 401, not
	// 400 (the key would stay in memory, and its garbage count as its
	// verifier's).
	wantError(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", []byte(`{"qr":"nope"}`)), 401, "unauthenticated")

	id, second := w.share(h, "full_name")
	body, _ := json.Marshal(api.VerifyRequest{QR: second})
	for _, origin := range []string{"", bank} {
		req, _ := http.NewRequest("POST", h.url+"/v1/verify", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.verifierKey)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("origin %q: challenge %q", origin, got)
		}
		wantError(t, resp, 401, "unauthenticated")
	}
	var view api.ShareView
	h.call("GET", "/v1/me/shares/"+id, w.token, nil, 200, &view)
	if view.Status != api.ShareActive || view.Uses != 0 {
		t.Errorf("the share after the refused redemptions: %s, %d uses", view.Status, view.Uses)
	}
}

// TestAdminKeyNotRevoked: the admin's own key is not revoked through the
// API (409), which would leave the service with no admin; it is replaced
// with eidwallet admin-token reset. The admin goes on.
func TestAdminKeyNotRevoked(t *testing.T) {
	h := newHarness(t)
	var list api.APIKeyList
	h.call("GET", "/v1/admin/api-keys?owner=admin", h.admin, nil, 200, &list)
	if len(list.APIKeys) != 1 || list.APIKeys[0].Role != api.RoleAdmin {
		t.Fatalf("the admin's keys: %+v", list.APIKeys)
	}
	wantError(t, h.request("DELETE", "/v1/admin/api-keys/"+list.APIKeys[0].ID, h.admin, "", nil), 409, "conflict")
	h.call("GET", "/v1/admin/api-keys?owner=admin", h.admin, nil, 200, &list)
	if list.APIKeys[0].Revoked != nil {
		t.Errorf("the admin key listed as %+v", list.APIKeys[0])
	}
}
