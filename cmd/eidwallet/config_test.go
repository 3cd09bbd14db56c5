package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/server"
	"golang.org/x/time/rate"
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
		"--store postgres":                              "--postgres-dsn",
		"--store mongo":                                 "want bolt or postgres",
		"--log-format xml":                              "json or text",
		"--tls-cert c.pem":                              "go together",
		"--addr nonsense":                               "--addr",
		"--public-url ftp://x":                          "http or https",
		"--trusted-proxies 10.0.0.0/33":                 "--trusted-proxies",
		"--data-dir d extra":                            "unexpected argument",
		"--store bolt --postgres-dsn postgres://db/eid": "give one store",
		"--public-url https://x.example/?a=b":           "no user, query or fragment",
		"--public-url https://x.example/#top":           "no user, query or fragment",
		"--public-url https://me@x.example":             "no user, query or fragment",
		"--public-url https://":                         "http or https",
		"--batch-size 0":                                "--batch-size 0: 1 to 64",
		"--batch-size 65":                               "--batch-size 65: 1 to 64",
		"--addr 127.0.0.1:99999":                        "the port is 0 to 65535",
		"--postgres-schema eid2":                        "a setting of --store postgres",
		"--no-migrate":                                  "a setting of --store postgres",
		"--pg-notify=false":                             "a setting of --store postgres",
		"--allow-unsafe-durability":                     "a setting of --store postgres",
	} {
		_, err := parseServeConfig(strings.Fields(args), func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", args, err, want)
		}
	}
}

// TestEnvSwitches: a switch variable is true or false (1 or 0); any other
// value is refused with its name, never read as false (EIDWALLET_NO_MIGRATE=yes
// once applied every migration).
func TestEnvSwitches(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "TRUE": true, "0": false, "false": false, "": false} {
		c, err := parseServeConfig(nil, func(k string) string {
			return map[string]string{"EIDWALLET_NO_MIGRATE": v, "EIDWALLET_POSTGRES_DSN": "postgres://db/eid"}[k]
		}, io.Discard)
		if err != nil || c.NoMigrate != want {
			t.Errorf("EIDWALLET_NO_MIGRATE=%q: %v (%v), want %v", v, c, err, want)
		}
	}
	for _, v := range []string{"yes", "on", "y"} {
		_, err := parseServeConfig(nil, func(k string) string { return map[string]string{"EIDWALLET_DEMO": v}[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "EIDWALLET_DEMO") {
			t.Errorf("EIDWALLET_DEMO=%q: %v, want an error naming it", v, err)
		}
	}
}

// TestSecretFileMode: a secret written over a file that was there is
// 0600 whatever that file's mode was (T27).
func TestSecretFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSecretFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

// TestDSNMeansPostgres: a DSN with no store named, by flag or variable,
// opens PostgreSQL — never a new, empty embedded store beside it (an
// admin token reset nothing reads).
func TestDSNMeansPostgres(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--postgres-dsn", "postgres://db/eid"}, nil},
		{nil, map[string]string{"EIDWALLET_POSTGRES_DSN": "postgres://db/eid"}},
	} {
		cfg, err := parseServeConfig(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", c.args, c.env, err)
		}
		if cfg.Store != "postgres" {
			t.Errorf("%v %v: store %q, want postgres", c.args, c.env, cfg.Store)
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
			switch k {
			case "EIDWALLET_PG_NOTIFY":
				return c.env
			case "EIDWALLET_POSTGRES_DSN":
				return "postgres://db/eid"
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

// TestLimitConfig: every rate limit is a serve flag and an EIDWALLET_LIMIT_*
// variable (flags win), with the defaults of server.DefaultRateLimits, and
// a figure that is not one is refused at start.
func TestLimitConfig(t *testing.T) {
	env := map[string]string{"EIDWALLET_LIMIT_SHARES_PER_HOLDER": "2/m,3", "EIDWALLET_LIMIT_VERIFY_PER_KEY": "9/s,9"}
	cfg, err := parseServeConfig([]string{"--limit-verify-per-key", "5/s,7", "--limit-enroll-per-addr", "off", "--limit-token-per-addr", "36/h,2"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	def := server.DefaultRateLimits()
	for name, c := range map[string]struct{ got, want server.Limit }{
		"verify per key (flag over variable)": {cfg.RateLimits.VerifyPerKey, server.Limit{Rate: 5, Burst: 7}},
		"shares per holder (variable)":        {cfg.RateLimits.SharesPerHolder, server.Limit{Rate: rate.Limit(2.0 / 60), Burst: 3}},
		"enroll per addr (off)":               {cfg.RateLimits.EnrollPerAddr, server.Limit{Rate: rate.Inf, Burst: 1}},
		"token per addr (per hour)":           {cfg.RateLimits.TokenPerAddr, server.Limit{Rate: rate.Limit(36.0 / 3600), Burst: 2}},
		"verify per addr (default)":           {cfg.RateLimits.VerifyPerAddr, def.VerifyPerAddr},
		"presence per holder (default)":       {cfg.RateLimits.PresencePerHolder, def.PresencePerHolder},
	} {
		// Rates are compared to within rounding (2/m is 1/30 a second);
		// off is rate.Inf on both sides, which only == compares.
		sameRate := c.got.Rate == c.want.Rate || math.Abs(float64(c.got.Rate-c.want.Rate)) < 1e-9
		if !sameRate || c.got.Burst != c.want.Burst {
			t.Errorf("%s: %+v, want %+v", name, c.got, c.want)
		}
	}
	for _, bad := range []string{"5", "5/s", "5/d,1", "0/s,1", "5/s,0", "-1/s,2", "x/s,2"} {
		if _, err := parseServeConfig([]string{"--limit-requests-per-key", bad}, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("--limit-requests-per-key %q accepted", bad)
		}
	}
	if _, err := parseServeConfig(nil, func(k string) string {
		return map[string]string{"EIDWALLET_LIMIT_PRESENCE_PER_HOLDER": "often"}[k]
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "EIDWALLET_LIMIT_PRESENCE_PER_HOLDER") {
		t.Errorf("EIDWALLET_LIMIT_PRESENCE_PER_HOLDER=often: %v", err)
	}
}

// TestOperatorCommandsSayWhatTheyCannot: public-url refuses the embedded
// store, which records no URL (a value set there would bind nothing), and
// -h is not a failure of any command.
func TestOperatorCommandsSayWhatTheyCannot(t *testing.T) {
	for _, action := range []string{"show", "set"} {
		args := []string{"public-url", action}
		if action == "set" {
			args = append(args, "https://new.example")
		}
		code, _, errOut := runCommand(t, append(args, "--data-dir", t.TempDir())...)
		if code != exitUsage || !strings.Contains(errOut, "embedded store records no public URL") {
			t.Errorf("public-url %s on the embedded store: exit %d, %s", action, code, errOut)
		}
	}
	for _, cmd := range []string{"serve", "verify-presentation", "verify-offline", "migrate", "admin-token"} {
		if code, out, errOut := runCommand(t, cmd, "-h"); code != exitOK || out+errOut == "" || strings.Contains(errOut, "help requested") {
			t.Errorf("%s -h: exit %d, %s%s", cmd, code, out, errOut)
		}
	}
}
