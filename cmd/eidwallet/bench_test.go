package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// SPEC §7: verify (redeem) throughput ≥ 80% of a bare handler that does one
// ES256 verification and answers JSON, measured side by side over loopback
// with the same client concurrency; every redemption durable before its
// reply; p99 recorded. Run both:
//
//	go test -run '^$' -bench 'HTTP$' -benchtime 3000x ./cmd/eidwallet/
//
// benchClients are the concurrencies SPEC §7 measures at.
var benchClients = []int{32, 64}

// forEachConcurrency runs run as a sub-benchmark at each of benchClients.
func forEachConcurrency(b *testing.B, run func(b *testing.B, clients int)) {
	for _, n := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { run(b, n) })
	}
}

// benchHTTPClient keeps enough idle connections for the concurrency.
func benchHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
}

// load runs b.N POSTs from clients goroutines and reports the p99.
func load(b *testing.B, clients int, url string, bearer func(i int) string, body func(i int) []byte, want int) {
	hc := benchHTTPClient()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	cpu0 := processCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+bearer(i))
				start := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(start))
				if resp.StatusCode != want {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// processCPU is the user and system CPU time this process has used so far:
// client and server share the process, so per operation it is the cost of
// both ends of one request.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBareES256HTTP is the baseline: a handler that verifies one
// ES256 JWS from the body and answers JSON.
func BenchmarkBareES256HTTP(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jws, err := credentials.SignJWT(key, "JWT", "k1", map[string]any{"iss": "bench", "n": 1})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ QR string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		var claims map[string]any
		if err := credentials.VerifyJWT(in.QR, "JWT", func(string, string) (*ecdsa.PublicKey, error) { return &key.PublicKey, nil }, &claims); err != nil {
			http.Error(w, "bad", http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"result": "valid", "claims": claims})
	}))
	defer srv.Close()
	body, _ := json.Marshal(map[string]string{"qr": jws})
	forEachConcurrency(b, func(b *testing.B, clients int) {
		load(b, clients, srv.URL, func(int) string { return "x" }, func(int) []byte { return body }, http.StatusOK)
	})
}

// BenchmarkRedeemHTTP redeems shares through POST /v1/verify on the real
// stack (bbolt with fsync, the server with its middleware): one verifier,
// the shares of benchCitizens citizens, as at a busy counter. Each share
// allows usesPerShare redemptions so that setting up b.N of them stays
// cheap, and consecutive requests go to different shares of different
// citizens; every redemption is still a durable check-and-set.
func BenchmarkRedeemHTTP(b *testing.B) {
	r := newRedeemBench(b, newBenchStack(b, servicetest.OpenBolt(b)))
	forEachConcurrency(b, r.run)
}

// BenchmarkRedeemHTTPBesideShares is BenchmarkRedeemHTTP at 32 clients
// while 8 citizens' apps create and approve shares, as at counters where
// each share redeemed was made just before: an approval commits on its own
// (Store.Update) beside the redemptions' group commits, and both wait for
// the one writer.
func BenchmarkRedeemHTTPBesideShares(b *testing.B) {
	r := newRedeemBench(b, newBenchStack(b, servicetest.OpenBolt(b)))
	r.sharing = 8
	b.Run("clients=32", func(b *testing.B) { r.run(b, 32) })
}

// BenchmarkRedeemHTTPPostgres is BenchmarkRedeemHTTP on PostgreSQL (a
// fresh schema in the database of EIDWALLET_TEST_POSTGRES_DSN; the pool
// size is the DSN's pool_max_conns), reporting too the CPU the database's
// processes spent per redemption when they run on this machine
// (db-cpu-µs/op; issue 10's capacity model).
func BenchmarkRedeemHTTPPostgres(b *testing.B) {
	r := newRedeemBench(b, newBenchStack(b, servicetest.OpenPostgres(b, benchDSN(b))))
	r.dbCPU = true
	forEachConcurrency(b, r.run)
	// The same load spread over benchVerifiers verifiers: one verifier
	// doing every redemption must not be slower (no row they all update).
	b.Run(fmt.Sprintf("verifiers=%d/clients=32", benchVerifiers), func(b *testing.B) {
		r.verifiers = benchVerifiers
		defer func() { r.verifiers = 1 }()
		r.run(b, 32)
	})
}

// benchDSN is the database of the PostgreSQL benchmarks,
// EIDWALLET_TEST_POSTGRES_DSN; without one the benchmark is skipped.
func benchDSN(b *testing.B) string {
	b.Helper()
	dsn := os.Getenv("EIDWALLET_TEST_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("EIDWALLET_TEST_POSTGRES_DSN not set (. .ci/postgres.sh starts one)")
	}
	return dsn
}

// postgresCPU is the CPU time the postgres processes on this machine have
// used so far (0 when there are none, or /proc cannot tell). Other work
// on the same server (another test's database) counts too: run it alone.
func postgresCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields 14 to 17 (utime, stime, and those of the reaped
		// children, so that a backend that exited still counts through
		// the postmaster), in clock ticks, after the command in
		// parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for i := 11; i <= 14 && i < len(f); i++ {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// benchCitizens is how many enrolled citizens the redemption benchmarks
// share: many more than the clients, so that concurrent redemptions are
// mostly of different citizens, as they are at a national scale.
const benchCitizens = 256

// usesPerShare is how many times each benchmark share is redeemed.
const usesPerShare = 10

// benchVerifiers is how many verifiers a spread load is redeemed by.
const benchVerifiers = 32

// redeemBench is benchCitizens citizens, each with an identity card, on a
// benchStack, and benchVerifiers verifiers registered for the two claims
// their shares hold; a run redeems as the first verifiers of them.
type redeemBench struct {
	st           *benchStack
	holders      []*client.Holder
	credentials  []string
	verifierKeys []string
	verifiers    int
	dbCPU        bool // report the CPU of the postgres processes during the redemptions
	sharing      int  // citizens' apps creating and approving shares during the redemptions
}

func newRedeemBench(b *testing.B, st *benchStack) *redeemBench {
	ctx := context.Background()
	r := &redeemBench{st: st, verifiers: 1}
	for i := range benchVerifiers {
		v, err := st.admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: fmt.Sprintf("shop-%d", i), Name: "Shop", Category: "retail",
			Claims: map[string][]string{"national_id": {"full_name", "age_over_18"}}})
		if err != nil {
			b.Fatal(err)
		}
		r.verifierKeys = append(r.verifierKeys, v.APIKey.Key)
	}
	for i := range benchCitizens {
		citizen := fmt.Sprintf("0010900%05d", i)
		holder := st.enrolled(b, citizen)
		claims := maps.Clone(claimsA["national_id"])
		claims["id_number"] = citizen
		issued, err := st.client.Issuer(st.issuerKey.Key).Issue(ctx, api.IssueRequest{CitizenID: citizen, Type: "national_id", Claims: claims, ExpiresAt: time.Now().AddDate(1, 0, 0)})
		if err != nil {
			b.Fatal(err)
		}
		r.holders, r.credentials = append(r.holders, holder), append(r.credentials, issued.CredentialID)
	}
	return r
}

// run redeems b.N times from clients goroutines: b.N/usesPerShare shares
// (rounded up), taken in turn, of the citizens in turn.
func (r *redeemBench) run(b *testing.B, clients int) {
	var bodies [][]byte
	for n := 0; n < b.N; n += usesPerShare {
		i := len(bodies) % benchCitizens
		sh, err := r.holders[i].ShareAndApprove(context.Background(), api.ShareRequest{MaxUses: usesPerShare, TTLSeconds: int(wallet.MaxShareTTL / time.Second),
			Items: []api.ShareRequestItem{{CredentialID: r.credentials[i], Claims: []string{"full_name", "age_over_18"}}}})
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(api.VerifyRequest{QR: sh.QRText})
		bodies = append(bodies, body)
	}
	var db0 time.Duration
	if r.dbCPU {
		db0 = postgresCPU()
	}
	bs, _ := r.st.store.(*bolt.Store)
	var w0 bolt.WriterStats
	if bs != nil {
		w0 = bs.WriterStats()
	}
	stopSharing := r.share()
	start := time.Now()
	load(b, clients, r.st.client.BaseURL()+"/v1/verify", func(i int) string { return r.verifierKeys[i%r.verifiers] },
		func(i int) []byte { return bodies[i%len(bodies)] }, http.StatusOK)
	if shares := stopSharing(); r.sharing > 0 {
		b.ReportMetric(float64(shares)/time.Since(start).Seconds(), "shares/s")
	}
	if db0 > 0 {
		b.ReportMetric(float64((postgresCPU()-db0).Microseconds())/float64(b.N), "db-cpu-µs/op")
	}
	if bs != nil {
		// The single writer's share of the run, the redemptions a commit
		// carried, and how much of the writer's time went to writing the
		// pages out and fsyncing them: near 100 % busy, the writer is the
		// limit, not the CPU.
		w := bs.WriterStats()
		b.ReportMetric(100*float64(w.Busy-w0.Busy)/float64(time.Since(start)), "writer-busy-%")
		b.ReportMetric(float64(w.Writes-w0.Writes)/float64(max(w.Commits-w0.Commits, 1)), "writes/commit")
		b.ReportMetric(100*float64(w.Written-w0.Written)/float64(max(w.Busy-w0.Busy, 1)), "written-%-of-busy")
	}
}

// share starts r.sharing apps creating and approving one-use shares of
// the citizens in turn, until stop, which returns how many they made.
func (r *redeemBench) share() (stop func() int64) {
	var made atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for a := range r.sharing {
		wg.Go(func() {
			for i := a; ctx.Err() == nil; i += r.sharing {
				c := i % benchCitizens
				_, err := r.holders[c].ShareAndApprove(ctx, api.ShareRequest{MaxUses: 1,
					Items: []api.ShareRequestItem{{CredentialID: r.credentials[c], Claims: []string{"full_name"}}}})
				if err == nil {
					made.Add(1)
				}
			}
		})
	}
	return func() int64 { cancel(); wg.Wait(); return made.Load() }
}

// enrolled is citizen's holder, enrolled with a fresh device.
func (st *benchStack) enrolled(b *testing.B, citizen string) *client.Holder {
	b.Helper()
	ctx := context.Background()
	code, err := st.admin.CreateActivationCode(ctx, citizen)
	if err != nil {
		b.Fatal(err)
	}
	dev, _ := client.NewDevice("bench")
	holder := st.client.Holder(dev)
	if _, err := holder.Enroll(ctx, citizen, code.Code); err != nil {
		b.Fatal(err)
	}
	return holder
}

// benchStack is the real service over a store behind the real HTTP server
// on loopback, rate limits lifted, with one issuer (mps).
type benchStack struct {
	store     wallet.Store
	client    *client.Client
	admin     *client.Admin
	issuerKey *api.NewAPIKey
}

func newBenchStack(b *testing.B, store wallet.Store) *benchStack {
	ctx := context.Background()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	b.Cleanup(srv.Close)
	svc, _ := servicetest.New(b, wallet.Config{PublicURL: srv.URL, Now: time.Now, Store: store})
	unlimited := server.Limit{Rate: rate.Inf, Burst: 1}
	handler = server.New(server.Config{Service: svc, RateLimits: server.RateLimits{
		VerifyPerKey: unlimited, VerifyPerAddr: unlimited, TokenPerAddr: unlimited, EnrollPerAddr: unlimited, SharesPerHolder: unlimited}})
	adminKey, _ := svc.BootstrapAdmin(ctx)
	c := client.New(srv.URL, client.WithHTTPClient(benchHTTPClient()))
	admin := c.Admin(adminKey)
	if _, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}}); err != nil {
		b.Fatal(err)
	}
	ik, err := admin.CreateIssuerAPIKey(ctx, "mps")
	if err != nil {
		b.Fatal(err)
	}
	return &benchStack{store: store, client: c, admin: admin, issuerKey: ik}
}

// BenchmarkBulkIssueHTTP streams b.N identity cards through POST
// /v1/issuer/credentials:bulk to 200 enrolled citizens, so that every
// credential is signed for a device, sealed and stored (SPEC §7: ≥ 3,000
// credentials/s end to end).
func BenchmarkBulkIssueHTTP(b *testing.B) {
	bulkIssue(b, newBenchStack(b, servicetest.OpenBolt(b)))
}

// BenchmarkBulkIssueHTTPPostgres is BenchmarkBulkIssueHTTP on PostgreSQL,
// with the database's CPU per credential (see BenchmarkRedeemHTTPPostgres).
func BenchmarkBulkIssueHTTPPostgres(b *testing.B) {
	st := newBenchStack(b, servicetest.OpenPostgres(b, benchDSN(b)))
	db0 := postgresCPU()
	bulkIssue(b, st)
	if db0 > 0 {
		b.ReportMetric(float64((postgresCPU()-db0).Microseconds())/float64(b.N), "db-cpu-µs/op")
	}
}

// bulkIssue streams b.N identity cards to 200 enrolled citizens through
// the bulk route of st, reporting credentials/s and the process's CPU per
// credential.
func bulkIssue(b *testing.B, st *benchStack) {
	ctx := context.Background()
	const citizens = 200
	ids := make([]string, citizens)
	for i := range ids {
		ids[i] = fmt.Sprintf("0010%08d", i)
		st.enrolled(b, ids[i])
	}
	until := time.Now().AddDate(1, 0, 0)
	reqs := func(yield func(api.IssueRequest) bool) {
		for i := range b.N {
			claims := maps.Clone(claimsA["national_id"])
			claims["id_number"] = ids[i%citizens]
			if !yield(api.IssueRequest{CitizenID: ids[i%citizens], Type: "national_id", Claims: claims, ExpiresAt: until}) {
				return
			}
		}
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	n := 0
	for res, err := range st.client.Issuer(st.issuerKey.Key).IssueBulk(ctx, reqs) {
		if err != nil {
			b.Fatal(err)
		}
		if res.Error != "" {
			b.Fatalf("line %d: %s %s", res.Line, res.Error, res.ErrorDescription)
		}
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("%d results for %d lines", n, b.N)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "credentials/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(n), "cpu-µs/op")
}
