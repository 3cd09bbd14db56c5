package wallet

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// TestUnreachableSaysNoInternals: an outbound request that got no answer
// is said without the resolver's or a socket's address and without Go's
// words (SPEC §5), and still wraps its error.
func TestUnreachableSaysNoInternals(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://insurer.example/.well-known/jwt-vc-issuer",
			Err: &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 443}, Err: err}}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{dial(&net.DNSError{Err: "no such host", Name: "insurer.example", Server: "10.255.255.53:53", IsNotFound: true}), "the host name does not resolve"},
		{dial(&net.DNSError{Err: "i/o timeout", Name: "insurer.example", Server: "10.255.255.53:53", IsTimeout: true}), "no answer in time"},
		{dial(&refusedAddrError{rule: "a private address"}), "the address is refused: a private address"},
		{dial(errors.New("connect: connection refused")), "the host cannot be reached"},
	} {
		u := &unreachable{c.err}
		if got := u.Error(); got != c.want {
			t.Errorf("%v: said %q, want %q", c.err, got, c.want)
		}
		for _, internal := range []string{"10.255.255.53", "10.0.0.7", "dial tcp", "lookup"} {
			if strings.Contains(u.Error(), internal) {
				t.Errorf("%q tells %q", u.Error(), internal)
			}
		}
		if !errors.Is(u, c.err) {
			t.Errorf("%v is not wrapped", c.err)
		}
	}
	if !errors.Is(&unreachable{dial(context.DeadlineExceeded)}, context.DeadlineExceeded) {
		t.Error("a deadline is not wrapped")
	}
}

// TestRemoteRequestChecksItsResponseURI: a verifier's response URI that
// the outbound policy refuses is refused when the request is resolved,
// before the citizen can approve it, so that no approval is recorded for
// an answer that cannot be delivered.
func TestRemoteRequestChecksItsResponseURI(t *testing.T) {
	obj := &openid4vp.WalletRequest{RequestObject: openid4vp.RequestObject{ClientID: "redirect_uri:https://verifier.example/r",
		ResponseMode: openid4vp.DirectPost, Nonce: "n", State: "s"}}
	for _, uri := range []string{"https://10.1.2.3/resp", "https://169.254.169.254/resp", "https://[::1]/resp", "http://verifier.example/resp"} {
		obj.ResponseURI = uri
		if _, err := remoteRequest(obj, nil, outboundPolicy{}); ErrorCode(err) != api.CodeInvalidRequest {
			t.Errorf("response_uri %s: %v, want invalid_request", uri, err)
		}
	}
	obj.ResponseURI = "https://verifier.example/resp"
	if rr, err := remoteRequest(obj, nil, outboundPolicy{}); err != nil || rr.ResponseURI != obj.ResponseURI {
		t.Errorf("a public https response_uri: %+v %v", rr, err)
	}
}
