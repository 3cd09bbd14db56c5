// Package client is the Go client of the eidwallet API (SPEC §3) for every
// role: the operator (Admin), issuing authorities (Issuer), relying parties
// (Verifier) and the citizen's device (Holder, standing in for the companion
// app). It speaks the wire types of package wallet and decodes every error
// answer (SPEC §5) into an *Error.
//
// One Client holds the base URL and the HTTP client; the role views it hands
// out add their credentials:
//
//	c := client.New("https://wallet.example")
//	issuers, err := c.Admin(adminToken).Issuers(ctx)
//	res, err := c.Verifier(apiKey).Verify(ctx, "EID1:...")
//
// The client never logs, and never puts a secret in an error message.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
)

// DefaultMaxResponseBytes caps the body of any answer the client reads
// into memory (JSON, PNG, SVG). The bulk answer is streamed and capped per
// line instead; the activity export gets exportMaxBytes.
const DefaultMaxResponseBytes = 1 << 20

// exportMaxBytes caps GET /v1/me/activity?export=1: the whole chain of a
// long-lived holder is larger than one page of anything else.
const exportMaxBytes = 32 << 20

// maxErrorBytes caps what is read of an error answer.
const maxErrorBytes = 64 << 10

// Client calls one eidwallet service. It is safe for concurrent use.
type Client struct {
	base      string // no trailing slash
	hc        *http.Client
	maxBody   int64
	now       func() time.Time
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, TLS, proxies). Its Timeout
// should be zero or generous: bulk issuance streams for as long as the
// input lasts. Deadlines belong on the context of each call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithMaxResponseBytes changes DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithClock sets the clock used for assertion and KB-JWT times and token
// expiry (tests; devices with a known clock offset).
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the service at baseURL (scheme and host, and a
// path prefix if the service is mounted under one). For holders the base
// URL must be the service's public URL: the device assertion's aud is
// baseURL + "/v1/token" (SPEC §3.1).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		hc:        http.DefaultClient,
		maxBody:   DefaultMaxResponseBytes,
		now:       time.Now,
		userAgent: "eidwallet-client/1",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the service URL the client calls, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// TokenEndpoint is the URL of POST /v1/token: the aud of device assertions.
func (c *Client) TokenEndpoint() string { return c.base + "/v1/token" }

// call is one HTTP exchange.
type call struct {
	method      string
	path        string // escaped, starting with "/"
	query       url.Values
	body        []byte // nil: no body
	contentType string
	accept      string
}

// jsonCall makes a call with in encoded as its JSON body (nil: no body).
func jsonCall(method, path string, in any) (*call, error) {
	cl := &call{method: method, path: path, accept: "application/json"}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		cl.body, cl.contentType = b, "application/json"
	}
	return cl, nil
}

// roundTrip sends cl with bearer (when not empty) and returns a 2xx answer
// for the caller to read and close; any other answer is returned as *Error.
func (c *Client) roundTrip(ctx context.Context, cl *call, bearer string) (*http.Response, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	c.setHeaders(req, cl.contentType, cl.accept, bearer)
	return c.send(req, cl.method, cl.path)
}

func (c *Client) setHeaders(req *http.Request, contentType, accept, bearer string) {
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
}

// send does req and turns a non-2xx answer into *Error. Errors name the
// method and the path only: no query, no header, no body.
func (c *Client) send(req *http.Request, method, path string) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		// A *url.Error repeats the URL; unwrap to the cause and name the
		// route ourselves.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// do runs a JSON call and decodes the answer into out (nil: discard it).
func (c *Client) do(ctx context.Context, bearer, method, path string, in, out any) error {
	return c.doQuery(ctx, bearer, method, path, nil, in, out)
}

// doQuery is do with query parameters.
func (c *Client) doQuery(ctx context.Context, bearer, method, path string, query url.Values, in, out any) error {
	cl, err := jsonCall(method, path, in)
	if err != nil {
		return err
	}
	cl.query = query
	resp, err := c.roundTrip(ctx, cl, bearer)
	if err != nil {
		return err
	}
	return c.decode(resp, cl, out, c.maxBody)
}

// decode reads a JSON answer of at most limit bytes into out and closes it.
func (c *Client) decode(resp *http.Response, cl *call, out any, limit int64) error {
	defer resp.Body.Close()
	b, err := readCapped(resp.Body, limit)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", cl.method, cl.path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", cl.method, cl.path, err)
	}
	return nil
}

// ErrTooLarge is returned (wrapped) for an answer over the size cap.
var ErrTooLarge = errors.New("answer over the size limit")

// readCapped reads all of r, failing with ErrTooLarge past limit bytes
// rather than returning a truncated body.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return b, nil
}

// escape escapes one path segment (an id from the caller).
func escape(s string) string { return url.PathEscape(s) }
