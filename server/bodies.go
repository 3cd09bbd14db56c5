package server

import (
	"sync"

	"golang.org/x/sync/semaphore"
)

// Request bodies being read at once (THREATS T22). A body is read whole
// before it is parsed, and one that comes slowly holds what has come of it
// until the server's ReadTimeout (30 s in eidwallet serve): without a
// bound, thousands of half-sent bodies, each under its route's cap, would
// hold the server's memory. Each read takes its size (Content-Length, else
// the route's cap) from maxBodyBytesInFlight, and the reads of one client
// address (IPv6 per /64) at most maxBodyBytesPerAddr of it, so that one
// address cannot take it all (64 JSON bodies of 64 KiB, or 8 OpenID4VP
// responses of 512 KiB); past either, 429 rate_limited with Retry-After,
// nothing read. A body of a client on a working network is read in
// milliseconds: the bounds are met by bodies that do not come.
const (
	maxBodyBytesInFlight = 32 << 20
	maxBodyBytesPerAddr  = 4 << 20
)

// bodyReads counts the bytes of the bodies being read, in all and per
// client address.
type bodyReads struct {
	bytes *semaphore.Weighted
	mu    sync.Mutex
	by    map[string]int64
}

func newBodyReads() *bodyReads {
	return &bodyReads{bytes: semaphore.NewWeighted(maxBodyBytesInFlight), by: map[string]int64{}}
}

// enter takes the place of a read of n bytes by the client at addr, or
// reports false when there is none; leave gives it back.
func (b *bodyReads) enter(addr string, n int64) (leave func(), ok bool) {
	b.mu.Lock()
	if b.by[addr]+n > maxBodyBytesPerAddr {
		b.mu.Unlock()
		return nil, false
	}
	b.by[addr] += n
	b.mu.Unlock()
	out := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.by[addr] -= n; b.by[addr] == 0 {
			delete(b.by, addr)
		}
	}
	if !b.bytes.TryAcquire(n) {
		out()
		return nil, false
	}
	return func() { b.bytes.Release(n); out() }, true
}
