package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
)

// Verifier is a relying party's view of the API (bearer: a verifier API
// key).
type Verifier struct {
	c      *Client
	apiKey string
}

// Verifier returns the relying-party view authenticated by apiKey.
func (c *Client) Verifier(apiKey string) *Verifier { return &Verifier{c: c, apiKey: apiKey} }

// Verify redeems a scanned QR text (SPEC §3.3 step 4). A share is redeemed
// at most its max_uses times: do not retry a call that may have reached the
// service without checking the verifier log first. A failed check is an
// *Error (422 verification_failed with its Reason, 409, 410, 403, 503).
func (v *Verifier) Verify(ctx context.Context, qrText string) (*api.VerifyResponse, error) {
	var out api.VerifyResponse
	if err := v.c.do(ctx, v.apiKey, http.MethodPost, "/v1/verify", api.VerifyRequest{QR: qrText}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UploadOfflineVerifications sends what a counter verified with no network
// (issue 12): the answer names the codes already used at another verifier.
func (v *Verifier) UploadOfflineVerifications(ctx context.Context, req api.OfflineVerifications) (*api.OfflineUploadResult, error) {
	var out api.OfflineUploadResult
	if err := v.c.do(ctx, v.apiKey, http.MethodPost, "/v1/verifier/offline-verifications", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verifications lists the newest page of the verifier's own log, of limit
// entries (0: the service's default); VerificationsPage reads on from its
// NextCursor.
func (v *Verifier) Verifications(ctx context.Context, limit int) (*api.VerificationsResponse, error) {
	return v.VerificationsPage(ctx, api.Page{Limit: limit})
}

// VerificationsPage reads one page of the verifier's own log, newest
// first.
func (v *Verifier) VerificationsPage(ctx context.Context, pg api.Page) (*api.VerificationsResponse, error) {
	var out api.VerificationsResponse
	if err := v.c.doQuery(ctx, v.apiKey, http.MethodGet, "/v1/verifier/verifications", pageQuery(nil, pg), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateRequest asks a citizen for claims (SPEC §3.4). Without Presence the
// answer carries qr_text (EIDR1:) for the verifier to show (RequestQRPNG
// renders it); with the EIDP1: text of a scanned presence code the request
// goes to that citizen's app. Claims the verifier is not registered for are
// refused (403).
func (v *Verifier) CreateRequest(ctx context.Context, req api.CreateRequestRequest) (*api.CreateRequestResponse, error) {
	var out api.CreateRequestResponse
	if err := v.c.do(ctx, v.apiKey, http.MethodPost, "/v1/verifier/requests", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// waitSeconds is a long-poll wait as the API takes it: whole seconds,
// rounded up, at most api.MaxWait.
func waitSeconds(wait time.Duration) string {
	wait = min(max(wait, 0), api.MaxWait)
	return strconv.Itoa(int((wait + time.Second - 1) / time.Second))
}

// Request returns the state of one of the verifier's requests, with the
// documents once approved. With wait (rounded up to seconds, at most
// api.MaxWait) it long-polls: until the status differs from since, or
// with since "" until the request is approved, declined or expired, or
// wait passes; then it answers the state as it is. An http.Client Timeout
// (WithHTTPClient) shorter than wait cuts the call.
func (v *Verifier) Request(ctx context.Context, id string, wait time.Duration, since string) (*api.RequestResult, error) {
	cl := &call{method: http.MethodGet, path: "/v1/verifier/requests/" + escape(id), accept: "application/json", query: url.Values{}}
	if wait > 0 {
		cl.query.Set("wait", waitSeconds(wait))
	}
	if since != "" {
		cl.query.Set("since", since)
	}
	resp, err := v.c.roundTrip(ctx, cl, v.apiKey)
	if err != nil {
		return nil, err
	}
	var out api.RequestResult
	if err := v.c.decode(resp, cl, &out, v.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// FinalStatus reports whether a request in this status will not change:
// approved, declined or expired.
func FinalStatus(status string) bool {
	return status == api.RequestApproved || status == api.RequestDeclined || status == api.RequestExpired
}

// RequestEvents follows one of the verifier's requests by server-sent
// events: it yields the state at once and at each change of status, and
// ends after a final one (FinalStatus). A stream the server ends (after about
// four minutes) is opened again and a status already yielded is not
// repeated. It yields one error and ends when the request cannot be
// followed (unknown: 404), the stream fails, or ctx ends.
func (v *Verifier) RequestEvents(ctx context.Context, id string) iter.Seq2[*api.RequestResult, error] {
	return func(yield func(*api.RequestResult, error) bool) {
		cl := &call{method: http.MethodGet, path: "/v1/verifier/requests/" + escape(id) + "/events", accept: "text/event-stream"}
		open := func(ctx context.Context, cl *call) (*http.Response, error) { return v.c.roundTrip(ctx, cl, v.apiKey) }
		last, stopped := "", false
		err := v.c.streamEvents(ctx, cl, open, func(ev sseEvent) (bool, error) {
			if ev.name != "status" {
				return false, nil
			}
			var res api.RequestResult
			if err := json.Unmarshal(ev.data, &res); err != nil {
				return false, fmt.Errorf("GET %s: decode event: %w", cl.path, err)
			}
			if res.Status == last {
				return false, nil
			}
			last = res.Status
			if !yield(&res, nil) {
				stopped = true
				return true, nil
			}
			return FinalStatus(res.Status), nil
		})
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// RequestQRPNG fetches the EIDR1: code of a request waiting to be scanned
// as a PNG of about size pixels (SPEC §4: 64–1024; 0 lets the service
// choose).
func (v *Verifier) RequestQRPNG(ctx context.Context, id string, size int) ([]byte, error) {
	return v.qr(ctx, id, "png", "image/png", size)
}

// RequestQRSVG fetches the request's code as SVG.
func (v *Verifier) RequestQRSVG(ctx context.Context, id string, size int) ([]byte, error) {
	return v.qr(ctx, id, "svg", "image/svg+xml", size)
}

func (v *Verifier) qr(ctx context.Context, id, ext, accept string, size int) ([]byte, error) {
	cl := &call{method: http.MethodGet, path: "/v1/verifier/requests/" + escape(id) + "/qr." + ext, accept: accept}
	if size != 0 {
		cl.query = url.Values{"size": {strconv.Itoa(size)}}
	}
	resp, err := v.c.roundTrip(ctx, cl, v.apiKey)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readCapped(resp.Body, v.c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", cl.path, err)
	}
	return b, nil
}
