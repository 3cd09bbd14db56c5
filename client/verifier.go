package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/eidwallet/eidwallet/wallet"
)

// Verifier is a relying party's view of the API (bearer: a verifier API
// key).
type Verifier struct {
	c      *Client
	apiKey string
}

// Verifier returns the relying-party view authenticated by apiKey.
func (c *Client) Verifier(apiKey string) *Verifier { return &Verifier{c: c, apiKey: apiKey} }

// Verify redeems a scanned QR text (SPEC §3.3 step 4). A share is redeemed
// at most its max_uses times: do not retry a call that may have reached the
// service without checking the verifier log first. A failed check is an
// *Error (422 verification_failed with its Reason, 409, 410, 403, 503).
func (v *Verifier) Verify(ctx context.Context, qrText string) (*wallet.VerifyResponse, error) {
	var out wallet.VerifyResponse
	if err := v.c.do(ctx, v.apiKey, http.MethodPost, "/v1/verify", wallet.VerifyRequest{QR: qrText}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verifications lists the verifier's own log, newest first; limit 0 lets
// the service choose.
func (v *Verifier) Verifications(ctx context.Context, limit int) (*wallet.VerificationsResponse, error) {
	cl, err := jsonCall(http.MethodGet, "/v1/verifier/verifications", nil)
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		cl.query = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	resp, err := v.c.roundTrip(ctx, cl, v.apiKey)
	if err != nil {
		return nil, err
	}
	var out wallet.VerificationsResponse
	if err := v.c.decode(resp, cl, &out, v.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}
