package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
)

// JSON in and out of the server goes through github.com/go-json-experiment/json
// (the proposed encoding/json/v2), which the credentials package uses too.
//
// Requests are decoded strictly (unmarshalStrict): duplicate member names,
// unknown members, names differing only in case and data after the value
// are refused, so the server and any proxy or log reader see the same
// request. encoding/json (v1) does none of these.
//
// Answers are encoded with answerOptions, which keep the bytes clients,
// tests and the sealed documents of redemptions have always seen:
// encoding/json's output for the api types.

const (
	mediaJSON   = "application/json"
	mediaForm   = "application/x-www-form-urlencoded"
	mediaNDJSON = "application/x-ndjson"
)

// answerOptions encode an answer as encoding/json did: the service's
// wallet.AnswerOptions, with which it also seals the documents a
// redemption answers with.
var answerOptions = wallet.AnswerOptions

// marshalAnswer is v as the JSON of an answer (see answerOptions).
func marshalAnswer(v any) ([]byte, error) { return json.Marshal(v, answerOptions) }

// writeJSON answers v as JSON.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := marshalAnswer(v)
	if err != nil {
		// Only a programming error gets here: every answer type encodes.
		b, _ = marshalAnswer(errorBody{Error: api.CodeInternal, Description: genericInternal})
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	// Declared, so that an answer over net/http's 2 KiB buffer (a
	// redemption's documents) goes out whole rather than chunked.
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(status, mediaJSON, b)
}

// mediaType is the request's media type without parameters, lower case
// ("" when absent or unparsable, or when it names a charset other than
// UTF-8: every body this API reads is UTF-8, RFC 8259 §8.1, and one said
// to be another is refused rather than misread).
func mediaType(c *gin.Context) string {
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ""
	}
	return mt
}

// readBody reads a whole request body of at most s.maxBody bytes. A larger
// body is refused before it is read (Content-Length) or as soon as it goes
// over (chunked), so nothing past the limit is buffered (SPEC §5, T22).
func (s *server) readBody(c *gin.Context) ([]byte, *wallet.Error) {
	return s.readBodyUpTo(c, s.maxBody)
}

// readBodyUpTo reads the request body if it is at most max bytes, within
// the bound on bodies being read at once (bodies.go).
func (s *server) readBodyUpTo(c *gin.Context, max int64) ([]byte, *wallet.Error) {
	tooLarge := &wallet.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("the request body is over %d bytes", max)}
	if c.Request.ContentLength > max {
		return nil, tooLarge
	}
	body := &countedBody{r: http.MaxBytesReader(c.Writer, c.Request.Body, max), b: s.bodies, addr: bodyAddrKey(s.clientAddr(c.Request))}
	defer func() { s.bodies.give(body.addr, body.held) }()
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge
		case errors.Is(err, errBodiesFull):
			s.metrics.rateLimited.WithLabelValues("bodies").Inc()
			// The rest of the body is not read: the connection closes
			// after the answer, which then goes out at once (net/http
			// would first wait to read the rest of a small body).
			c.Header("Connection", "close")
			c.Header("Retry-After", "1")
			return nil, &wallet.Error{Code: api.CodeRateLimited, Message: "too many request bodies being sent at once; retry after 1 s"}
		}
		return nil, &wallet.Error{Code: api.CodeInvalidRequest, Message: "the request body could not be read"}
	}
	return raw, nil
}

// decode reads a JSON request body into v (see decodeJSON). On failure it
// has answered and returns false.
func (s *server) decode(c *gin.Context, v any) bool {
	if we := s.decodeJSON(c, v); we != nil {
		s.answerError(c, we)
		return false
	}
	return true
}

// decodeJSON reads a JSON request body into v: Content-Type
// application/json (else 415), at most s.maxBody bytes (else 413, before
// any decoding), strictly decoded (unknown members, duplicate members and
// trailing data are 400).
func (s *server) decodeJSON(c *gin.Context, v any) *wallet.Error {
	if mediaType(c) != mediaJSON {
		return &wallet.Error{Code: api.CodeUnsupportedMedia, Message: "the request body must be " + mediaJSON}
	}
	body, we := s.readBody(c)
	if we != nil {
		return we
	}
	return unmarshalStrict(body, v, "the request body")
}

// unmarshalStrict decodes one JSON value into v, strictly, and says what
// was wrong in words safe to return: the JSON pointer of the offending
// member, never its value, and no Go type names.
func unmarshalStrict(data []byte, v any, what string) *wallet.Error {
	// Every request body is an object: null, which would decode as
	// nothing given, is refused too.
	if string(bytes.TrimSpace(data)) == "null" {
		return &wallet.Error{Code: api.CodeInvalidRequest, Message: what + " must be a JSON object of the documented shape"}
	}
	// v2's defaults refuse duplicate names, invalid UTF-8 and trailing
	// data, and match names case-sensitively; unknown members are refused
	// on top.
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		return &wallet.Error{Code: api.CodeInvalidRequest, Message: credentials.JSONFault(err, what)}
	}
	return nil
}
