package openid4vp_test

import (
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// FuzzParseLink: any text as a request link never panics, and what is
// accepted has a client id and an https request URI.
func FuzzParseLink(f *testing.F) {
	f.Add("openid4vp://?client_id=x509_san_dns%3Abank.example&request_uri=https%3A%2F%2Fbank.example%2Fr%2F1&request_uri_method=post")
	f.Add("haip-vp://?client_id=a&request_uri=https://b/c")
	f.Add("https://wallet.example/?client_id=a&request_uri=http://b")
	f.Fuzz(func(t *testing.T, link string) {
		lr, err := openid4vp.ParseLink(link)
		if err != nil {
			return
		}
		if lr.ClientID == "" || len(lr.RequestURI) < len("https://x") || lr.RequestURI[:8] != "https://" {
			t.Fatalf("accepted %q as %+v", link, lr)
		}
	})
}

// FuzzCheckRequest: any JSON as a request object's payload never panics
// CheckRequest, which accepts only what names the link's client id and a
// query ParseQuery takes.
func FuzzCheckRequest(f *testing.F) {
	f.Add([]byte(`{"client_id":"redirect_uri:https://v.example/r","response_uri":"https://v.example/r","response_type":"vp_token",` +
		`"response_mode":"direct_post","nonce":"n","state":"s","dcql_query":{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:x"]}}]}}`))
	f.Add([]byte(`{"client_id":"redirect_uri:https://v.example/r","transaction_data":["e30"]}`))
	link := &openid4vp.LinkRequest{ClientID: "redirect_uri:https://v.example/r", RequestURI: "https://v.example/q"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var obj openid4vp.WalletRequest
		if json.Unmarshal(payload, &obj) != nil {
			return
		}
		q, err := openid4vp.CheckRequest(&obj, link, nil, "")
		if err != nil {
			return
		}
		if obj.ClientID != link.ClientID || q == nil || obj.TransactionData != nil || obj.ResponseURI != "https://v.example/r" {
			t.Fatalf("accepted %s", payload)
		}
	})
}
