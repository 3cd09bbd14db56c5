package main

import (
	"io"
	"strings"
	"testing"
)

func TestServeConfig(t *testing.T) {
	env := map[string]string{"EIDWALLET_DATA_DIR": "/srv/eid", "EIDWALLET_ADDR": "127.0.0.1:9000", "EIDWALLET_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1/32"}
	c, err := parseServeConfig([]string{"--addr", "127.0.0.1:9443"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9443" || c.DataDir != "/srv/eid" || c.MasterKeyFile != "/srv/eid/master.key" || len(c.TrustedProxies) != 2 {
		t.Errorf("config: %+v", c)
	}
	for args, want := range map[string]string{
		"--store postgres":              "--postgres-dsn",
		"--store mongo":                 "want bolt or postgres",
		"--log-format xml":              "json or text",
		"--tls-cert c.pem":              "go together",
		"--addr nonsense":               "--addr",
		"--public-url ftp://x":          "http or https",
		"--trusted-proxies 10.0.0.0/33": "--trusted-proxies",
		"--data-dir d extra":            "unexpected argument",
	} {
		_, err := parseServeConfig(strings.Fields(args), func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", args, err, want)
		}
	}
}

// TestPGNotifyConfig: LISTEN/NOTIFY is on by default; --pg-notify=false
// or EIDWALLET_PG_NOTIFY=false turns it off (flags win); a value that is
// not a boolean is refused. The schema defaults to postgres.DefaultSchema.
func TestPGNotifyConfig(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", true},
		{[]string{"--pg-notify=false"}, "", false},
		{nil, "false", false},
		{nil, "0", false},
		{nil, "true", true},
		{[]string{"--pg-notify"}, "false", true},
	} {
		cfg, err := parseServeConfig(c.args, func(k string) string {
			if k == "EIDWALLET_PG_NOTIFY" {
				return c.env
			}
			return ""
		}, io.Discard)
		if err != nil || cfg.PGNotify != c.want || cfg.PostgresSchema != "eidwallet" {
			t.Errorf("args %v env %q: %+v %v, want PGNotify %v", c.args, c.env, cfg, err, c.want)
		}
	}
	_, err := parseServeConfig(nil, func(k string) string {
		if k == "EIDWALLET_PG_NOTIFY" {
			return "sometimes"
		}
		return ""
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "EIDWALLET_PG_NOTIFY") {
		t.Errorf("EIDWALLET_PG_NOTIFY=sometimes: %v", err)
	}
}
