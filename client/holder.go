package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Holder is the companion app's view of the API: one enrolled device
// acting for its citizen. It signs device assertions for access tokens
// (SPEC §3.1), caches the token until shortly before it expires, and
// retries a call once with a fresh token when the service answers 401.
// When the service no longer takes the device (revoked, or unknown to it),
// the token endpoint refuses its assertion: an *Error with Status 400 and
// Code api.CodeInvalidGrant (RFC 7523 §3.1), which no retry cures.
// It is safe for concurrent use.
type Holder struct {
	c   *Client
	dev *Device

	lock chan struct{} // one slot: guards tok and exp, waits with ctx
	tok  string
	exp  time.Time
}

// Holder returns the holder view for dev. Enroll a new device first; a
// device loaded from a file is ready to use.
func (c *Client) Holder(dev *Device) *Holder {
	return &Holder{c: c, dev: dev, lock: make(chan struct{}, 1)}
}

// Device is the holder's device.
func (h *Holder) Device() *Device { return h.dev }

// Enroll binds the device to the citizen with a one-time activation code
// (SPEC §3.1 step 2; as typed: case, hyphens and spaces do not matter, and
// the service reads I and L as 1, O as 0) and records the device and holder ids on the Device
// (save it afterwards). Credentials already issued to the citizen are bound
// to the new device by the service.
func (h *Holder) Enroll(ctx context.Context, citizenID, activationCode string) (*api.EnrollResponse, error) {
	if h.dev == nil {
		return nil, errors.New("enroll: no device")
	}
	if h.dev.ID != "" {
		return nil, fmt.Errorf("enroll: device is already enrolled as %s", h.dev.ID)
	}
	jwk, err := h.dev.PublicJWK()
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	var out api.EnrollResponse
	err = h.c.do(ctx, "", http.MethodPost, "/v1/enrollments", api.EnrollRequest{
		CitizenID: citizenID, ActivationCode: activationCode, DeviceKey: api.RawJSON(jwk), DeviceName: h.dev.Name,
	}, &out)
	if err != nil {
		return nil, err
	}
	if out.DeviceID == "" || out.HolderID == "" {
		return nil, errors.New("enroll: the answer has no device or holder id")
	}
	h.dev.ID, h.dev.HolderID, h.dev.URL = out.DeviceID, out.HolderID, h.c.base
	return &out, nil
}

// AccessToken returns a valid access token, from the cache or by
// exchanging a fresh device assertion at POST /v1/token (SPEC §3.1 step 3).
// The token is a bearer secret: do not log it.
func (h *Holder) AccessToken(ctx context.Context) (string, error) {
	select {
	case h.lock <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-h.lock }()
	if h.tok != "" && h.c.now().Before(h.exp) {
		return h.tok, nil
	}
	tok, exp, err := h.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	h.tok, h.exp = tok, exp
	return tok, nil
}

// forget drops tok from the cache (when the service refused it).
func (h *Holder) forget(tok string) {
	h.lock <- struct{}{}
	if h.tok == tok {
		h.tok = ""
	}
	<-h.lock
}

// fetchToken exchanges a fresh assertion for a token (RFC 7523 §2.1).
func (h *Holder) fetchToken(ctx context.Context) (string, time.Time, error) {
	if h.dev == nil {
		return "", time.Time{}, errors.New("token: no device")
	}
	now := h.c.now()
	a, err := h.dev.SignAssertion(h.c.TokenEndpoint(), now)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: %w", err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}}
	cl := &call{method: http.MethodPost, path: "/v1/token", body: []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded", accept: "application/json"}
	resp, err := h.c.roundTrip(ctx, cl, "")
	if err != nil {
		return "", time.Time{}, err
	}
	var tr api.TokenResponse
	if err := h.c.decode(resp, cl, &tr, h.c.maxBody); err != nil {
		return "", time.Time{}, err
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") || tr.ExpiresIn <= 0 {
		return "", time.Time{}, errors.New("token: the answer is not a bearer token with an expiry")
	}
	// Renew a little early so a token never expires in flight: a quarter of
	// its life, at most 30 s.
	life := time.Duration(tr.ExpiresIn) * time.Second
	return tr.AccessToken, now.Add(life - min(life/4, 30*time.Second)), nil
}

// roundTrip sends cl with the access token, retrying once with a fresh
// token on 401 (the token was revoked, or the service restarted with a new
// key).
func (h *Holder) roundTrip(ctx context.Context, cl *call) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := h.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := h.c.roundTrip(ctx, cl, tok)
		var e *Error
		if attempt == 0 && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			h.forget(tok)
			continue
		}
		return resp, err
	}
}

func (h *Holder) do(ctx context.Context, method, path string, query url.Values, in, out any, limit int64) error {
	cl, err := jsonCall(method, path, in)
	if err != nil {
		return err
	}
	cl.query = query
	resp, err := h.roundTrip(ctx, cl)
	if err != nil {
		return err
	}
	return h.c.decode(resp, cl, out, limit)
}

// Credentials lists the holder's credentials with their claims, in
// issuance order, reading every page.
func (h *Holder) Credentials(ctx context.Context) ([]*api.CredentialView, error) {
	return walk(ctx, credentialWalk, func(ctx context.Context, pg api.Page) ([]*api.CredentialView, string, error) {
		l, err := h.CredentialsPage(ctx, pg)
		if err != nil {
			return nil, "", err
		}
		return l.Credentials, l.NextCursor, nil
	})
}

// CredentialsPage reads one page of the holder's credentials.
func (h *Holder) CredentialsPage(ctx context.Context, pg api.Page) (*api.CredentialList, error) {
	var out api.CredentialList
	if err := h.do(ctx, http.MethodGet, "/v1/me/credentials", pageQuery(nil, pg), nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Credential returns one of the holder's credentials.
func (h *Holder) Credential(ctx context.Context, id string) (*api.CredentialView, error) {
	var out api.CredentialView
	if err := h.do(ctx, http.MethodGet, "/v1/me/credentials/"+escape(id), nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportCredential returns the SD-JWT VC of one of the holder's
// credentials as issued to this device, with every disclosure, for a
// standard wallet app (logged in the activity).
func (h *Holder) ExportCredential(ctx context.Context, id string) (*api.CredentialExport, error) {
	var out api.CredentialExport
	if err := h.do(ctx, http.MethodPost, "/v1/me/credentials/"+escape(id)+"/export", nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Devices lists the holder's devices, oldest first, reading every page;
// Current marks this one.
func (h *Holder) Devices(ctx context.Context) ([]*api.DeviceView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]*api.DeviceView, string, error) {
		var l api.DeviceList
		err := h.do(ctx, http.MethodGet, "/v1/me/devices", pageQuery(nil, pg), nil, &l, h.c.maxBody)
		return l.Devices, l.NextCursor, err
	})
}

// RevokeDevice revokes one of the holder's devices: its credential copies
// become unusable (SPEC §2).
func (h *Holder) RevokeDevice(ctx context.Context, deviceID string) error {
	return h.do(ctx, http.MethodDelete, "/v1/me/devices/"+escape(deviceID), nil, nil, nil, h.c.maxBody)
}

// Share asks for a share of chosen claims (SPEC §3.3 step 1). The answer
// holds what the device must sign; pass it to Approve. Check what it
// discloses first with CheckShare (ShareAndApprove does).
func (h *Holder) Share(ctx context.Context, req api.ShareRequest) (*api.ShareCreated, error) {
	var out api.ShareCreated
	if err := h.do(ctx, http.MethodPost, "/v1/me/shares", nil, req, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Approve signs one KB-JWT per presentation of created with the device key
// — the citizen's signed consent — and activates the share (SPEC §3.3
// step 2). It refuses to sign an item whose sd_hash is not the hash of its
// presentation (ErrSDHashMismatch). The answer carries qr_text.
func (h *Holder) Approve(ctx context.Context, created *api.ShareCreated) (*api.ShareView, error) {
	if created == nil || created.ShareID == "" || len(created.ToSign) == 0 {
		return nil, errors.New("approve: nothing to sign")
	}
	var out api.ShareView
	if err := h.approve(ctx, "/v1/me/shares/"+escape(created.ShareID)+"/approve", created.ToSign, &out); err != nil {
		return nil, fmt.Errorf("approve share %s: %w", created.ShareID, err)
	}
	return &out, nil
}

// approve signs one KB-JWT per item (SignKB) and posts them to path; the
// pool keys they were signed with are spent once the service took them.
func (h *Holder) approve(ctx context.Context, path string, items []api.ToSign, out any) error {
	now := h.c.now()
	req := api.ApproveRequest{KBJWTs: make([]string, 0, len(items))}
	for _, item := range items {
		kb, err := h.dev.SignKB(item, now)
		if err != nil {
			return err
		}
		req.KBJWTs = append(req.KBJWTs, kb)
	}
	if err := h.do(ctx, http.MethodPost, path, nil, req, out, h.c.maxBody); err != nil {
		return err
	}
	for _, item := range items {
		h.dev.spend(item.KeyThumbprint)
	}
	return nil
}

// KeyPool is the device's key pool as the service sees it: free keys,
// batch copies held, keys wanted (GET /v1/me/device/keys).
func (h *Holder) KeyPool(ctx context.Context) (*api.DeviceKeysView, error) {
	var out api.DeviceKeysView
	if err := h.do(ctx, http.MethodGet, "/v1/me/device/keys", nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// RefillKeys registers as many fresh one-time keys as the service wants
// for the device's batch copies (issue 12), at most limit (0: no limit),
// and keeps them in the device (save it afterwards): from the first
// registration on, every share presents a copy of its own, bound to one of
// them, which two verifiers cannot link. It returns the pool as the
// service then sees it.
func (h *Holder) RefillKeys(ctx context.Context, limit int) (*api.DeviceKeysView, error) {
	v, err := h.KeyPool(ctx)
	for added := 0; err == nil && v.Wanted > 0 && (limit == 0 || added < limit); {
		n := min(v.Wanted, maxKeysPerCall)
		if limit > 0 {
			n = min(n, limit-added)
		}
		keys, jwks, err := newPoolKeys(n)
		if err != nil {
			return nil, err
		}
		var next api.DeviceKeysView
		if err := h.do(ctx, http.MethodPost, "/v1/me/device/keys", nil, api.DeviceKeysRequest{Keys: jwks}, &next, h.c.maxBody); err != nil {
			return nil, err
		}
		if err := h.dev.addPoolKeys(keys); err != nil {
			return nil, err
		}
		v, added = &next, added+n
	}
	return v, err
}

// maxKeysPerCall is what one POST /v1/me/device/keys takes.
const maxKeysPerCall = 64

// ErrOverDisclosure is returned by CheckShare when the service prepared a
// presentation that is not what the citizen asked for.
var ErrOverDisclosure = errors.New("the presentation is not what was asked for")

// CheckShare checks that created is what req asked for before the citizen
// signs it: one presentation per requested credential, each disclosing
// only requested claims, and bound to the requested verifier if any.
func CheckShare(req api.ShareRequest, created *api.ShareCreated) error {
	if created == nil {
		return errors.New("check share: no share")
	}
	if len(created.ToSign) != len(req.Items) {
		return fmt.Errorf("%w: %d presentations for %d credentials", ErrOverDisclosure, len(created.ToSign), len(req.Items))
	}
	asked := make(map[string][]string, len(req.Items))
	for _, it := range req.Items {
		asked[it.CredentialID] = it.Claims
	}
	for _, item := range created.ToSign {
		claims, ok := asked[item.CredentialID]
		if !ok {
			return fmt.Errorf("%w: credential %s was not chosen", ErrOverDisclosure, item.CredentialID)
		}
		delete(asked, item.CredentialID) // each credential once
		disclosed, err := Disclosed(item)
		if err != nil {
			return err
		}
		for _, name := range disclosed {
			if !slices.Contains(claims, name) {
				return fmt.Errorf("%w: credential %s would disclose %s", ErrOverDisclosure, item.CredentialID, name)
			}
		}
		if req.VerifierID != "" && item.Aud != req.VerifierID {
			return fmt.Errorf("%w: credential %s is not bound to verifier %s", ErrOverDisclosure, item.CredentialID, req.VerifierID)
		}
	}
	return nil
}

// Disclosed lists the top-level claim names a presentation to sign would
// disclose: what an app shows the citizen before approval.
func Disclosed(item api.ToSign) ([]string, error) {
	names, err := credentials.Disclosable(item.Presentation)
	if err != nil {
		return nil, fmt.Errorf("credential %s: read presentation: %w", item.CredentialID, err)
	}
	return names, nil
}

// ShareAndApprove creates a share, checks it with CheckShare, and approves
// it: the whole of SPEC §3.3 steps 1–2. If the check or the approval fails
// the pending share is cancelled (best effort).
func (h *Holder) ShareAndApprove(ctx context.Context, req api.ShareRequest) (*api.ShareView, error) {
	created, err := h.Share(ctx, req)
	if err != nil {
		return nil, err
	}
	err = CheckShare(req, created)
	var view *api.ShareView
	if err == nil {
		view, err = h.Approve(ctx, created)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = h.CancelShare(cctx, created.ShareID) // the share expires anyway
		return nil, err
	}
	return view, nil
}

// Shares lists the holder's shares, newest first, reading every page.
func (h *Holder) Shares(ctx context.Context) ([]*api.ShareView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]*api.ShareView, string, error) {
		l, err := h.SharesPage(ctx, pg)
		if err != nil {
			return nil, "", err
		}
		return l.Shares, l.NextCursor, nil
	})
}

// SharesPage reads one page of the holder's shares.
func (h *Holder) SharesPage(ctx context.Context, pg api.Page) (*api.ShareList, error) {
	var out api.ShareList
	if err := h.do(ctx, http.MethodGet, "/v1/me/shares", pageQuery(nil, pg), nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetShare returns one of the holder's shares.
func (h *Holder) GetShare(ctx context.Context, id string) (*api.ShareView, error) {
	var out api.ShareView
	if err := h.do(ctx, http.MethodGet, "/v1/me/shares/"+escape(id), nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelShare cancels a share that has not been redeemed (SPEC §3.3 step 3).
func (h *Holder) CancelShare(ctx context.Context, id string) error {
	return h.do(ctx, http.MethodDelete, "/v1/me/shares/"+escape(id), nil, nil, nil, h.c.maxBody)
}

// ShareQRPNG fetches the share's QR code as a PNG of about size pixels
// (SPEC §4: 64–1024; 0 lets the service choose).
func (h *Holder) ShareQRPNG(ctx context.Context, id string, size int) ([]byte, error) {
	return h.qr(ctx, id, "png", "image/png", size)
}

// ShareQRSVG fetches the share's QR code as SVG.
func (h *Holder) ShareQRSVG(ctx context.Context, id string, size int) ([]byte, error) {
	return h.qr(ctx, id, "svg", "image/svg+xml", size)
}

func (h *Holder) qr(ctx context.Context, id, ext, accept string, size int) ([]byte, error) {
	cl := &call{method: http.MethodGet, path: "/v1/me/shares/" + escape(id) + "/qr." + ext, accept: accept}
	if size != 0 {
		cl.query = url.Values{"size": {strconv.Itoa(size)}}
	}
	resp, err := h.roundTrip(ctx, cl)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readCapped(resp.Body, h.c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", cl.path, err)
	}
	return b, nil
}

// Activity lists the newest page of the holder's activity log (SPEC
// §3.6); ActivityPage reads on from its NextCursor.
func (h *Holder) Activity(ctx context.Context) (*api.ActivityResponse, error) {
	return h.ActivityPage(ctx, api.Page{})
}

// ActivityPage reads one page of the holder's activity log, newest first.
func (h *Holder) ActivityPage(ctx context.Context, pg api.Page) (*api.ActivityResponse, error) {
	var out api.ActivityResponse
	if err := h.do(ctx, http.MethodGet, "/v1/me/activity", pageQuery(nil, pg), nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportActivity returns the whole hash chain, oldest first, with the
// service's verdict in ChainValid and its signed Checkpoint. Check it
// yourself, as anyone can, with CheckActivityExport over the bytes of
// ExportActivityJSON: that is the point of the export.
func (h *Holder) ExportActivity(ctx context.Context) (*api.ActivityResponse, error) {
	var out api.ActivityResponse
	if err := h.do(ctx, http.MethodGet, "/v1/me/activity", url.Values{"export": {"1"}}, nil, &out, max(exportMaxBytes, h.c.maxBody)); err != nil {
		return nil, err
	}
	return &out, nil
}

// Requests started by a verifier (SPEC §3.4).

// Presence makes a presence code (EIDP1:, 60 seconds, no data) for staff
// to scan; their request then reaches Requests and RequestEvents.
func (h *Holder) Presence(ctx context.Context) (*api.PresenceResponse, error) {
	var out api.PresenceResponse
	if err := h.do(ctx, http.MethodPost, "/v1/me/presence", nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Requests lists the requests waiting for the citizen's answer, newest
// first: the first page, of up to api.MaxLimit (RequestsPage reads on).
// With wait (rounded up to seconds, at most api.MaxWait) it long-polls:
// when none is waiting it returns as soon as one arrives, or after wait
// with none. While any is waiting it returns at once; use RequestEvents
// to hear of each new one.
func (h *Holder) Requests(ctx context.Context, wait time.Duration) ([]*api.RequestView, error) {
	l, err := h.RequestsPage(ctx, wait, api.Page{Limit: api.MaxLimit})
	if err != nil {
		return nil, err
	}
	return l.Requests, nil
}

// RequestsPage reads one page of the requests waiting for the citizen's
// answer, long-polling with wait as Requests does.
func (h *Holder) RequestsPage(ctx context.Context, wait time.Duration, pg api.Page) (*api.RequestList, error) {
	q := pageQuery(nil, pg)
	if wait > 0 {
		q.Set("wait", waitSeconds(wait))
	}
	var out api.RequestList
	if err := h.do(ctx, http.MethodGet, "/v1/me/requests", q, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// maxSeenRequests bounds what RequestEvents remembers to skip repeats.
const maxSeenRequests = 4096

// RequestEvents follows the requests addressed to the citizen by
// server-sent events: it yields each waiting request once, those waiting
// now first, then each new one as it arrives. A stream the server ends
// (after about four minutes) is opened again, without repeats. It runs
// until the loop stops or yields one error and ends: the stream failed, or
// ctx ended (ctx.Err()).
func (h *Holder) RequestEvents(ctx context.Context) iter.Seq2[*api.RequestView, error] {
	return func(yield func(*api.RequestView, error) bool) {
		cl := &call{method: http.MethodGet, path: "/v1/me/requests/events", accept: "text/event-stream"}
		seen, stopped := map[string]bool{}, false
		err := h.c.streamEvents(ctx, cl, h.roundTrip, func(ev sseEvent) (bool, error) {
			if ev.name != "request" {
				return false, nil
			}
			var v api.RequestView
			if err := json.Unmarshal(ev.data, &v); err != nil {
				return false, fmt.Errorf("GET %s: decode event: %w", cl.path, err)
			}
			if seen[v.RequestID] {
				return false, nil
			}
			if len(seen) >= maxSeenRequests {
				clear(seen) // long gone: requests live minutes
			}
			seen[v.RequestID] = true
			if !yield(&v, nil) {
				stopped = true
				return true, nil
			}
			return false, nil
		})
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// Resolve resolves a scanned EIDR1: code: the request is bound to this
// citizen and shown with the verifier's registered name and category, the
// purpose and the claims asked, each flagged Registered false when outside
// the verifier's registration. A code is resolved once (then 409). An
// OpenID4VP link of a standard verifier resolves too (Protocol
// "openid4vp"): PrepareRequest then takes no items.
func (h *Holder) Resolve(ctx context.Context, qrText string) (*api.RequestView, error) {
	var out api.RequestView
	if err := h.do(ctx, http.MethodPost, "/v1/me/requests:resolve", nil, api.ResolveRequest{QR: qrText}, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRequest returns one of the citizen's requests.
func (h *Holder) GetRequest(ctx context.Context, id string) (*api.RequestView, error) {
	var out api.RequestView
	if err := h.do(ctx, http.MethodGet, "/v1/me/requests/"+escape(id), nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// PrepareRequest chooses the credentials and claims that answer a request
// (at most what it asked) and returns what the device must sign: pass it
// to ApproveRequest, after CheckRequest (AnswerRequest does both).
func (h *Holder) PrepareRequest(ctx context.Context, id string, req api.PrepareRequest) (*api.RequestPrepared, error) {
	var out api.RequestPrepared
	if err := h.do(ctx, http.MethodPost, "/v1/me/requests/"+escape(id)+"/prepare", nil, req, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveRequest signs one KB-JWT per prepared presentation with the
// device key, aud and nonce taken from each item (the verifier's id and
// the request's nonce) and sd_hash recomputed here (ErrSDHashMismatch if
// the service's differs), and answers the request: the citizen's consent.
func (h *Holder) ApproveRequest(ctx context.Context, prepared *api.RequestPrepared) (*api.RequestView, error) {
	if prepared == nil || prepared.RequestID == "" || len(prepared.ToSign) == 0 {
		return nil, errors.New("approve request: nothing to sign")
	}
	var out api.RequestView
	if err := h.approve(ctx, "/v1/me/requests/"+escape(prepared.RequestID)+"/approve", prepared.ToSign, &out); err != nil {
		return nil, fmt.Errorf("approve request %s: %w", prepared.RequestID, err)
	}
	return &out, nil
}

// DeclineRequest answers no.
func (h *Holder) DeclineRequest(ctx context.Context, id string) (*api.RequestView, error) {
	var out api.RequestView
	if err := h.do(ctx, http.MethodPost, "/v1/me/requests/"+escape(id)+"/decline", nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckRequest checks what the service prepared before the citizen signs
// it: one presentation per chosen credential, each bound to the verifier
// the citizen was shown (aud) and disclosing only claims both chosen and
// asked by the request.
func CheckRequest(view *api.RequestView, req api.PrepareRequest, prepared *api.RequestPrepared) error {
	if view == nil || prepared == nil {
		return errors.New("check request: nothing to check")
	}
	if prepared.RequestID != view.RequestID {
		return fmt.Errorf("%w: prepared for request %s, not %s", ErrOverDisclosure, prepared.RequestID, view.RequestID)
	}
	asked := map[string]bool{}
	for _, c := range view.Claims {
		asked[c.Claim] = true
	}
	if err := CheckShare(api.ShareRequest{Items: req.Items, VerifierID: view.Verifier.ID},
		&api.ShareCreated{ShareID: prepared.RequestID, ToSign: prepared.ToSign}); err != nil {
		return err
	}
	for _, item := range prepared.ToSign {
		disclosed, err := Disclosed(item)
		if err != nil {
			return err
		}
		for _, name := range disclosed {
			if !asked[name] {
				return fmt.Errorf("%w: credential %s would disclose %s, which the request did not ask for", ErrOverDisclosure, item.CredentialID, name)
			}
		}
	}
	return nil
}

// AnswerRequest answers a request the citizen was shown (from Resolve,
// Requests or RequestEvents) with the chosen items: prepare, CheckRequest,
// ApproveRequest. If the check or the approval fails the request stays
// unanswered; DeclineRequest says no.
func (h *Holder) AnswerRequest(ctx context.Context, view *api.RequestView, items []api.ShareRequestItem) (*api.RequestView, error) {
	if view == nil {
		return nil, errors.New("answer request: no request")
	}
	req := api.PrepareRequest{Items: items}
	prepared, err := h.PrepareRequest(ctx, view.RequestID, req)
	if err != nil {
		return nil, err
	}
	if err := CheckRequest(view, req, prepared); err != nil {
		return nil, err
	}
	return h.ApproveRequest(ctx, prepared)
}
