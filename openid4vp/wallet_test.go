package openid4vp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// TestChoose: what a wallet sends for a query (OpenID4VP 1.0 §6.4): the
// first credential that answers each query, the first claim_sets option
// it can meet, credential_sets' first option that can be met (optional
// ones left out), top-level claims only, trusted_authorities honoured, and nothing at all
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
			[]openid4vp.Chosen{{QueryID: "card", CandidateID: "crd_id", Claims: []string{"full_name"}}}, nil}, // the optional set left out
		{"a path into a claim", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:id"]},"claims":[{"path":["full_name",0]}]}]}`,
			nil, []string{"a"}},
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

// TestCheckRequest: the rules a wallet applies to a request object (§5,
// §5.9.3, §5.10.1): each breach refused.
func TestCheckRequest(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caDER, _ := openid4vp.NewCA(caKey, "ca", now, rand.Reader)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, _ := openid4vp.IssueLeaf(ca, caKey, &leafKey.PublicKey, "Bank", "bank.example", now, rand.Reader)
	leaf, _ := x509.ParseCertificate(leafDER)
	query := jsontext.Value(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]}}]}`)
	base := func(clientID string) *openid4vp.WalletRequest {
		return &openid4vp.WalletRequest{RequestObject: openid4vp.RequestObject{ClientID: clientID, ResponseType: "vp_token",
			ResponseMode: openid4vp.DirectPost, ResponseURI: "https://bank.example/response", Nonce: "n", State: "s", DCQLQuery: query,
			WalletNonce: "wn"}}
	}
	san, hash := "x509_san_dns:bank.example", openid4vp.X509HashClientID(leafDER)
	for _, c := range []struct {
		name     string
		clientID string
		leaf     *x509.Certificate
		edit     func(*openid4vp.WalletRequest)
		ok       bool
	}{
		{"x509_san_dns", san, leaf, nil, true},
		{"x509_hash", hash, leaf, nil, true},
		{"redirect_uri unsigned", "redirect_uri:https://bank.example/response", nil, nil, true},
		{"redirect_uri signed", "redirect_uri:https://bank.example/response", leaf, nil, false},
		{"x509 unsigned", san, nil, nil, false},
		{"san not in the certificate", "x509_san_dns:other.example", leaf, func(r *openid4vp.WalletRequest) { r.ResponseURI = "https://other.example/r" }, false},
		{"response_uri on another host", san, leaf, func(r *openid4vp.WalletRequest) { r.ResponseURI = "https://evil.example/r" }, false},
		{"hash of another certificate", openid4vp.X509HashClientID(caDER), leaf, nil, false},
		{"client_id not the link's", san, leaf, func(r *openid4vp.WalletRequest) { r.ClientID = hash }, false},
		{"wallet_nonce not echoed", san, leaf, func(r *openid4vp.WalletRequest) { r.WalletNonce = "" }, false},
		{"transaction_data", san, leaf, func(r *openid4vp.WalletRequest) { r.TransactionData = jsontext.Value(`["e30"]`) }, false},
		{"fragment response mode", san, leaf, func(r *openid4vp.WalletRequest) { r.ResponseMode = "fragment" }, false},
		{"http response_uri", san, leaf, func(r *openid4vp.WalletRequest) { r.ResponseURI = "http://bank.example/r" }, false},
		{"redirect_uri beside response_uri", san, leaf, func(r *openid4vp.WalletRequest) { r.RedirectURI = "https://bank.example/cb" }, false},
		{"no nonce", san, leaf, func(r *openid4vp.WalletRequest) { r.Nonce = "" }, false},
		{"no dcql_query", san, leaf, func(r *openid4vp.WalletRequest) { r.DCQLQuery = nil }, false},
		{"unknown prefix", "did:example:1", leaf, nil, false},
		// RFC 7519 §4.1.3 with §5.8: an aud, one or several, names this wallet.
		{"aud this wallet's", san, leaf, func(r *openid4vp.WalletRequest) { r.Aud = openid4vp.Audience{openid4vp.StaticAudience} }, true},
		{"aud an array naming this wallet", san, leaf, func(r *openid4vp.WalletRequest) {
			r.Aud = openid4vp.Audience{"https://other-wallet.example", openid4vp.StaticAudience}
		}, true},
		{"aud another wallet", san, leaf, func(r *openid4vp.WalletRequest) { r.Aud = openid4vp.Audience{"https://other-wallet.example/issuer"} }, false},
		// §6.1: "Wallets SHOULD ignore such duplicate claim queries".
		{"a claim asked twice", san, leaf, func(r *openid4vp.WalletRequest) {
			r.DCQLQuery = jsontext.Value(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]},"claims":[{"path":["n"]},{"path":["n"]}]}]}`)
		}, true},
		// ... but not one claim_sets name: without it they mean nothing.
		{"a claim asked twice, named by claim_sets", san, leaf, func(r *openid4vp.WalletRequest) {
			r.DCQLQuery = jsontext.Value(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]},"claims":[{"id":"x","path":["n"]},{"id":"y","path":["n"]}],"claim_sets":[["y"]]}]}`)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := base(c.clientID)
			link := &openid4vp.LinkRequest{ClientID: c.clientID, RequestURI: "https://bank.example/request"}
			if c.edit != nil {
				c.edit(obj)
			}
			q, err := openid4vp.CheckRequest(obj, link, c.leaf, "wn")
			if (err == nil) != c.ok {
				t.Errorf("err %v, want ok %v", err, c.ok)
			}
			if c.name == "a claim asked twice" && err == nil && len(q.Credentials[0].Claims) != 1 {
				t.Errorf("claims %+v, want the duplicate dropped", q.Credentials[0].Claims)
			}
			// Only an otherwise sound request's refusal is for the verifier
			// to hear (§8.5): redirect_uri with direct_post is
			// invalid_request (§8.2), transaction_data
			// invalid_transaction_data (§5.1).
			tell := map[string]string{"redirect_uri beside response_uri": openid4vp.ErrInvalidRequest,
				"transaction_data": openid4vp.ErrInvalidTransactionData}[c.name]
			if got := openid4vp.ToTell(err); got != tell {
				t.Errorf("told %q, want %q", got, tell)
			}
		})
	}
	// Unsound besides (the response_uri on another host than the
	// certificate's), a redirect_uri is told nothing.
	obj := base(san)
	obj.RedirectURI, obj.ResponseURI = "https://bank.example/cb", "https://evil.example/r"
	if _, err := openid4vp.CheckRequest(obj, &openid4vp.LinkRequest{ClientID: san, RequestURI: "https://bank.example/request"}, leaf, "wn"); err == nil || openid4vp.ToTell(err) != "" {
		t.Errorf("an unsound request with redirect_uri: %v, told %q", err, openid4vp.ToTell(err))
	}
}

// TestRequestObjectTimesAndAud: a request object's aud reads as a string
// or an array and is written as a string when it is one (RFC 7519 §4.1.3);
// exp, nbf and iat are held to RFC 7519 §4.1.4–6 with the leeway.
func TestRequestObjectTimesAndAud(t *testing.T) {
	for _, c := range []struct {
		in   string
		want openid4vp.Audience
	}{{`{"aud":"https://self-issued.me/v2"}`, openid4vp.Audience{openid4vp.StaticAudience}},
		{`{"aud":["a","https://self-issued.me/v2"]}`, openid4vp.Audience{"a", openid4vp.StaticAudience}}} {
		var o openid4vp.RequestObject
		if err := json.Unmarshal([]byte(c.in), &o); err != nil || !slices.Equal(o.Aud, c.want) {
			t.Errorf("%s: aud %v (%v), want %v", c.in, o.Aud, err, c.want)
		}
	}
	var null openid4vp.RequestObject
	if err := json.Unmarshal([]byte(`{"aud":null}`), &null); err != nil || null.Aud != nil {
		t.Errorf("aud null: %v (%v), want none", null.Aud, err)
	}
	var o openid4vp.RequestObject
	if err := json.Unmarshal([]byte(`{"aud":7}`), &o); err == nil {
		t.Error("an aud of a number was read")
	}
	b, _ := json.Marshal(openid4vp.RequestObject{Aud: openid4vp.Audience{openid4vp.StaticAudience}})
	if !strings.Contains(string(b), `"aud":"https://self-issued.me/v2"`) {
		t.Errorf("one aud written as %s, want a string", b)
	}
	now, leeway := time.Unix(1_800_000_000, 0), time.Minute
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, c := range []struct {
		name string
		obj  openid4vp.RequestObject
		ok   bool
	}{
		{"no times", openid4vp.RequestObject{}, true},
		{"valid", openid4vp.RequestObject{Iat: at(-time.Minute), Nbf: at(-time.Minute), Exp: at(5 * time.Minute)}, true},
		{"within the leeway", openid4vp.RequestObject{Iat: at(30 * time.Second), Nbf: at(30 * time.Second), Exp: at(-30 * time.Second)}, true},
		{"expired", openid4vp.RequestObject{Exp: at(-2 * time.Minute)}, false},
		{"exp before 1970", openid4vp.RequestObject{Exp: -1}, false},
		{"not valid yet", openid4vp.RequestObject{Nbf: at(365 * 24 * time.Hour)}, false},
		{"issued in the future", openid4vp.RequestObject{Iat: at(365 * 24 * time.Hour)}, false},
	} {
		if err := c.obj.CheckTimes(now, leeway); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
		}
	}
	if err := (&openid4vp.RequestObject{Exp: at(-time.Hour)}).CheckTimes(now, leeway); !errors.Is(err, openid4vp.ErrRequestExpired) {
		t.Errorf("expired: %v, want ErrRequestExpired", err)
	}
}
