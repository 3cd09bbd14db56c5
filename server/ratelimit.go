package server

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Rate events a second on average, Burst at once.
// A zero Limit takes its default; Rate rate.Inf switches the limit off.
type Limit struct {
	Rate  rate.Limit
	Burst int
}

// RateLimits are the limits of SPEC §6 and THREATS T23, T24. Each is kept
// per key (an address, an API key, a holder) in a table of at most
// MaxEntries keys; the least recently seen key is dropped first, so memory
// is bounded whatever the number of clients.
type RateLimits struct {
	// VerifyPerKey and VerifyPerAddr limit POST /v1/verify per verifier API
	// key and per client address (share-token guessing, T23).
	VerifyPerKey  Limit
	VerifyPerAddr Limit
	// TokenPerAddr and EnrollPerAddr limit POST /v1/token and POST
	// /v1/enrollments per client address; those callers have no API key
	// yet.
	TokenPerAddr  Limit
	EnrollPerAddr Limit
	// SharesPerHolder is the quota on POST /v1/me/shares (T24).
	SharesPerHolder Limit
	// RequestsPerKey limits POST /v1/verifier/requests per verifier API
	// key: each request is a write and may land in a citizen's app.
	RequestsPerKey Limit
	// PresencePerHolder is the quota on POST /v1/me/presence.
	PresencePerHolder Limit
	// MaxEntries bounds each table (0: DefaultMaxLimiterEntries).
	MaxEntries int
}

// DefaultMaxLimiterEntries bounds each limiter table: about 250 bytes a
// key, so some 8 MB a table when full.
const DefaultMaxLimiterEntries = 1 << 15

// DefaultRateLimits are sized for a city deployment. Many phones share an
// address behind carrier-grade NAT, and a shop's scanners share one, so
// the address limits are loose; they stop floods and token guessing, not
// ordinary use. An access token lasts 10 minutes, so an app asks for one
// rarely; enrolment happens once a device.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		VerifyPerKey:    Limit{Rate: 50, Burst: 100},
		VerifyPerAddr:   Limit{Rate: 100, Burst: 200},
		TokenPerAddr:    Limit{Rate: 20, Burst: 100},
		EnrollPerAddr:   Limit{Rate: 1, Burst: 20},
		SharesPerHolder: Limit{Rate: rate.Every(2 * time.Second), Burst: 10}, // 30 a minute sustained
		// A counter asks a few citizens a minute; an integrator's system
		// (a bank's onboarding) many more, spread over its keys.
		RequestsPerKey: Limit{Rate: 10, Burst: 50},
		// A presence code lives 60 s; an app needs a new one a minute.
		PresencePerHolder: Limit{Rate: rate.Every(2 * time.Second), Burst: 10},
		MaxEntries:        DefaultMaxLimiterEntries,
	}
}

func (rl RateLimits) withDefaults() RateLimits {
	d := DefaultRateLimits()
	pick := func(l, def Limit) Limit {
		if l.Rate <= 0 || (l.Burst <= 0 && l.Rate != rate.Inf) {
			return def
		}
		return l
	}
	rl.VerifyPerKey = pick(rl.VerifyPerKey, d.VerifyPerKey)
	rl.VerifyPerAddr = pick(rl.VerifyPerAddr, d.VerifyPerAddr)
	rl.TokenPerAddr = pick(rl.TokenPerAddr, d.TokenPerAddr)
	rl.EnrollPerAddr = pick(rl.EnrollPerAddr, d.EnrollPerAddr)
	rl.SharesPerHolder = pick(rl.SharesPerHolder, d.SharesPerHolder)
	rl.RequestsPerKey = pick(rl.RequestsPerKey, d.RequestsPerKey)
	rl.PresencePerHolder = pick(rl.PresencePerHolder, d.PresencePerHolder)
	if rl.MaxEntries <= 0 {
		rl.MaxEntries = d.MaxEntries
	}
	return rl
}

// SharedBuckets are token buckets every replica of a deployment takes
// from (wallet.Service.TakeTokens over PostgreSQL): it leases a few tokens
// of the bucket of limiter and key at a time, 0 and the wait for the next
// one when it is empty.
type SharedBuckets interface {
	TakeTokens(ctx context.Context, limiter, key string, rate float64, burst int) (int, time.Duration, error)
}

// limiters are the server's limiter tables.
type limiters struct {
	verifyKey, verifyAddr, tokenAddr, enrollAddr, shareHolder *limiter
	requestKey, presenceHolder                                *limiter
}

// newLimiters makes the tables; with shared, each takes its tokens from
// the buckets the replicas share, so that N replicas allow what one does.
func newLimiters(rl RateLimits, shared SharedBuckets) *limiters {
	l := func(name string, lim Limit) *limiter { return newLimiter(name, lim, rl.MaxEntries, shared) }
	return &limiters{
		verifyKey:      l("verify_key", rl.VerifyPerKey),
		verifyAddr:     l("verify_addr", rl.VerifyPerAddr),
		tokenAddr:      l("token_addr", rl.TokenPerAddr),
		enrollAddr:     l("enroll_addr", rl.EnrollPerAddr),
		shareHolder:    l("share_holder", rl.SharesPerHolder),
		requestKey:     l("request_key", rl.RequestsPerKey),
		presenceHolder: l("presence_holder", rl.PresencePerHolder),
	}
}

// limiter is one table of token buckets by key, least recently used first
// out. Dropping a bucket forgets its debt, so an evicted client starts
// again with a full burst; with the table sized well above the number of
// active keys only idle buckets (which are full anyway) are dropped. With
// shared buckets the table holds instead the tokens this server leased
// and has not spent yet.
type limiter struct {
	name   string
	limit  Limit
	max    int
	shared SharedBuckets

	mu    sync.Mutex
	order *list.List // of *bucket, most recently used at the front
	byKey map[string]*list.Element
}

type bucket struct {
	key     string
	lim     *rate.Limiter // the bucket itself, when not shared
	leased  int           // shared: tokens leased and not spent
	leasing chan struct{} // shared: closed when the lease in flight ends
}

func newLimiter(name string, l Limit, maxEntries int, shared SharedBuckets) *limiter {
	return &limiter{name: name, limit: l, max: maxEntries, shared: shared, order: list.New(), byKey: map[string]*list.Element{}}
}

// allow takes one event for key at now. It returns 0 when the event may go
// ahead, else how long until it could; an error when the shared buckets
// cannot be reached (the caller answers 503: fail closed).
func (l *limiter) allow(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	if l.limit.Rate == rate.Inf {
		return 0, nil
	}
	if l.shared != nil {
		return l.allowShared(ctx, key)
	}
	l.mu.Lock()
	b := l.bucket(key)
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute, nil // burst < 1: never; say so plainly
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused event must not consume the future
		return d, nil
	}
	return 0, nil
}

// allowShared takes one event for key from this server's lease of the
// shared bucket, leasing more when it is spent. One lease of a key is in
// flight at a time: the events that find none left wait for it and share
// it, so a burst on one replica takes one sixteenth of what is left at a
// time, not one per waiting event, and leaves the rest to the others.
func (l *limiter) allowShared(ctx context.Context, key string) (time.Duration, error) {
	for {
		l.mu.Lock()
		b := l.bucket(key)
		if b.leased > 0 {
			b.leased--
			l.mu.Unlock()
			return 0, nil
		}
		if w := b.leasing; w != nil {
			l.mu.Unlock()
			select {
			case <-w:
				continue
			case <-ctx.Done():
				return time.Millisecond, ctx.Err()
			}
		}
		w := make(chan struct{})
		b.leasing = w
		l.mu.Unlock()
		n, wait, err := l.shared.TakeTokens(ctx, l.name, key, float64(l.limit.Rate), l.limit.Burst)
		l.mu.Lock()
		b.leasing = nil
		close(w)
		if err == nil && n > 0 {
			b.leased += n - 1 // kept for this key's next events (lost if evicted meanwhile)
		}
		l.mu.Unlock()
		if err != nil || n == 0 {
			return max(wait, time.Millisecond), err
		}
		return 0, nil
	}
}

// bucket is key's entry, made when missing and moved to the front; l.mu
// is held.
func (l *limiter) bucket(key string) *bucket {
	if e, ok := l.byKey[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*bucket)
	}
	b := &bucket{key: key}
	if l.shared == nil {
		b.lim = rate.NewLimiter(l.limit.Rate, l.limit.Burst)
	}
	l.byKey[key] = l.order.PushFront(b)
	for l.order.Len() > l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.byKey, old.Value.(*bucket).key)
	}
	return b
}

// size is the number of keys held (for tests of the bound).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
