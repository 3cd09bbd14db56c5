package openid4vp

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/credentials"
)

// OAuth error codes of an authorization error response (RFC 6749 §4.1.2.1,
// OpenID4VP 1.0 §8.5).
const (
	ErrInvalidRequest         = "invalid_request"
	ErrAccessDenied           = "access_denied"
	ErrInvalidClient          = "invalid_client"
	ErrVPFormatsNotSupported  = "vp_formats_not_supported"
	ErrInvalidRequestURI      = "invalid_request_uri_method"
	ErrInvalidTransactionData = "invalid_transaction_data"
	ErrWalletUnavailable      = "wallet_unavailable"
)

// MaxResponseBytes caps the body a response URI reads.
const MaxResponseBytes = 512 << 10

// Response is an authorization response as the response URI receives it
// (§8.1, §8.2): a VP Token or an error, with the request's state.
type Response struct {
	// VPToken maps each credential query id to its presentations; for
	// dc+sd-jwt each is the compact SD-JWT+KB (§B.3.6).
	VPToken          map[string][]string
	State            string
	Error            string
	ErrorDescription string
	// Encrypted is the response parameter of direct_post.jwt (§8.3.1),
	// still encrypted; ParseForm leaves the other fields empty then.
	Encrypted string
}

// responsePayload is what a direct_post body or an encrypted response's
// plaintext carries; in the plaintext vp_token is a JSON object (§8.3),
// in the form a JSON-encoded string (§8.2).
type responsePayload struct {
	VPToken          jsontext.Value `json:"vp_token"`
	State            string         `json:"state"`
	Error            string         `json:"error"`
	ErrorDescription string         `json:"error_description"`
}

// ParseForm reads a direct_post or direct_post.jwt body, already read
// under MaxResponseBytes: each parameter at most once (RFC 6749 §3.1),
// either response, or vp_token, or error.
func ParseForm(form url.Values) (*Response, error) {
	for name, v := range form {
		if len(v) > 1 {
			return nil, fmt.Errorf("%s appears more than once", name)
		}
	}
	p := responsePayload{State: form.Get("state"), Error: form.Get("error"), ErrorDescription: form.Get("error_description")}
	token := form.Get("vp_token")
	if enc := form.Get("response"); enc != "" {
		if token != "" || p.Error != "" {
			return nil, errors.New("response comes alone: vp_token and error go inside it")
		}
		return &Response{Encrypted: enc, State: p.State}, nil
	}
	if token != "" {
		p.VPToken = jsontext.Value(token)
	}
	return p.response()
}

// ParsePayload reads the plaintext of an encrypted response (§8.3): the
// response parameters as top-level members.
func ParsePayload(plain []byte) (*Response, error) {
	if len(plain) > MaxResponseBytes {
		return nil, fmt.Errorf("response over %d bytes", MaxResponseBytes)
	}
	var p responsePayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, errors.New(credentials.JSONFault(err, "the response payload"))
	}
	return p.response()
}

// response checks that exactly one of vp_token and error is there and
// decodes the VP Token strictly (§8.1): an object of non-empty arrays of
// strings, no name twice.
func (p *responsePayload) response() (*Response, error) {
	r := &Response{State: p.State, Error: p.Error, ErrorDescription: p.ErrorDescription}
	switch {
	case p.Error != "" && p.VPToken != nil:
		return nil, errors.New("both vp_token and error")
	case p.Error != "":
		return r, nil
	case p.VPToken == nil:
		return nil, errors.New("vp_token is missing")
	}
	if err := json.Unmarshal(p.VPToken, &r.VPToken); err != nil {
		return nil, fmt.Errorf("vp_token, an object of arrays of presentations: %s", credentials.JSONFault(err, "vp_token"))
	}
	if len(r.VPToken) == 0 || len(r.VPToken) > MaxQueryItems {
		return nil, fmt.Errorf("vp_token: 1 to %d entries", MaxQueryItems)
	}
	for id, ps := range r.VPToken {
		if len(ps) == 0 || len(ps) > MaxQueryItems {
			return nil, fmt.Errorf("vp_token: %q: 1 to %d presentations", id, MaxQueryItems)
		}
	}
	return r, nil
}
