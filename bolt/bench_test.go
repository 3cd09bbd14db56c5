package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/wallet"
)

// Redemption benchmarks: the same check-and-set redemption transaction
// (SPEC §3.3 step 4) through Batch and through Update, from many
// concurrent callers as a loaded verify endpoint has. Every op is durable
// when it returns; Batch shares one commit and fsync among the calls that
// arrive together, Update pays one each. Run:
//
//	go test -run '^$' -bench 'Redeem' -benchtime 3s ./bolt/
func BenchmarkBatchRedeem(b *testing.B) {
	benchRedeem(b, (*bolt.Store).Batch)
}

func BenchmarkUpdateRedeem(b *testing.B) {
	benchRedeem(b, (*bolt.Store).Update)
}

var errSpent = errors.New("share spent")

// benchRedeem runs redemptions through run (Store.Batch or Store.Update)
// from 2, 16 and 64 concurrent callers.
func benchRedeem(b *testing.B, run func(*bolt.Store, context.Context, func(wallet.Tx) error) error, opts ...bolt.Option) {
	for _, callers := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "wallet.db"), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// A pool of active shares, redeemed round robin; MaxUses is
			// high so the pool never runs dry, the check is still made.
			const pool = 4096
			err = s.Update(b.Context(), func(tx wallet.Tx) error {
				for i := range pool {
					sh := &wallet.Share{
						ID: fmt.Sprintf("s%05d", i), HolderID: fmt.Sprintf("h%05d", i), DeviceID: "d1",
						TokenHash: fmt.Appendf(nil, "token-%05d", i), Status: api.ShareActive,
						Aud:     "https://wallet.example/v1/verify",
						Items:   []wallet.ShareItem{{CredentialID: "c1", Type: "national_id", Claims: []string{"full_name", "age_over_18"}, Presentation: make([]byte, 900), SDHash: "h", Kid: "k"}},
						Created: time.Now(), ExpiresAt: time.Now().Add(time.Hour), MaxUses: 1 << 30,
					}
					if err := wallet.Shares.Put(tx, sh); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			var next, seq atomic.Uint64
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) % pool
					token := fmt.Appendf(nil, "token-%05d", i)
					err := run(s, b.Context(), func(tx wallet.Tx) error {
						sh, err := wallet.Shares.By(tx, "token", token)
						if err != nil {
							return err
						}
						if sh.Status != api.ShareActive || sh.Uses >= sh.MaxUses {
							return errSpent
						}
						sh.Uses++
						if err := wallet.Shares.Put(tx, sh); err != nil {
							return err
						}
						// fn may run twice under Batch: the seq is taken
						// inside, so a retry takes a new one.
						return wallet.VerificationLog.Put(tx, &api.Verification{
							Seq: seq.Add(1), VerifierID: "v1", At: time.Now(), ShareID: sh.ID, Result: "valid",
						})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOpen1M measures opening a store of one million credentials
// (SPEC §7: under a second). It builds the file first, in b.TempDir(),
// through the service's own record kinds in large transactions (about 10 s
// on the development machine and 2 GB of disk, so never under -short;
// each -count repeats the build). Run:
//
//	go test -run '^$' -bench Open1M -benchtime 20x ./bolt/
//
// The page cache is warm (the file was just written); opening reads only
// the meta pages and the freelist whatever the size, so a cold open
// differs by a few page faults.
func BenchmarkOpen1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-credential file; not under -short")
	}
	const total, perTx = 1_000_000, 25_000
	path := filepath.Join(b.TempDir(), "wallet.db")
	s, err := bolt.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	// Sizes of a sealed national_id without portrait and one device copy.
	claims, copyBytes := random(400), random(900)
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	for base := 0; base < total; base += perTx {
		err := s.Update(b.Context(), func(tx wallet.Tx) error {
			for i := base; i < base+perTx; i++ {
				c := &wallet.Credential{
					ID: fmt.Sprintf("c%08d", i), HolderID: fmt.Sprintf("h%08d", i/3), IssuerID: "mps",
					Type: "national_id", StatusList: i >> 17, StatusIndex: i & (1<<17 - 1), Status: api.StatusValid,
					IssuedAt: issued.Add(time.Duration(i) * time.Second), ValidUntil: issued.AddDate(10, 0, 0),
					Claims: claims,
				}
				if err := wallet.Credentials.Put(tx, c); err != nil {
					return err
				}
				if err := wallet.CredentialCopies.Put(tx, copyBytes, c.ID, fmt.Sprintf("d%08d", i/3)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d credentials in %s: %d MB", total, time.Since(start).Round(time.Second), fi.Size()>>20)

	b.Run("open-close", func(b *testing.B) {
		for b.Loop() {
			s, err := bolt.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Open, answer the first request (a holder's credentials), close;
	// warm, then with the file's pages evicted before each open.
	for _, cold := range []bool{false, true} {
		name := "open-first-read"
		if cold {
			name = "cold-open-first-read"
		}
		b.Run(name, func(b *testing.B) { benchFirstRead(b, path, total/3, cold) })
	}
}

func benchFirstRead(b *testing.B, path string, holders int, cold bool) {
	if cold {
		if err := dropCache(path); err != nil {
			b.Skip(err)
		}
	}
	i := 0
	for b.Loop() {
		if cold {
			b.StopTimer()
			if err := dropCache(path); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		s, err := bolt.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		i = (i + 7919) % holders
		err = s.View(b.Context(), func(tx wallet.Tx) error {
			cs, err := wallet.Credentials.List(tx, "holder", wallet.Order{}, fmt.Sprintf("h%08d", i))
			if err == nil && len(cs) != 3 {
				err = fmt.Errorf("holder h%08d: %d credentials", i, len(cs))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
