package server

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"sync"
)

// Token Status List §8.2: "The HTTP response SHOULD use gzip
// Content-Encoding as defined in RFC9110 for Status List Tokens in JWT
// format." A list's token is built once per version and cached
// (wallet.Document), so its gzip form is too, by its ETag, which names the
// exact bytes.

// maxGzipped bounds the compressed tokens kept: about one per list in use.
const maxGzipped = 1024

type gzipCache struct {
	mu sync.Mutex
	m  map[string][]byte // ETag of the body → the body gzipped
}

// of returns body, whose ETag is etag, gzipped.
func (g *gzipCache) of(etag string, body []byte) []byte {
	g.mu.Lock()
	gz, ok := g.m[etag]
	g.mu.Unlock()
	if ok {
		return gz
	}
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // a valid level: no error
	_, _ = w.Write(body)                                  // into memory: no error
	_ = w.Close()
	gz = b.Bytes()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil || len(g.m) >= maxGzipped {
		g.m = make(map[string][]byte) // outdated versions go with the rest
	}
	g.m[etag] = gz
	return gz
}

// gzipETag is the strong ETag of the gzip form of the body tagged etag:
// another representation, so another tag (RFC 9110 §8.8.3).
func gzipETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `.gz"` }

// acceptsGzip reports whether an Accept-Encoding field value allows gzip
// (RFC 9110 §12.5.3): named as gzip or x-gzip, else by "*", with a
// qvalue above 0.
func acceptsGzip(field string) bool {
	named, star := -1.0, -1.0
	for _, item := range strings.Split(field, ",") {
		coding, params, _ := strings.Cut(item, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			name, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					f = 0
				}
				q = f
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			named = max(named, q)
		case "*":
			star = max(star, q)
		}
	}
	if named >= 0 {
		return named > 0
	}
	return star > 0
}
