package wallet_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// refusedWebhookURLs are webhook targets refused when they are set (SPEC
// §6 outbound requests, THREATS T36), each with the words of the rule the
// answer must name.
var refusedWebhookURLs = []struct{ url, rule string }{
	{"https://169.254.169.254/latest/meta-data/", "link-local"},
	{"https://[::ffff:169.254.169.254]/", "link-local"},
	{"https://[64:ff9b::a9fe:a9fe]/", "NAT64 address (RFC 6052) of a link-local"},
	{"https://10.0.0.1/hook", "private-use address (RFC 1918)"},
	{"https://192.168.1.1/hook", "private-use address (RFC 1918)"},
	{"https://172.16.0.1/hook", "private-use address (RFC 1918)"},
	{"https://[fd00::1]/hook", "unique local address (RFC 4193)"},
	{"https://[fe80::1]/hook", "link-local"},
	{"https://[fe80::1%25eth0]/hook", "zone"},
	{"https://[fec0::1]/hook", "outside the IPv6 global unicast space"},
	{"https://0.0.0.0/hook", "unspecified"},
	{"https://[::]/hook", "unspecified"},
	{"https://0.1.2.3/hook", `"this network"`},
	{"https://100.64.0.1/hook", "carrier-grade NAT (RFC 6598)"},
	{"https://198.18.0.1/hook", "benchmarking address (RFC 2544)"},
	{"https://192.0.0.8/hook", "IETF protocol assignment"},
	{"https://192.0.2.1/hook", "documentation address (RFC 5737)"},
	{"https://203.0.113.7/hook", "documentation address (RFC 5737)"},
	{"https://[2001:db8::1]/hook", "documentation address (RFC 3849)"},
	{"https://[2001::1]/hook", "Teredo"},
	{"https://[2002:7f00:1::1]/hook", "6to4"},
	{"https://224.0.0.1/hook", "multicast"},
	{"https://[ff02::1]/hook", "multicast"},
	{"https://255.255.255.255/hook", "broadcast"},
	{"https://[::1]/hook", "loopback"},
	{"https://[::ffff:127.0.0.1]/hook", "loopback"},
	{"https://127.0.0.1:8443/hook", "loopback"},
	{"http://127.0.0.1:8080/v1/admin/verifiers", "loopback"},
	{"https://0x7f000001/hook", "standard form"},
	{"https://0X7F000001/hook", "standard form"},
	{"https://127.1/hook", "standard form"},
	{"https://2130706433/hook", "standard form"},
	{"https://0177.0.0.1/hook", "standard form"},
	{"https://127.0.0.1./hook", "standard form"},
	{"https://%31%32%37.0.0.1/hook", "absolute https URL"},
	{"http://example.com/hook", "scheme must be https"},
	{"http://localhost:8080/hook", "scheme must be https"},
	{"ftp://hooks.example/", "scheme must be https"},
	{"https://user:pass@hooks.example/", "user name or password"},
	{"https://hooks_example.test/", "DNS name"},
	{"https://-hooks.example/", "DNS name"},
	{"https://hooks.example:0/", "port must be 1 to 65535"},
	{"https://hooks.example:65536/", "port must be 1 to 65535"},
	{"not a url", "absolute https URL"},
	{"/hooks/relative", "absolute https URL"},
	{"https://hooks.example/" + strings.Repeat("a", 2048), "at most 2048 bytes"},
}

// TestWebhookURLPolicy: a webhook URL is set only if it is https to a
// public unicast address or a DNS name; any other is 400 invalid_request
// naming the rule it broke. In development mode loopback is allowed in
// addition (plain http too), and nothing else.
func TestWebhookURLPolicy(t *testing.T) {
	ctx := context.Background()
	set := func(t *testing.T, svc *wallet.Service, admin *wallet.Principal, u string) error {
		t.Helper()
		_, err := svc.SetVerifierWebhook(ctx, admin, "shop", api.WebhookRequest{URL: &u})
		return err
	}
	wantRefused := func(t *testing.T, err error, rule string) {
		t.Helper()
		var e *wallet.Error
		if !errors.As(err, &e) || e.Code != api.CodeInvalidRequest || e.Reason != "" {
			t.Fatalf("%v, want invalid_request", err)
		}
		if !strings.HasPrefix(e.Message, "url: ") || !strings.Contains(e.Message, rule) {
			t.Errorf("message %q does not name the rule %q", e.Message, rule)
		}
	}
	accepted := []string{
		"https://hooks.example/eidwallet?tenant=7",
		"https://hooks.example:8443/eidwallet",
		"https://HOOKS.Example./x",
		"https://xn--bcher-kva.example/x",
		"https://8.8.8.8/hook",
		"https://[2606:4700:4700::1111]/hook",
		"https://[::ffff:8.8.8.8]/hook",
		"https://[64:ff9b::808:808]/hook", // NAT64 of a public address
		"https://localhost:8443/hook",     // a name: judged where it resolves, at dial (TestWebhookDialChecksResolvedAddress)
	}

	t.Run("production", func(t *testing.T) {
		r := newReqEnv(t, wallet.Config{})
		for _, c := range refusedWebhookURLs {
			t.Run(c.url[:min(len(c.url), 60)], func(t *testing.T) { wantRefused(t, set(t, r.svc, r.admin, c.url), c.rule) })
		}
		for _, u := range accepted {
			if err := set(t, r.svc, r.admin, u); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}
	})

	t.Run("development mode: loopback in addition, nothing else", func(t *testing.T) {
		r := newReqEnv(t, wallet.Config{AllowLoopbackWebhooks: true})
		for _, u := range []string{"http://127.0.0.1:9/hook", "https://127.0.0.1:8443/hook", "http://127.9.9.9/hook", "http://[::1]:9/hook", "http://[::ffff:127.0.0.1]:9/hook"} {
			if err := set(t, r.svc, r.admin, u); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}
		for _, c := range []struct{ url, rule string }{
			{"http://10.0.0.1/hook", "private-use"},
			{"https://10.0.0.1/hook", "private-use"},
			{"https://169.254.169.254/", "link-local"},
			{"https://[fd00::1]/", "unique local"},
			{"https://[fe80::1]/", "link-local"},
			{"https://0.0.0.0/", "unspecified"},
			{"https://100.64.0.1/", "carrier-grade NAT"},
			{"https://[64:ff9b::7f00:1]/", "NAT64 address (RFC 6052) of a loopback"},
			{"https://127.1/", "standard form"},
			{"http://example.com/hook", "plain http only to a loopback address"},
			{"http://localhost:9/hook", "plain http only to a loopback address"},
		} {
			wantRefused(t, set(t, r.svc, r.admin, c.url), c.rule)
		}
	})
}
