package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
)

// Error is an error answer of the service (SPEC §5):
// {"error", "error_description", "reason"} with its HTTP status.
type Error struct {
	Status      int      // HTTP status
	Code        api.Code // the "error" member; empty when the body was not the SPEC shape
	Description string   // "error_description": safe to show
	Reason      string   // 422 verification_failed and 403 audience_mismatch
	// RetryAfter is the Retry-After of a 429 (or 503) answer; zero when
	// absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + string(e.Code))
	} else {
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Reason != "" {
		b.WriteString(" (" + e.Reason + ")")
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// ErrorCode returns the service's error code of err, or "" when err is not
// (or does not wrap) an *Error.
func ErrorCode(err error) api.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// wireError is the SPEC §5 error body.
type wireError struct {
	Error            api.Code `json:"error"`
	ErrorDescription string   `json:"error_description"`
	Reason           string   `json:"reason"`
}

// decodeError reads a non-2xx answer. A body that is not the SPEC shape (a
// proxy's HTML page) leaves Code empty and keeps a short, printable excerpt
// as Description.
func decodeError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		e.RetryAfter = parseRetryAfter(ra, time.Now())
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var w wireError
	if json.Unmarshal(b, &w) == nil && w.Error != "" {
		e.Code, e.Description, e.Reason = w.Error, w.ErrorDescription, w.Reason
		return e
	}
	e.Description = excerpt(b, 200)
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// excerpt is the start of b as one printable line.
func excerpt(b []byte, n int) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(string(b), ""))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
