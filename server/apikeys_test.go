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
	var all []api.APIKeyView
	_, raw := h.call("GET", "/v1/admin/api-keys", h.admin, nil, 200, &all)
	for _, secret := range []string{w.issuerKey, w.verifierKey, h.admin} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatal("the listing holds an API key")
		}
	}
	var mine []api.APIKeyView
	h.call("GET", "/v1/admin/api-keys?owner="+w.verifierID, h.admin, nil, 200, &mine)
	if len(mine) != 1 || mine[0].Role != api.RoleVerifier || mine[0].Owner != w.verifierID || mine[0].Revoked != nil || len(all) < 2 {
		t.Fatalf("verifier's keys %+v of %d", mine, len(all))
	}
	h.call("DELETE", "/v1/admin/api-keys/"+mine[0].ID, h.admin, nil, 204, nil)
	h.call("GET", "/v1/admin/api-keys?owner="+w.verifierID, h.admin, nil, 200, &mine)
	if mine[0].Revoked == nil {
		t.Errorf("a revoked key listed as %+v", mine[0])
	}
	wantError(t, h.request("GET", "/v1/admin/api-keys", w.issuerKey, "", nil), 403, "forbidden")
}
