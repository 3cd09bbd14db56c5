package server_test

import (
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// The wallet side of OpenID4VP (issue 11): our citizen answers a standard
// verifier's request through our app. Here the verifier is the service's
// own verifier side, reached over loopback TLS at the service's URL, so
// that the request object, its certificate chain and the VP Token go
// through the real protocol both ways; the Node verifier does the same
// from outside (openid4vp_interop_test.go).

// tlsWorld is the world on a harness serving TLS at https://localhost.
func tlsWorld(t *testing.T) (*harness, *world) {
	t.Helper()
	cert, _ := localhostCert(t)
	h := startHarness(t, servicetest.Open(t), cert)
	h.clock.Set(time.Now())
	return h, h.setup()
}

// signToSign signs each item of a preparation with the world's device.
func (w *world) signToSign(h *harness, items []api.ToSign) []string {
	h.t.Helper()
	var kbs []string
	for _, ts := range items {
		kbs = append(kbs, must(credentials.SignKB(w.device, credentials.KB{Nonce: ts.Nonce, Aud: ts.Aud,
			IssuedAt: h.clock.Now().Unix(), SDHash: ts.SDHash})))
	}
	return kbs
}

func TestOpenID4VPHolderAnswers(t *testing.T) {
	h, w := tlsWorld(t)
	for _, c := range []struct{ prefix, mode string }{
		{openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT},
		{openid4vp.PrefixX509Hash, openid4vp.DirectPost},
	} {
		t.Run(c.prefix+"/"+c.mode, func(t *testing.T) {
			req := w.newOID4VPRequest(h, c.prefix, c.mode)
			var view api.RequestView
			h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: req.QRText}, 200, &view)
			if view.Protocol != api.ProtocolOpenID4VP || view.Verified == nil || !*view.Verified || view.Verifier.ID != req.ClientID ||
				view.Verifier.Name != "Corner Pharmacy" || len(view.Claims) != 1 || view.Claims[0].Claim != "full_name" ||
				view.Claims[0].CredentialID != w.credential.CredentialID || len(view.Unsatisfied) != 0 || view.Status != api.RequestDelivered {
				t.Fatalf("resolved: %+v", view)
			}
			var prep api.RequestPrepared
			h.call("POST", "/v1/me/requests/"+view.RequestID+"/prepare", w.token, api.PrepareRequest{}, 200, &prep)
			if len(prep.ToSign) != 1 || prep.ToSign[0].Aud != req.ClientID || prep.ToSign[0].Nonce != req.Nonce {
				t.Fatalf("prepared: %+v", prep)
			}
			var approved api.RequestView
			h.call("POST", "/v1/me/requests/"+view.RequestID+"/approve", w.token,
				api.ApproveRequest{KBJWTs: w.signToSign(h, prep.ToSign)}, 200, &approved)
			if approved.Status != api.RequestApproved {
				t.Fatalf("approved: %+v", approved)
			}
			var res api.RequestResult
			h.call("GET", "/v1/verifier/requests/"+req.RequestID+"?wait=5", w.verifierKey, nil, 200, &res)
			if res.Status != api.RequestApproved || len(res.Result.Documents) != 1 {
				t.Fatalf("the verifier: %+v", res)
			}
		})
	}
	t.Run("decline", func(t *testing.T) {
		req := w.newOID4VPRequest(h, "", "")
		var view api.RequestView
		h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: req.QRText}, 200, &view)
		h.call("POST", "/v1/me/requests/"+view.RequestID+"/decline", w.token, nil, 200, &view)
		var res api.RequestResult
		h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
		if view.Status != api.RequestDeclined || res.Status != api.RequestDeclined {
			t.Errorf("declined: holder %s, verifier %s", view.Status, res.Status)
		}
	})
	t.Run("unsatisfiable", func(t *testing.T) {
		var req api.CreateRequestResponse
		h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{ID: "bank", Name: "Bank", Category: "bank",
			Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}}, 201, nil)
		var key api.NewAPIKey
		h.call("POST", "/v1/admin/verifiers/bank/api-keys", h.admin, nil, 201, &key)
		h.call("POST", "/v1/verifier/requests", key.Key, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Purpose: "Account",
			Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}}, 201, &req)
		var view api.RequestView
		h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: req.QRText}, 200, &view)
		if len(view.Unsatisfied) != 1 || view.Unsatisfied[0] != credentials.NationalID || len(view.Claims) != 0 {
			t.Fatalf("unsatisfiable: %+v", view)
		}
		wantError(t, h.request("POST", "/v1/me/requests/"+view.RequestID+"/prepare", w.token, "application/json", []byte(`{}`)), 409, "conflict")
	})
	t.Run("links refused", func(t *testing.T) {
		for _, link := range []string{
			"openid4vp://?client_id=x509_san_dns:localhost&request_uri=http://localhost/x",    // not https
			"openid4vp://?client_id=x509_san_dns:localhost&request_uri=https://10.0.0.1/x",    // private address
			"openid4vp://?client_id=x509_san_dns:localhost",                                   // by value
			"openid4vp://?client_id=a&request_uri=https://localhost/x&request_uri_method=PUT", // method
			"openid4vp://?client_id=a&client_id=b&request_uri=https://localhost/x",            // repeated
		} {
			resp := h.request("POST", `/v1/me/requests:resolve`, w.token, "application/json", mustJSON(t, api.ResolveRequest{QR: link}))
			if resp.StatusCode != 400 && resp.StatusCode != 422 {
				t.Errorf("%s: %d", link, resp.StatusCode)
			}
			resp.Body.Close()
		}
	})
}
