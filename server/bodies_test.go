package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/eidwallet/eidwallet/server"
)

// TestBodiesBeingReadAreBounded (THREATS T22): bodies sent all but their
// last byte hold the server's memory only up to a bound. Those of one
// address hold at most MaxBodyBytesPerAddr bytes at once, and all of them
// together at most MaxBodyBytesInFlight; a body read past that is 429 with
// Retry-After at once, read no further, while another address is served,
// and bytes given back are taken again. The route is the one nobody
// authenticates to: a wallet's OpenID4VP response, whose cap is the
// largest (512 KiB).
func TestBodiesBeingReadAreBounded(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	addr := strings.TrimPrefix(h.url, "http://")
	// stall opens a connection from client (X-Forwarded-For) that sends
	// a response's headers and a first few bytes of its body, then
	// nothing more.
	var open []net.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	// send opens a connection from client (X-Forwarded-For) that sends a
	// response's headers, declaring length bytes, and the first sent of
	// them, then nothing more.
	send := func(client string, length, sent int) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /oid4vp/responses/AAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nstate=%s", addr, client, length, strings.Repeat("x", sent-len("state=")))
		open = append(open, c)
		return c
	}
	answer := func(c net.Conn) *http.Response {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return resp
	}
	// release closes every stalled connection and waits until a body of
	// client is read again: their places are given back.
	release := func(client string) {
		t.Helper()
		for _, c := range open {
			c.Close()
		}
		open = nil
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := send(client, len("state=x"), len("state=x"))
			if answer(c).StatusCode != http.StatusTooManyRequests {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("places given back are not taken again")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// stalled waits until the server holds the bodies it was sent, so that
	// the next request finds the bound taken, and checks that none of the
	// last n was answered.
	stalled := func(n int) {
		t.Helper()
		time.Sleep(300 * time.Millisecond)
		last := open[len(open)-n:]
		for _, c := range last {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		}
		for _, c := range last {
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("a stalled body was answered")
			}
		}
	}

	full := openid4vp.MaxResponseBytes
	perAddr := int(server.MaxBodyBytesPerAddr / full)
	for range perAddr {
		send("198.51.100.1", full, full-1)
	}
	stalled(perAddr)
	wantRetryAfter(t, answer(send("198.51.100.1", 1000, 1000)), 1, 1)
	// The token endpoint too, as the rate limit it is (RFC 6749 §5.2 would
	// make any other unreadable body invalid_request).
	tok, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	open = append(open, tok)
	form := strings.Repeat("x", 1000)
	fmt.Fprintf(tok, "POST /v1/token HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: 198.51.100.1\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(form), form)
	wantRetryAfter(t, answer(tok), 1, 1)
	// Another address is not held back by that one.
	if resp := answer(send("198.51.100.2", len("state=x"), len("state=x"))); resp.StatusCode == http.StatusTooManyRequests {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	release("198.51.100.1")
	// An IPv6 site is one client: its /64s share its /56's bound.
	for i := range perAddr {
		send(fmt.Sprintf("2001:db8:0:%x::1", i+1), full, full-1)
	}
	stalled(perAddr)
	wantRetryAfter(t, answer(send("2001:db8:0:ff::7", 1000, 1000)), 1, 1)
	release("2001:db8:1::1")

	// The bytes of all addresses: bodies sent but for their last byte from
	// as many addresses as the whole bound takes, then one more is refused.
	addrs := int(server.MaxBodyBytesInFlight / server.MaxBodyBytesPerAddr)
	for i := range addrs {
		for range perAddr {
			send(fmt.Sprintf("203.0.113.%d", i+1), full, full-1)
		}
	}
	stalled(addrs * perAddr)
	wantRetryAfter(t, answer(send("192.0.2.77", 1000, 1000)), 1, 1)

	// Closing the stalled connections gives their places back.
	release("192.0.2.77")
}
