package server

import (
	"errors"
	"io"
	"net/netip"
	"sync"
)

// Request bodies being read at once (THREATS T22). A body is read whole
// before it is parsed, and one that comes slowly holds what has come of it
// until the server's ReadTimeout (30 s in eidwallet serve): without a
// bound, thousands of bodies sent all but their last byte, each under its
// route's cap, would hold the server's memory. The bytes read of bodies
// not yet done count against maxBodyBytesPerAddr for their client's
// address (IPv6 per /56: a site's prefix, of which a /64 is one of 256),
// and against maxBodyBytesInFlight in all; a read past either fails,
// answered 429 rate_limited with Retry-After. The bound per address is
// the one an attacker meets: 16 JSON bodies of 64 KiB, or 2 OpenID4VP
// responses of 512 KiB, held unfinished at once. The bound in all keeps
// the memory of many addresses' (128 of them) and is high enough that
// filling it takes that many. A body of a client on a working network is
// read in milliseconds and counts only while it is read: the bounds are
// met by bodies that do not finish.
const (
	maxBodyBytesPerAddr  = 1 << 20
	maxBodyBytesInFlight = 128 << 20
)

// bodyAddrKey is the key of a's body reads: an IPv4 address, or an IPv6
// /56, so that one site's many /64s are one client here.
func bodyAddrKey(a netip.Addr) string {
	if a.IsValid() && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(56)
		return p.String()
	}
	return addrKey(a)
}

// bodyReads counts the bytes held by the bodies being read, in all and per
// client address.
type bodyReads struct {
	mu    sync.Mutex
	total int64
	by    map[string]int64
}

// errBodiesFull is a read past the bound on bodies being read at once.
var errBodiesFull = errors.New("too many request bodies being sent at once")

// take counts n more bytes read for addr, or reports false when that
// would go past a bound.
func (b *bodyReads) take(addr string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > maxBodyBytesInFlight || b.by[addr]+n > maxBodyBytesPerAddr {
		return false
	}
	if b.by == nil {
		b.by = map[string]int64{}
	}
	b.total += n
	b.by[addr] += n
	return true
}

// give gives back the n bytes addr's body took, once it is done.
func (b *bodyReads) give(addr string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.by[addr] -= n; b.by[addr] == 0 {
		delete(b.by, addr)
	}
}

// countedBody is a request body whose bytes are taken from the bound as
// they are read: a read past it fails with errBodiesFull.
type countedBody struct {
	r    io.Reader
	b    *bodyReads
	addr string
	held int64
}

func (c *countedBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if !c.b.take(c.addr, int64(n)) {
			return 0, errBodiesFull
		}
		c.held += int64(n)
	}
	return n, err
}
