package openid4vp_test

import (
	"slices"
	"testing"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// TestChoose: what a wallet sends for a query (OpenID4VP 1.0 §6.4): the
// first credential that answers each query, the first claim_sets option
// it can meet, credential_sets' first option that can be met (optional
// ones when they can), trusted_authorities honoured, and nothing at all
// when a required part cannot be met.
func TestChoose(t *testing.T) {
	id := openid4vp.Candidate{ID: "crd_id", Format: openid4vp.FormatSDJWTVC, VCT: "urn:id",
		Claims: map[string]any{"full_name": "An", "age_over_18": true, "birth_date": "2000-01-01"}}
	hi := openid4vp.Candidate{ID: "crd_hi", Format: openid4vp.FormatSDJWTVC, VCT: "urn:hi",
		Claims: map[string]any{"full_name": "An", "card_number": "HI-1"}, Authorities: map[string][]string{"aki": {"abc"}}}
	for _, c := range []struct {
		name, query string
		want        []openid4vp.Chosen
		missing     []string
	}{
		{"claims", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},"claims":[{"path":["age_over_18"]},{"path":["full_name"]}]}]}`,
			[]openid4vp.Chosen{{QueryID: "a", CandidateID: "crd_id", Claims: []string{"age_over_18", "full_name"}}}, nil},
		{"values that do not match", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},"claims":[{"path":["age_over_18"],"values":[false]}]}]}`,
			nil, []string{"a"}},
		{"the first claim set met", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},
			"claims":[{"id":"p","path":["portrait"]},{"id":"o","path":["age_over_18"]},{"id":"b","path":["birth_date"]}],"claim_sets":[["p"],["o"],["b"]]}]}`,
			[]openid4vp.Chosen{{QueryID: "a", CandidateID: "crd_id", Claims: []string{"age_over_18"}}}, nil},
		{"credential sets: an option, an optional set", `{"credentials":[
			{"id":"pass","format":"dc+sd-jwt","meta":{"vct_values":["urn:passport"]}},
			{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},"claims":[{"path":["full_name"]}]},
			{"id":"ins","format":"dc+sd-jwt","meta":{"vct_values":["urn:hi"]},"claims":[{"path":["card_number"]}]}],
			"credential_sets":[{"options":[["pass"],["card"]]},{"options":[["ins"]],"required":false}]}`,
			[]openid4vp.Chosen{{QueryID: "card", CandidateID: "crd_id", Claims: []string{"full_name"}}, {QueryID: "ins", CandidateID: "crd_hi", Claims: []string{"card_number"}}}, nil},
		{"a required set unmet", `{"credentials":[{"id":"pass","format":"dc+sd-jwt","meta":{"vct_values":["urn:passport"]}},
			{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]}}],"credential_sets":[{"options":[["pass"]]},{"options":[["card"]]}]}`,
			nil, []string{"pass"}},
		{"trusted authorities met", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:hi"]},"trusted_authorities":[{"type":"aki","values":["zzz","abc"]}],"claims":[{"path":["card_number"]}]}]}`,
			[]openid4vp.Chosen{{QueryID: "a", CandidateID: "crd_hi", Claims: []string{"card_number"}}}, nil},
		{"trusted authorities unmet", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},"trusted_authorities":[{"type":"aki","values":["abc"]}]}]}`,
			nil, []string{"a"}},
		{"another format", `{"credentials":[{"id":"a","format":"mso_mdoc","meta":{}}]}`, nil, []string{"a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := openid4vp.ParseQuery([]byte(c.query))
			if err != nil {
				t.Fatal(err)
			}
			got, missing := q.Choose([]openid4vp.Candidate{id, hi})
			eq := func(a, b openid4vp.Chosen) bool {
				return a.QueryID == b.QueryID && a.CandidateID == b.CandidateID && slices.Equal(a.Claims, b.Claims)
			}
			if !slices.EqualFunc(got, c.want, eq) || !slices.Equal(missing, c.missing) {
				t.Errorf("got %+v missing %v, want %+v missing %v", got, missing, c.want, c.missing)
			}
		})
	}
}
