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

// TestBodiesBeingReadAreBounded (THREATS T22): bodies that are declared
// and do not come hold places of their own, not the server's memory. The
// reads of one address hold at most MaxBodyBytesPerAddr bytes at once,
// and all of them together at most MaxBodyBytesInFlight; the next is 429 with
// Retry-After at once, read no further, and a place given back is taken
// again. The route is the one nobody authenticates to: a wallet's
// OpenID4VP response, whose cap is the largest (512 KiB).
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
	send := func(client string, length int) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /oid4vp/responses/AAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nstate=", addr, client, length)
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
			c := send(client, len("state=x"))
			c.Write([]byte("x"))
			if answer(c).StatusCode != http.StatusTooManyRequests {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("places given back are not taken again")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// stalled waits until the server holds every body it was sent, so
	// that the next request finds their places taken.
	stalled := func(n int) {
		t.Helper()
		time.Sleep(200 * time.Millisecond)
		for _, c := range open[len(open)-n:] {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("a stalled body was answered")
			}
		}
	}

	full := int64(openid4vp.MaxResponseBytes)
	perAddr := int(server.MaxBodyBytesPerAddr / full)
	for range perAddr {
		send("198.51.100.1", int(full))
	}
	stalled(perAddr)
	wantRetryAfter(t, answer(send("198.51.100.1", 1000)), 1, 1)
	// Another address is not held back by that one.
	other := send("198.51.100.2", len("state=x"))
	other.Write([]byte("x"))
	if resp := answer(other); resp.StatusCode == http.StatusTooManyRequests {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	release("198.51.100.1")

	// The bytes of all addresses: full bodies' worth declared from as
	// many addresses as the budget takes, then one more is refused.
	addrs := int(server.MaxBodyBytesInFlight / server.MaxBodyBytesPerAddr)
	for i := range addrs {
		for range perAddr {
			send(fmt.Sprintf("203.0.113.%d", i+1), int(full))
		}
	}
	stalled(addrs * perAddr)
	late := send("192.0.2.77", int(full))
	wantRetryAfter(t, answer(late), 1, 1)

	// Closing the stalled connections gives their places back.
	release("192.0.2.77")
}
