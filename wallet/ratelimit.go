package wallet

import (
	"context"
	"errors"
	"math"
	"time"
)

// Rate limits shared by replicas (SPEC §6, THREATS T23, T24). One process
// keeps its token buckets in memory (server/ratelimit.go); replicas over
// one database take their tokens from one bucket per limiter and key,
// kept here, so that N replicas allow what one would. A bucket is a
// generic cell rate algorithm (GCRA) state, a single time: tat, when the
// bucket is full again. A take leases several tokens at once, a
// sixteenth of what is left and at least one, which the replica then
// spends locally: a busy key costs a write every few requests rather than
// every one, the replicas together never pass the limit, and, since
// leases shrink as the bucket empties, what leased tokens a replica
// holds unspent when a key's traffic stops stays small. A bucket that
// allows a burst of at most 16 is leased one token at a time: exact (the
// per-holder share quota).

// rateBucket is one shared token bucket.
type rateBucket struct {
	ID  []byte    // HMAC of the limiter's name and key: no address or id at rest
	TAT time.Time // the bucket is full again at tat
}

// TakeTokens leases tokens of the bucket of limiter and key, which holds
// burst tokens and refills at rate a second: how many (0 when it is
// empty) and, when none, how long until one is back. rate must be
// positive and finite, burst at least 1.
func (s *Service) TakeTokens(ctx context.Context, limiter, key string, rate float64, burst int) (int, time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 {
		return 0, 0, errors.New("take tokens: rate must be positive and finite, burst at least 1")
	}
	id := s.indexHash("ratelimit", limiter, key)
	var (
		grant int
		wait  time.Duration
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		b, err := RateBuckets.Get(tx, id)
		if errors.Is(err, ErrNotFound) {
			b, err = &rateBucket{ID: id, TAT: now}, nil
		}
		if err != nil {
			return err
		}
		var tat time.Time
		grant, tat, wait = gcra(b.TAT, now, rate, burst)
		if grant == 0 {
			return nil
		}
		b.TAT = tat
		return RateBuckets.Put(tx, b)
	})
	if err != nil {
		return 0, 0, s.storeErr(ctx, err, "rate limit")
	}
	return grant, wait, nil
}

// gcra takes tokens from the bucket whose theoretical arrival time is
// tat: the tokens available are the emission intervals (1/rate) between
// max(tat, now) and now + burst intervals; it grants a sixteenth of them,
// at least one, and moves tat on by as many intervals. With none it
// grants nothing and says how long until one is.
func gcra(tat, now time.Time, rate float64, burst int) (int, time.Time, time.Duration) {
	interval := time.Duration(float64(time.Second) / rate)
	if tat.Before(now) {
		tat = now
	}
	avail := int(now.Add(time.Duration(burst)*interval).Sub(tat) / interval)
	if avail < 1 {
		return 0, tat, tat.Add(interval - time.Duration(burst)*interval).Sub(now)
	}
	grant := max(1, avail/16)
	return grant, tat.Add(time.Duration(grant) * interval), 0
}

// rateBucketPrune is how often the background loop prunes full buckets.
const rateBucketPrune = time.Minute

// pruneRateBuckets deletes up to 64 buckets that are full again, oldest
// first: a full bucket is what a missing one means. The service's
// background loop calls it (startDispatcher), off the requests' path; it
// writes only when there is something to delete, and keeps a bucket a
// take moved on since the listing. A failure is only logged.
func (s *Service) pruneRateBuckets(ctx context.Context) {
	now := s.now()
	var full []*rateBucket
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		full, err = RateBuckets.List(tx, byTAT, Order{Limit: 64})
		return err
	})
	if err == nil && len(full) > 0 && !full[0].TAT.After(now) {
		err = s.store.Update(ctx, func(tx Tx) error {
			for _, b := range full {
				if b.TAT.After(now) {
					break // listed by tat: the rest are not full yet
				}
				cur, err := RateBuckets.Get(tx, b.ID)
				if errors.Is(err, ErrNotFound) || err == nil && cur.TAT.After(now) {
					continue
				}
				if err != nil {
					return err
				}
				if err := RateBuckets.Delete(tx, b.ID); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "prune rate buckets", "err", err)
	}
}
