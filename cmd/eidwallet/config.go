package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// config is eidwallet serve's configuration: defaults, then EIDWALLET_*
// variables, then flags (SPEC §8).
type config struct {
	Addr        string
	DataDir     string
	Store       string
	PostgresDSN string
	// PostgresSchema is the schema the store's tables live in: every
	// replica of one deployment names the same one, and one database may
	// hold several deployments.
	PostgresSchema string
	// PGNotify makes replicas over PostgreSQL hear each other's changes
	// through LISTEN/NOTIFY; off, each waiter polls the store every second
	// (for PostgreSQL-compatible databases without LISTEN/NOTIFY, or
	// poolers that do not pass it on).
	PGNotify      bool
	PublicURL     string
	MasterKeyFile string
	LogFormat     string
	TLSCert       string
	TLSKey        string
	Demo          bool
	// DevLoopbackWebhooks also lets webhooks go to loopback addresses,
	// over plain http too (development and tests; SPEC §6).
	DevLoopbackWebhooks bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client, for rate limits per address (comma-separated CIDRs).
	TrustedProxies []netip.Prefix
	// NoMigrate starts without applying migrations: the PostgreSQL store
	// must be up to date (eidwallet migrate).
	NoMigrate bool
	// RateLimits are the limits of SPEC §6 (--limit-*), the deployment's
	// whatever the number of replicas (shared over PostgreSQL).
	RateLimits server.RateLimits
	// VerifierTrustAnchors is a PEM file of the CAs whose verifiers'
	// OpenID4VP requests citizens may answer through the wallet side
	// (x509_san_dns, x509_hash), beside the service's own verifier CA.
	VerifierTrustAnchors string
	// OutboundCA is a PEM file of CAs trusted for outbound TLS (webhooks,
	// OpenID4VP) beside the system's: a private PKI.
	OutboundCA string
	// BatchSize is how many one-time copies of each credential a device
	// with a key pool holds (issue 12).
	BatchSize int
	// AllowUnsafeDurability accepts a PostgreSQL session with fsync off or
	// synchronous_commit other than on or remote_apply (THREATS T31).
	AllowUnsafeDurability bool
}

// serveUsage heads eidwallet serve -h.
const serveUsage = `usage: eidwallet serve [flags]

Runs the wallet service. Every flag can also be set by the EIDWALLET_ variable
named after it (--data-dir → EIDWALLET_DATA_DIR); flags win.
`

// parseServeConfig reads the configuration of eidwallet serve.
func parseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	return parseConfig("serve", serveUsage, args, getenv, stderr, nil)
}

// parseConfig reads serve's configuration for command name: serve, and
// the operator commands that open its store the way it does (migrate,
// admin-token, public-url), so that they run with the replicas' own flags
// and variables. extra registers a command's own flags.
func parseConfig(name, usage string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*config, error) {
	env := func(name, def string) string { return envOr(getenv, name, def) }
	// envBool is a switch set by EIDWALLET_<name>=true or =1 (false or 0
	// to unset it); anything else is an error, not silently false.
	var envErr error
	envBool := func(name string, def bool) bool {
		v := env(name, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil && envErr == nil {
			envErr = fmt.Errorf("EIDWALLET_%s %q: want true or false (1 or 0)", name, v)
		}
		return b
	}
	c := &config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen `address`")
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "data"), "data `directory` (store, keys, admin token)")
	fs.StringVar(&c.Store, "store", env("STORE", "bolt"), "store: bolt (embedded) or postgres")
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", env("POSTGRES_DSN", ""), "PostgreSQL `DSN` (store postgres)")
	fs.StringVar(&c.PostgresSchema, "postgres-schema", env("POSTGRES_SCHEMA", postgres.DefaultSchema), "PostgreSQL `schema` of the store's tables (store postgres)")
	fs.BoolVar(&c.PGNotify, "pg-notify", envBool("PG_NOTIFY", true),
		"store postgres: replicas hear each other's changes by LISTEN/NOTIFY; false: waiters poll the store every second")
	fs.StringVar(&c.PublicURL, "public-url", env("PUBLIC_URL", ""), "`URL` clients reach the service at (default http://<addr>)")
	fs.StringVar(&c.MasterKeyFile, "master-key", env("MASTER_KEY", ""), "master key `file`, made on first start (default <data-dir>/master.key)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "json"), "log format: json or text")
	fs.StringVar(&c.TLSCert, "tls-cert", env("TLS_CERT", ""), "TLS certificate `file` (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", env("TLS_KEY", ""), "TLS key `file` (with --tls-cert)")
	proxies := fs.String("trusted-proxies", env("TRUSTED_PROXIES", ""), "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed")
	fs.BoolVar(&c.Demo, "demo", envBool("DEMO", false), "load demo issuers, a demo citizen and a demo verifier, and print a live QR")
	fs.BoolVar(&c.DevLoopbackWebhooks, "dev-loopback-webhooks", envBool("DEV_LOOPBACK_WEBHOOKS", false),
		"development only: also allow webhooks to loopback addresses, over plain http too")
	fs.StringVar(&c.VerifierTrustAnchors, "verifier-trust-anchors", env("VERIFIER_TRUST_ANCHORS", ""),
		"PEM `file` of the CAs of standard verifiers whose OpenID4VP requests citizens may answer (the service's own verifier CA is always trusted)")
	fs.StringVar(&c.OutboundCA, "outbound-ca", env("OUTBOUND_CA", ""),
		"PEM `file` of CAs trusted for outbound TLS (webhooks, OpenID4VP) beside the system's")
	batch, err := strconv.Atoi(env("BATCH_SIZE", strconv.Itoa(wallet.DefaultBatchSize)))
	if err != nil {
		return nil, fmt.Errorf("EIDWALLET_BATCH_SIZE %q: want a whole number", env("BATCH_SIZE", ""))
	}
	fs.IntVar(&c.BatchSize, "batch-size", batch,
		fmt.Sprintf("one-time `copies` of each credential a device with a key pool holds, 1 to %d (unlinkable presentations)", wallet.MaxBatchSize))
	fs.BoolVar(&c.NoMigrate, "no-migrate", envBool("NO_MIGRATE", false),
		"apply no PostgreSQL migration at start; refuse to start if one is missing (run eidwallet migrate)")
	fs.BoolVar(&c.AllowUnsafeDurability, "allow-unsafe-durability", envBool("ALLOW_UNSAFE_DURABILITY", false),
		"start on PostgreSQL with fsync off or synchronous_commit other than on or remote_apply (never in production)")
	if err := registerLimits(fs, &c.RateLimits, env); err != nil {
		return nil, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if envErr != nil {
		return nil, envErr
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// A DSN with no store named means PostgreSQL: the embedded store
	// beside it would be a new, empty file (a reset admin token nothing
	// reads). A DSN beside --store bolt is refused (Validate).
	storeNamed := env("STORE", "") != ""
	fs.Visit(func(f *flag.Flag) { storeNamed = storeNamed || f.Name == "store" })
	if c.PostgresDSN != "" && !storeNamed {
		c.Store = "postgres"
	}
	// Settings of the PostgreSQL store beside the embedded one mean a DSN
	// went missing (a misspelt EIDWALLET_POSTGRES_DSN, say): starting on a
	// new, empty bbolt file instead would hide it.
	if c.Store == "bolt" {
		for _, name := range []string{"postgres-schema", "pg-notify", "no-migrate", "allow-unsafe-durability"} {
			v := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			set := env(v, "") != ""
			fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
			if set {
				return nil, fmt.Errorf("--%s (EIDWALLET_%s) is a setting of --store postgres, and no PostgreSQL DSN is given: set --postgres-dsn (EIDWALLET_POSTGRES_DSN), or leave it out for the embedded store", name, v)
			}
		}
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %w", err)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	return c, c.Validate()
}

// Validate fails fast on a configuration that cannot work.
func (c *config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %w", c.Addr, err))
	}
	switch c.Store {
	case "bolt":
		if c.PostgresDSN != "" {
			errs = append(errs, errors.New("--postgres-dsn with --store bolt: give one store (a DSN alone means postgres)"))
		}
	case "postgres":
		if c.PostgresDSN == "" {
			errs = append(errs, errors.New("--store postgres needs --postgres-dsn (EIDWALLET_POSTGRES_DSN)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--store %q: want bolt or postgres", c.Store))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format %q: want json or text", c.LogFormat))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.PublicURL != "" {
		// It goes into every iss, status list uri and aud: a base URL only.
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || strings.Contains(c.PublicURL, "#") {
			errs = append(errs, fmt.Errorf("--public-url %q: want an http or https URL, with no user, query or fragment", c.PublicURL))
		}
	}
	if c.BatchSize < 1 || c.BatchSize > wallet.MaxBatchSize {
		errs = append(errs, fmt.Errorf("--batch-size %d: 1 to %d", c.BatchSize, wallet.MaxBatchSize))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err == nil {
		if n, err := strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
			errs = append(errs, fmt.Errorf("--addr %q: the port is 0 to 65535", c.Addr))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	return errors.Join(errs...)
}

// writeSecretFile writes a secret with mode 0600 (THREATS T27), whole or
// not at all: into a new file beside path (made 0600, whatever was there),
// synced, then renamed over it, so a crash or a second writer never
// leaves a torn or a world-readable one.
func writeSecretFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
