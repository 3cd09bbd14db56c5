package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
)

// Issuer is an issuing authority's view of the API (bearer: an issuer API
// key).
type Issuer struct {
	c      *Client
	apiKey string
}

// Issuer returns the issuing-authority view authenticated by apiKey.
func (c *Client) Issuer(apiKey string) *Issuer { return &Issuer{c: c, apiKey: apiKey} }

// Issue issues one credential (SPEC §3.2).
func (is *Issuer) Issue(ctx context.Context, req api.IssueRequest) (*api.IssueResponse, error) {
	var out api.IssueResponse
	if err := is.c.do(ctx, is.apiKey, http.MethodPost, "/v1/issuer/credentials", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Credential looks up one of the issuer's own credentials (no claims).
func (is *Issuer) Credential(ctx context.Context, id string) (*api.IssuedCredential, error) {
	var out api.IssuedCredential
	if err := is.c.do(ctx, is.apiKey, http.MethodGet, "/v1/issuer/credentials/"+escape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Credentials reads one page of the issuer's own credentials of a status
// (api.StatusValid, api.StatusRevoked, api.StatusSuspended), newest
// first; read on from its NextCursor.
func (is *Issuer) Credentials(ctx context.Context, status string, pg api.Page) (*api.IssuedCredentialList, error) {
	var out api.IssuedCredentialList
	q := pageQuery(url.Values{"status": {status}}, pg)
	if err := is.c.doQuery(ctx, is.apiKey, http.MethodGet, "/v1/issuer/credentials", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CitizenCredentials reads one page of the issuer's own credentials of a
// citizen, in issuance order; the number goes in the body, never the URL.
func (is *Issuer) CitizenCredentials(ctx context.Context, citizenID string, pg api.Page) (*api.IssuedCredentialList, error) {
	var out api.IssuedCredentialList
	err := is.c.doQuery(ctx, is.apiKey, http.MethodPost, "/v1/issuer/credentials:search", pageQuery(nil, pg),
		api.CredentialSearch{CitizenID: citizenID}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetStatus revokes, suspends or reinstates a credential (SPEC §3.2).
func (is *Issuer) SetStatus(ctx context.Context, credentialID string, req api.StatusRequest) (*api.StatusResponse, error) {
	var out api.StatusResponse
	if err := is.c.do(ctx, is.apiKey, http.MethodPost, "/v1/issuer/credentials/"+escape(credentialID)+"/status", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// maxBulkLine caps one line of the bulk answer.
const maxBulkLine = 64 << 10

// IssueBulk streams reqs to POST /v1/issuer/credentials:bulk as NDJSON and
// yields each result as the service sends it, without holding either
// stream in memory (SPEC §3.2). A result for a refused line has Error set;
// the iteration itself stops at the first transport or decoding error,
// yielded as the error. Stopping the loop early aborts the upload.
//
// reqs is consumed on another goroutine while results are read; if it
// blocks (reading a slow source), so does the upload.
func (is *Issuer) IssueBulk(ctx context.Context, reqs iter.Seq[api.IssueRequest]) iter.Seq2[*api.BulkResult, error] {
	return func(yield func(*api.BulkResult, error) bool) {
		pr, pw := io.Pipe()
		// An unencodable request is sent on encErr before the pipe is
		// closed with it, so whoever sees the upload fail can read it.
		encErr := make(chan error, 1)
		go func() {
			enc := jsontext.NewEncoder(pw) // one value and "\n" per line
			for r := range reqs {
				if err := json.MarshalEncode(enc, r); err != nil {
					var se *json.SemanticError
					if errors.As(err, &se) {
						encErr <- fmt.Errorf("bulk: encode request: %w", err)
					}
					pw.CloseWithError(err)
					return // the upload stopped, or r does not encode
				}
			}
			pw.Close()
		}()
		// Unblocks the producer when we stop; it is not waited for, since
		// reqs may block on its source.
		defer pr.CloseWithError(errBulkStopped)
		for res, err := range is.bulk(ctx, pr) {
			if err != nil {
				select {
				case e := <-encErr:
					err = e
				default:
				}
				yield(nil, err)
				return
			}
			if !yield(res, nil) {
				return
			}
		}
		select {
		case e := <-encErr:
			yield(nil, e) // the service saw a truncated upload as a clean end
		default:
		}
	}
}

var errBulkStopped = errors.New("bulk upload stopped")

// IssueBulkNDJSON streams an NDJSON body (one IssueRequest a line, as read
// from a file) and yields the results as IssueBulk does.
func (is *Issuer) IssueBulkNDJSON(ctx context.Context, ndjson io.Reader) iter.Seq2[*api.BulkResult, error] {
	return is.bulk(ctx, ndjson)
}

func (is *Issuer) bulk(ctx context.Context, body io.Reader) iter.Seq2[*api.BulkResult, error] {
	const path = "/v1/issuer/credentials:bulk"
	return func(yield func(*api.BulkResult, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops the upload when the caller stops early
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, is.c.base+path, body)
		if err != nil {
			yield(nil, fmt.Errorf("POST %s: %w", path, err))
			return
		}
		is.c.setHeaders(req, "application/x-ndjson", "application/x-ndjson", is.apiKey)
		resp, err := is.c.send(req, http.MethodPost, path)
		if err != nil {
			yield(nil, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 4<<10), maxBulkLine)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var r api.BulkResult
			if err := json.Unmarshal(line, &r); err != nil {
				yield(nil, fmt.Errorf("POST %s: decode result: %w", path, err))
				return
			}
			if !yield(&r, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(nil, fmt.Errorf("POST %s: read results: %w", path, err))
		}
	}
}
