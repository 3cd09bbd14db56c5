package server_test

import (
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// TestIssuerLooksUpItsCredentials (issue 13 item 4): an issuer finds one
// of its credentials by id and a citizen's by their number (in the body,
// never a URL), with status and validity and no claims; another issuer's
// credential is the same 404 as an unknown id (THREATS T18), and another
// issuer's search of the same citizen finds nothing.
func TestIssuerLooksUpItsCredentials(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	var one api.IssuedCredential
	h.call("GET", "/v1/issuer/credentials/"+w.credential.CredentialID, w.issuerKey, nil, 200, &one)
	if one.CredentialID != w.credential.CredentialID || one.Type != credentials.HealthInsurance || one.Status != api.StatusValid ||
		one.StatusList != w.credential.StatusList || one.StatusIndex != w.credential.StatusIndex {
		t.Fatalf("looked up %+v, issued %+v", one, w.credential)
	}
	h.call("POST", "/v1/issuer/credentials/"+w.credential.CredentialID+"/status", w.issuerKey, api.StatusRequest{Status: api.StatusSuspended}, 200, nil)
	var found api.IssuedCredentialList
	h.call("POST", "/v1/issuer/credentials:search", w.issuerKey, api.CredentialSearch{CitizenID: w.citizen}, 200, &found)
	if f := found.Credentials; len(f) != 1 || f[0].CredentialID != w.credential.CredentialID || f[0].Status != api.StatusSuspended {
		t.Fatalf("a citizen's credentials: %+v", f)
	}
	h.call("POST", "/v1/issuer/credentials:search", w.issuerKey, api.CredentialSearch{CitizenID: "999999999999"}, 200, &found)
	if len(found.Credentials) != 0 || found.NextCursor != "" {
		t.Errorf("an unknown citizen: %+v", found)
	}
	h.call("POST", "/v1/issuer/credentials:search", w.issuerKey, api.CredentialSearch{CitizenID: "12"}, 400, nil)

	// Another issuer.
	h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{credentials.NationalID}}, 201, nil)
	var ik api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/mps/api-keys", h.admin, nil, 201, &ik)
	other := wantError(t, h.request("GET", "/v1/issuer/credentials/"+w.credential.CredentialID, ik.Key, "", nil), 404, "not_found")
	unknown := wantError(t, h.request("GET", "/v1/issuer/credentials/crd_aaaaaaaaaaaaaaaaaaaaaaaaaa", ik.Key, "", nil), 404, "not_found")
	if other != unknown {
		t.Errorf("another issuer's credential %+v, an unknown one %+v", other, unknown)
	}
	h.call("POST", "/v1/issuer/credentials:search", ik.Key, api.CredentialSearch{CitizenID: w.citizen}, 200, &found)
	if len(found.Credentials) != 0 {
		t.Errorf("another issuer's search: %+v", found)
	}
	wantError(t, h.request("GET", "/v1/issuer/credentials/"+w.credential.CredentialID, w.verifierKey, "", nil), 403, "forbidden")
}
