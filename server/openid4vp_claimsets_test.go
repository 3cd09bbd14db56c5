package server_test

import (
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// TestOpenID4VPClaimSets: a request asking for the name, or else the card
// number with the name (claim_sets), is met by the name, and not by the
// card number alone (dcql_unsatisfied, OpenID4VP 1.0 §6.4.1).
func TestOpenID4VPClaimSets(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	hi, _ := h.svc.Types().ByID(credentials.HealthInsurance)
	query := `{"credentials":[{"id":"health_insurance","format":"dc+sd-jwt","meta":{"vct_values":["` + hi.VCT + `"]},` +
		`"claims":[{"id":"n","path":["full_name"]},{"id":"c","path":["card_number"]}],"claim_sets":[["n"],["c","n"]]}]}`
	newReq := func() *resolved {
		var r api.CreateRequestResponse
		h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP,
			Purpose: "Prescription pickup", DCQLQuery: []byte(query), ClientIDPrefix: openid4vp.PrefixX509Hash}, 201, &r)
		return ow.resolve(r.QRText)
	}
	if status, body := ow.answer(newReq(), answerOpts{claims: []string{"card_number"}}); status != 400 || !strings.Contains(string(body), "dcql_unsatisfied") {
		t.Errorf("the card number alone: %d %s", status, body)
	}
	if status, body := ow.answer(newReq(), answerOpts{claims: []string{"full_name"}}); status != 200 {
		t.Errorf("the name: %d %s", status, body)
	}
	if status, body := ow.answer(newReq(), answerOpts{claims: []string{"card_number", "full_name"}}); status != 200 {
		t.Errorf("the card number and the name: %d %s", status, body)
	}
	// A query with no claims could ask for a type the verifier is not
	// registered for: refused at creation.
	noClaims := `{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["` + hi.VCT + `"]}}]}`
	wantError(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", mustJSON(t, api.CreateRequestRequest{
		Protocol: api.ProtocolOpenID4VP, Purpose: "p", DCQLQuery: []byte(noClaims)})), 400, "invalid_request")
}
