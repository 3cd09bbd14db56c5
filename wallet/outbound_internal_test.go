package wallet

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
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

// TestRemoteRequestRefusesHiddenText: a verifier elsewhere whose client
// identifier or certificate's organization holds a line break, a line
// separator or a bidi override is refused when the request is resolved,
// as one of our own verifiers' names would be: the citizen reads both on
// the consent screen.
func TestRemoteRequestRefusesHiddenText(t *testing.T) {
	for _, c := range []struct {
		clientID, org string
	}{
		{"redirect_uri:https://verifier.example/r\u2028\u2028National Police", ""},
		{"redirect_uri:https://verifier.example/r\u202e", ""},
		{"redirect_uri:https://verifier.example/r\n", ""},
		{"x509_san_dns:verifier.example", "Shop\u2029Police — verified"},
		{"x509_san_dns:verifier.example", "Shop\x1b[2J"},
	} {
		obj := &openid4vp.WalletRequest{RequestObject: openid4vp.RequestObject{ClientID: c.clientID,
			ResponseURI: "https://verifier.example/r", ResponseMode: openid4vp.DirectPost, Nonce: "n"}}
		var leaf *x509.Certificate
		if c.org != "" {
			leaf = &x509.Certificate{Subject: pkix.Name{Organization: []string{c.org}}}
		}
		if _, err := remoteRequest(obj, leaf, outboundPolicy{}); ErrorCode(err) != api.CodeInvalidRequest {
			t.Errorf("client_id %q, organization %q: %v, want invalid_request", c.clientID, c.org, err)
		}
	}
	obj := &openid4vp.WalletRequest{RequestObject: openid4vp.RequestObject{ClientID: "x509_san_dns:verifier.example",
		ResponseURI: "https://verifier.example/r", ResponseMode: openid4vp.DirectPost, Nonce: "n"}}
	leaf := &x509.Certificate{Subject: pkix.Name{Organization: []string{"Apotheke Zürich\u200d"}}}
	if rr, err := remoteRequest(obj, leaf, outboundPolicy{}); err != nil || rr.Name != "Apotheke Zürich\u200d" {
		t.Errorf("a plain organization: %+v %v", rr, err)
	}
}
