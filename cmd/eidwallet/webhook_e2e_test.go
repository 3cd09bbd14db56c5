package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// webhookAdmin starts `eidwallet serve` through run() with flags and
// returns an admin client with one verifier, shop, to set webhooks on.
func webhookAdmin(t *testing.T, logs *syncBuffer, flags ...string) *client.Admin {
	t.Helper()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, logs, flags...)
	t.Cleanup(srv.stop)
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := client.New(srv.url).Admin(strings.TrimSpace(string(token)))
	if _, err := admin.CreateVerifier(context.Background(), api.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail",
		Claims: map[string][]string{"national_id": {"full_name"}}}); err != nil {
		t.Fatal(err)
	}
	return admin
}

// wantURLRefused checks the SPEC §5 answer to a refused webhook URL: 400
// invalid_request, no reason, a description naming the rule.
func wantURLRefused(t *testing.T, err error, rule string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != api.CodeInvalidRequest || ce.Reason != "" {
		t.Fatalf("got %v, want 400 invalid_request", err)
	}
	if !strings.Contains(ce.Description, rule) {
		t.Errorf("description %q does not name the rule %q", ce.Description, rule)
	}
}

// TestWebhookURLPolicyOverHTTP: PUT /v1/admin/verifiers/{id}/webhook
// answers 400 invalid_request for every target that is not https to a
// public unicast address (SPEC §6 outbound requests, THREATS T36), the
// service's own admin API on loopback included. With
// --dev-loopback-webhooks, loopback is allowed in addition and nothing
// else, and the start-up log warns of it.
func TestWebhookURLPolicyOverHTTP(t *testing.T) {
	ctx := context.Background()
	t.Run("production", func(t *testing.T) {
		logs := &syncBuffer{}
		admin := webhookAdmin(t, logs)
		for _, c := range []struct{ url, rule string }{
			{"https://169.254.169.254/latest/meta-data/", "link-local"},
			{"https://10.0.0.1/hook", "private-use address (RFC 1918)"},
			{"https://192.168.1.1/hook", "private-use address (RFC 1918)"},
			{"https://172.16.0.1/hook", "private-use address (RFC 1918)"},
			{"https://[fd00::1]/hook", "unique local address (RFC 4193)"},
			{"https://[fe80::1]/hook", "link-local"},
			{"https://0.0.0.0/hook", "unspecified"},
			{"https://100.64.0.1/hook", "carrier-grade NAT"},
			{"https://[::1]/hook", "loopback"},
			{"https://[::ffff:127.0.0.1]/hook", "loopback"},
			{"https://0x7f000001/hook", "standard form"},
			{"https://127.1/hook", "standard form"},
			{"https://2130706433/hook", "standard form"},
			{"http://example.com/hook", "the scheme must be https"},
			{"http://127.0.0.1:9/hook", "loopback"},                        // loopback http without the flag
			{"https://127.0.0.1:8080/v1/admin/verifiers/shop", "loopback"}, // a port on loopback: the admin API
		} {
			_, err := admin.SetVerifierWebhook(ctx, "shop", c.url)
			wantURLRefused(t, err, c.rule)
		}
		if wh, err := admin.SetVerifierWebhook(ctx, "shop", "https://hooks.example/eidwallet"); err != nil || !strings.HasPrefix(wh.Secret, "whsec_") {
			t.Errorf("a public https URL: %+v %v", wh, err)
		}
		if strings.Contains(logs.String(), "--dev-loopback-webhooks") {
			t.Error("the development-mode warning is logged without the flag")
		}
	})

	t.Run("--dev-loopback-webhooks", func(t *testing.T) {
		logs := &syncBuffer{}
		admin := webhookAdmin(t, logs, "--dev-loopback-webhooks")
		if !strings.Contains(logs.String(), `"level":"WARN","msg":"development mode: webhooks may go to loopback addresses`) {
			t.Errorf("no start-up warning of development mode:\n%s", logs.String())
		}
		for _, u := range []string{"http://127.0.0.1:9/hook", "http://[::1]:9/hook", "https://127.0.0.1:8443/hook"} {
			if _, err := admin.SetVerifierWebhook(ctx, "shop", u); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}
		for _, c := range []struct{ url, rule string }{
			{"http://10.0.0.1/hook", "private-use"},
			{"https://169.254.169.254/", "link-local"},
			{"https://[fd00::1]/", "unique local"},
			{"https://[fe80::1]/", "link-local"},
			{"http://example.com/hook", "plain http only to a loopback address"},
		} {
			_, err := admin.SetVerifierWebhook(ctx, "shop", c.url)
			wantURLRefused(t, err, c.rule)
		}
	})
}

// TestDevLoopbackWebhooksConfig: the flag and EIDWALLET_DEV_LOOPBACK_WEBHOOKS
// turn development mode on; it is off by default.
func TestDevLoopbackWebhooksConfig(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", false},
		{[]string{"--dev-loopback-webhooks"}, "", true},
		{nil, "1", true},
		{nil, "true", true},
		{nil, "0", false},
		{[]string{"--dev-loopback-webhooks=false"}, "1", false},
	} {
		cfg, err := parseServeConfig(c.args, func(k string) string {
			if k == "EIDWALLET_DEV_LOOPBACK_WEBHOOKS" {
				return c.env
			}
			return ""
		}, io.Discard)
		if err != nil || cfg.DevLoopbackWebhooks != c.want {
			t.Errorf("args %v env %q: %v %v, want %v", c.args, c.env, cfg != nil && cfg.DevLoopbackWebhooks, err, c.want)
		}
	}
}
