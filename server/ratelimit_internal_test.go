package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimiterBounded: a table never holds more than its bound however many
// keys pass through it, and the keys still in use keep their state.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter("test", Limit{Rate: rate.Every(time.Hour), Burst: 1}, 100, nil)
	now := time.Unix(1e9, 0)
	if wait(l, "hot", now) != 0 {
		t.Fatal("first event refused")
	}
	for i := range 10_000 {
		wait(l, strconv.Itoa(i), now)
		if i%50 == 0 && wait(l, "hot", now) == 0 {
			t.Fatalf("hot key refilled after %d other keys", i)
		}
	}
	if n := l.size(); n != 100 {
		t.Fatalf("table holds %d keys, bound 100", n)
	}
}

// wait is how long l makes an event of key wait at now.
func wait(l *limiter, key string, now time.Time) time.Duration {
	d, err := l.allow(context.Background(), key, now)
	if err != nil {
		panic(err) // only shared buckets fail
	}
	return d
}

// TestLimiterInf: rate.Inf switches a limit off.
func TestLimiterInf(t *testing.T) {
	l := newLimiter("off", Limit{Rate: rate.Inf}, 10, nil)
	for range 1000 {
		if wait(l, "k", time.Now()) != 0 {
			t.Fatal("refused with rate.Inf")
		}
	}
	if l.size() != 0 {
		t.Fatal("rate.Inf kept state")
	}
}

// TestAddrKey: IPv6 clients share a /64 bucket; IPv4 ones are per address.
func TestAddrKey(t *testing.T) {
	s := &server{}
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
	} {
		r := httptestRequest(tc.remote)
		if got := addrKey(s.clientAddr(r)); got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.remote, got, tc.want)
		}
	}
}
