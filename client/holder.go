package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// Holder is the companion app's view of the API: one enrolled device
// acting for its citizen. It signs device assertions for access tokens
// (SPEC §3.1), caches the token until shortly before it expires, and
// retries a call once with a fresh token when the service answers 401.
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
// (SPEC §3.1 step 2) and records the device and holder ids on the Device
// (save it afterwards). Credentials already issued to the citizen are bound
// to the new device by the service.
func (h *Holder) Enroll(ctx context.Context, citizenID, activationCode string) (*wallet.EnrollResponse, error) {
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
	var out wallet.EnrollResponse
	err = h.c.do(ctx, "", http.MethodPost, "/v1/enrollments", wallet.EnrollRequest{
		CitizenID: citizenID, ActivationCode: activationCode, DeviceKey: jwk, DeviceName: h.dev.Name,
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
	var tr wallet.TokenResponse
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

// Credentials lists the holder's credentials with their claims.
func (h *Holder) Credentials(ctx context.Context) ([]*wallet.CredentialView, error) {
	var out []*wallet.CredentialView
	return out, h.do(ctx, http.MethodGet, "/v1/me/credentials", nil, nil, &out, h.c.maxBody)
}

// Credential returns one of the holder's credentials.
func (h *Holder) Credential(ctx context.Context, id string) (*wallet.CredentialView, error) {
	var out wallet.CredentialView
	if err := h.do(ctx, http.MethodGet, "/v1/me/credentials/"+escape(id), nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Devices lists the holder's devices; Current marks this one.
func (h *Holder) Devices(ctx context.Context) ([]*wallet.DeviceView, error) {
	var out []*wallet.DeviceView
	return out, h.do(ctx, http.MethodGet, "/v1/me/devices", nil, nil, &out, h.c.maxBody)
}

// RevokeDevice revokes one of the holder's devices: its credential copies
// become unusable (SPEC §2).
func (h *Holder) RevokeDevice(ctx context.Context, deviceID string) error {
	return h.do(ctx, http.MethodDelete, "/v1/me/devices/"+escape(deviceID), nil, nil, nil, h.c.maxBody)
}

// Share asks for a share of chosen claims (SPEC §3.3 step 1). The answer
// holds what the device must sign; pass it to Approve. Check what it
// discloses first with CheckShare (ShareAndApprove does).
func (h *Holder) Share(ctx context.Context, req wallet.ShareRequest) (*wallet.ShareCreated, error) {
	var out wallet.ShareCreated
	if err := h.do(ctx, http.MethodPost, "/v1/me/shares", nil, req, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// Approve signs one KB-JWT per presentation of created with the device key
// — the citizen's signed consent — and activates the share (SPEC §3.3
// step 2). It refuses to sign an item whose sd_hash is not the hash of its
// presentation (ErrSDHashMismatch). The answer carries qr_text.
func (h *Holder) Approve(ctx context.Context, created *wallet.ShareCreated) (*wallet.ShareView, error) {
	if created == nil || created.ShareID == "" || len(created.ToSign) == 0 {
		return nil, errors.New("approve: nothing to sign")
	}
	now := h.c.now()
	req := wallet.ApproveRequest{KBJWTs: make([]string, 0, len(created.ToSign))}
	for _, item := range created.ToSign {
		kb, err := h.dev.SignKB(item, now)
		if err != nil {
			return nil, fmt.Errorf("approve share %s: %w", created.ShareID, err)
		}
		req.KBJWTs = append(req.KBJWTs, kb)
	}
	var out wallet.ShareView
	if err := h.do(ctx, http.MethodPost, "/v1/me/shares/"+escape(created.ShareID)+"/approve", nil, req, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrOverDisclosure is returned by CheckShare when the service prepared a
// presentation that is not what the citizen asked for.
var ErrOverDisclosure = errors.New("the presentation is not what was asked for")

// CheckShare checks that created is what req asked for before the citizen
// signs it: one presentation per requested credential, each disclosing
// only requested claims, and bound to the requested verifier if any.
func CheckShare(req wallet.ShareRequest, created *wallet.ShareCreated) error {
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
func Disclosed(item wallet.ToSign) ([]string, error) {
	names, err := credentials.Disclosable(item.Presentation)
	if err != nil {
		return nil, fmt.Errorf("credential %s: read presentation: %w", item.CredentialID, err)
	}
	return names, nil
}

// ShareAndApprove creates a share, checks it with CheckShare, and approves
// it: the whole of SPEC §3.3 steps 1–2. If the check or the approval fails
// the pending share is cancelled (best effort).
func (h *Holder) ShareAndApprove(ctx context.Context, req wallet.ShareRequest) (*wallet.ShareView, error) {
	created, err := h.Share(ctx, req)
	if err != nil {
		return nil, err
	}
	err = CheckShare(req, created)
	var view *wallet.ShareView
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

// Shares lists the holder's shares.
func (h *Holder) Shares(ctx context.Context) ([]*wallet.ShareView, error) {
	var out []*wallet.ShareView
	return out, h.do(ctx, http.MethodGet, "/v1/me/shares", nil, nil, &out, h.c.maxBody)
}

// GetShare returns one of the holder's shares.
func (h *Holder) GetShare(ctx context.Context, id string) (*wallet.ShareView, error) {
	var out wallet.ShareView
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

// Activity lists the holder's activity log, newest first (SPEC §3.6).
func (h *Holder) Activity(ctx context.Context) (*wallet.ActivityResponse, error) {
	var out wallet.ActivityResponse
	if err := h.do(ctx, http.MethodGet, "/v1/me/activity", nil, nil, &out, h.c.maxBody); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportActivity returns the whole hash chain, oldest first, with the
// service's verdict in ChainValid. Check it yourself with
// wallet.CheckChain(resp.Entries): that is the point of the export.
func (h *Holder) ExportActivity(ctx context.Context) (*wallet.ActivityResponse, error) {
	var out wallet.ActivityResponse
	if err := h.do(ctx, http.MethodGet, "/v1/me/activity", url.Values{"export": {"1"}}, nil, &out, max(exportMaxBytes, h.c.maxBody)); err != nil {
		return nil, err
	}
	return &out, nil
}
