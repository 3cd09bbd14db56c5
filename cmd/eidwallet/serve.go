package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// serve runs the wallet service until ctx is done, then shuts down
// gracefully: in-flight requests finish, the store closes cleanly.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseServeConfig(args, getenv, stderr)
	if code, done := configExit("serve", err, stderr); done {
		return code
	}
	log := newLogger(cfg.LogFormat, stderr)
	if err := runServer(ctx, cfg, log, stdout); err != nil {
		log.Error("serve", "err", err)
		fmt.Fprintf(stderr, "eidwallet serve: %v\n", err)
		return exitInvalid
	}
	return exitOK
}

// newLogger logs in format to w; records logged with a request's context,
// the service's included, carry its request id (server.LogHandler).
func newLogger(format string, w io.Writer) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, nil)
	if format == "text" {
		h = slog.NewTextHandler(w, nil)
	}
	return slog.New(server.LogHandler(h))
}

// openStore opens the store cfg names: the bbolt file in the data dir
// (the embedded default), or the PostgreSQL database at the DSN, shared
// by every server started on it (SPEC §8).
func openStore(ctx context.Context, cfg *config) (wallet.Store, error) {
	if cfg.Store == "postgres" {
		s, err := openPostgres(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := bolt.Open(filepath.Join(cfg.DataDir, "eidwallet.db"))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// storeWait is how long serve waits at start for a PostgreSQL it cannot
// reach (down, restarting, not yet up beside it), so that a replica
// started during an outage comes up when the database does, as running
// replicas ride one out. A database that answers and refuses (password,
// database name, durability) stops the start at once.
const storeWait = 2 * time.Minute

// openServedStore is openStore for serve: on PostgreSQL it tries again,
// every second at first and every 10 at most, while the database is
// unreachable, for up to storeWait, saying so in the log.
func openServedStore(ctx context.Context, cfg *config, log *slog.Logger) (wallet.Store, error) {
	deadline := time.Now().Add(storeWait)
	for pause := time.Second; ; pause = min(2*pause, 10*time.Second) {
		store, err := openStore(ctx, cfg)
		if err == nil || !postgres.Unreachable(err) || time.Now().Add(pause).After(deadline) {
			return store, err
		}
		log.Warn("postgres unreachable; trying again", "in", pause.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (stopped while waiting for PostgreSQL)", err)
		case <-time.After(pause):
		}
	}
}

// newNotifier is what lets each replica's waiters hear of the others'
// changes: LISTEN/NOTIFY over PostgreSQL, or polling every second when
// cfg turns it off; nil for bbolt (the service's in-process hub). stop
// ends it, before the store closes.
func newNotifier(cfg *config, store wallet.Store, log *slog.Logger) (n wallet.Notifier, stop func()) {
	ps, ok := store.(*postgres.Store)
	switch {
	case !ok:
		return nil, func() {}
	case !cfg.PGNotify:
		log.Info("postgres notifications off (--pg-notify=false): waiters poll the store every second")
		return wallet.NewHub(time.Second), func() {}
	}
	pn := postgres.NewNotifier(ps, log)
	return pn, pn.Close
}

func runServer(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	// What the command line names is read, and the address taken, before
	// any file is written (operations.md): the TLS and certificate files,
	// the listener, then the data dir made or tightened, and the master
	// key's directory checked before the store is opened or made.
	tlsCert, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	anchors, err := readCertificates(cfg.VerifierTrustAnchors)
	if err != nil {
		return fmt.Errorf("--verifier-trust-anchors: %w", err)
	}
	outboundRoots, err := outboundRoots(cfg.OutboundCA)
	if err != nil {
		return fmt.Errorf("--outbound-ca: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	// The address answers from now on: as a process up and not ready
	// (server.Starting) until the service is, so that nothing is misled
	// while a replica waits for its database (operations.md).
	var ready atomic.Pointer[http.Handler]
	starting := server.Starting()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := ready.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			starting.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // bulk issuance streams
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Over TLS, HTTP/2 buffers what a client sends ahead of the
		// handler, up to its flow-control windows, even for a request
		// whose body is never read (a long-poll's): 64 KiB a connection,
		// not 1 MiB, so that held streams cannot hold the memory (T22).
		HTTP2: &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10},
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCert != nil {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*tlsCert}}
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	defer srv.Close() // a start that fails; after Shutdown, nothing more
	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	if err := wallet.CheckKeyDir(filepath.Dir(cfg.MasterKeyFile)); err != nil {
		return fmt.Errorf("--master-key %s: %w", cfg.MasterKeyFile, err)
	}
	store, err := openServedStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	// A master key is made on the first start only: a store that holds
	// records sealed with one and a key file gone is the operator's to
	// restore, not a new key's to paper over.
	sealed, err := wallet.Sealed(ctx, store)
	if err != nil {
		return err
	}
	master, created, err := wallet.LoadOrCreateMasterKey(cfg.MasterKeyFile, rand.Reader, !sealed)
	if errors.Is(err, wallet.ErrNoMasterKey) {
		return fmt.Errorf("%w, and the store already holds records sealed with one: "+
			"restore that key file (from where it is backed up) or give it with --master-key; a new key would open none of them", err)
	}
	if err != nil {
		return err
	}
	if created {
		log.Info("master key created", "path", cfg.MasterKeyFile)
	}
	keys, err := wallet.DeriveKeys(master)
	if err != nil {
		return err
	}
	notifier, stopNotifier := newNotifier(cfg, store, log)
	defer stopNotifier()
	if ps, ok := store.(*postgres.Store); ok {
		for _, m := range ps.Applied() {
			log.Info("migration applied", "version", m.Version, "name", m.Name)
		}
	}

	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	localURL := scheme + "://" + ln.Addr().String()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = localURL
	}

	if cfg.Store == "postgres" {
		// Replicas must agree on the URL that is in every iss (SPEC §8).
		if err := wallet.CheckPublicURL(ctx, store, publicURL); err != nil {
			if errors.Is(err, wallet.ErrPublicURLChanged) {
				err = fmt.Errorf("%w\nhint: every replica must run with the same --public-url (EIDWALLET_PUBLIC_URL); "+
					"to change it deliberately, stop every replica and run eidwallet public-url set URL with the store's flags", err)
			}
			return err
		}
	}

	types, err := credentials.NewRegistry(credentials.BuiltinTypes()...)
	if err != nil {
		return err
	}
	svc, err := wallet.New(ctx, wallet.Config{
		Store: store, Keys: keys, PublicURL: publicURL, Types: types,
		Now: time.Now, Rand: rand.Reader, Logger: log, AllowLoopbackWebhooks: cfg.DevLoopbackWebhooks, Notifier: notifier,
		VerifierTrustAnchors: anchors, OutboundRoots: outboundRoots, BatchSize: cfg.BatchSize,
	})
	if err != nil {
		return err
	}
	if cfg.DevLoopbackWebhooks {
		log.Warn("development mode: webhooks may go to loopback addresses over plain http, the service's own admin API among them; never use --dev-loopback-webhooks in production")
	}
	defer svc.Close() // after the HTTP server has shut down: webhooks in flight stop
	adminToken, err := svc.BootstrapAdmin(ctx)
	if err != nil {
		return err
	}
	tokenPath := filepath.Join(cfg.DataDir, "admin-token")
	if adminToken != "" {
		if err := writeSecretFile(tokenPath, []byte(adminToken+"\n")); err != nil {
			return fmt.Errorf("write admin token: %w", err)
		}
		fmt.Fprintf(stdout, "First start: the admin token is in %s (mode 0600).\n", tokenPath)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if bs, ok := store.(*bolt.Store); ok {
		reg.MustRegister(writerMetrics(bs)...)
	}
	var shared server.SharedBuckets
	if cfg.Store == "postgres" {
		shared = svc // every replica takes from the same buckets
	}
	handler := server.New(server.Config{Service: svc, Logger: log, Registerer: reg, Gatherer: reg, TrustedProxies: cfg.TrustedProxies,
		RateLimits: cfg.RateLimits, SharedLimits: shared})
	ready.Store(&handler)
	log.Info("listening", "addr", ln.Addr().String(), "public_url", publicURL, "store", cfg.Store)
	fmt.Fprintf(stdout, "eidwallet is listening on %s\n", localURL)

	if cfg.Demo {
		if err := runDemo(ctx, localURL, publicURL, tlsCert, store, keys, cfg.DataDir, tokenPath, stdout); err != nil {
			log.Error("demo data", "err", err)
			fmt.Fprintf(stdout, "demo data could not be loaded: %v\n", err)
		}
	}

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// readCertificates reads the certificates of a PEM file ("" : none).
func readCertificates(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate in the file")
	}
	return certs, nil
}

// outboundRoots is the system's CA pool with the certificates of path
// added (nil, the system's alone, when path is "").
func outboundRoots(path string) (*x509.CertPool, error) {
	certs, err := readCertificates(path)
	if err != nil || certs == nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// loadTLS reads the TLS certificate and key of cfg (nil when it has none)
// before anything else starts, so that a missing, broken or exposed file
// stops the start instead of being found after "listening" is printed. The
// key file is held to the master key's rule (wallet.CheckPrivate).
func loadTLS(cfg *config) (*tls.Certificate, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	if err := wallet.CheckPrivate(cfg.TLSKey); err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	return &cert, nil
}

// writerMetrics are the embedded store's single writer at each scrape
// (bolt.WriterStats): commits, the writes they carried, and the time it
// was held, whose rate near 1 says writes queue for it.
func writerMetrics(bs *bolt.Store) []prometheus.Collector {
	counter := func(name, help string, v func(bolt.WriterStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(bs.WriterStats()) })
	}
	return []prometheus.Collector{
		counter("eidwallet_store_commits_total", "Write transactions the embedded store committed, each one fsync.",
			func(st bolt.WriterStats) float64 { return float64(st.Commits) }),
		counter("eidwallet_store_writes_total", "Writes the embedded store's commits carried: more than commits is fsyncs shared.",
			func(st bolt.WriterStats) float64 { return float64(st.Writes) }),
		counter("eidwallet_store_writer_busy_seconds_total", "Time the embedded store's single writer was held, fsync included: a rate near 1 means writes queue for it.",
			func(st bolt.WriterStats) float64 { return st.Busy.Seconds() }),
	}
}
