package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Citizen routes (access token). The service scopes every one to the
// authenticated holder: someone else's id is the same 404 as an unknown
// one (THREATS T18).

func (s *server) handleCredentials() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Credentials))
}

func (s *server) handleCredential() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.Credential))
}

// handleExportCredential hands the holder its device's copy of a
// credential (issue 11); personal data, never cached.
func (s *server) handleExportCredential() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, _ noBody) (*api.CredentialExport, error) {
		c.Header("Cache-Control", "no-store")
		return s.svc.ExportCredential(c.Request.Context(), p, c.Param("id"))
	})
}

func (s *server) handleDevices() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Devices))
}

func (s *server) handleRevokeDevice() gin.HandlerFunc {
	return noContent(s, s.svc.RevokeDevice)
}

func (s *server) handleDeviceKeys() gin.HandlerFunc {
	return handle(s, http.StatusOK, caller(s.svc.DeviceKeyPool))
}

func (s *server) handleRegisterDeviceKeys() gin.HandlerFunc {
	return handle(s, http.StatusOK, body(s.svc.RegisterDeviceKeys))
}

// handleCreateShare prepares a share for the device to sign (SPEC §3.3
// step 1); the per-holder quota runs before it (T24).
func (s *server) handleCreateShare() gin.HandlerFunc {
	return handle(s, http.StatusCreated, func(c *gin.Context, p *wallet.Principal, req api.ShareRequest) (*api.ShareCreated, error) {
		var err error
		if req.IdempotencyKey, err = idempotencyKey(c, req.IdempotencyKey); err != nil {
			return nil, err
		}
		return s.svc.CreateShare(c.Request.Context(), p, req)
	})
}

func (s *server) handleShares() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Shares))
}

func (s *server) handleShare() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.Share))
}

// handleApproveShare takes the device's KB-JWTs, the citizen's signed
// consent (SPEC §3.3 step 2).
func (s *server) handleApproveShare() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.ApproveShare))
}

func (s *server) handleCancelShare() gin.HandlerFunc {
	return noContent(s, s.svc.CancelShare)
}

// qrText looks up the QR text of one of the caller's objects by id.
type qrText func(ctx context.Context, p *wallet.Principal, id string) (string, error)

// handleQR renders the QR code of an active share (SPEC §3.3 step 3) or of
// a verifier's request waiting to be scanned (§3.4), per SPEC §4: ?size=N
// pixels, qr.MinSize to qr.MaxSize, qr.DefaultSize when absent. The image
// is the one-time token itself, so it is never cached.
func (s *server) handleQR(contentType string, render func(text string, size int) ([]byte, error), lookup qrText) gin.HandlerFunc {
	return func(c *gin.Context) {
		size := qr.DefaultSize
		if v, ok := c.GetQuery("size"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < qr.MinSize || n > qr.MaxSize {
				s.failCode(c, api.CodeInvalidRequest, "size must be an integer from %d to %d", qr.MinSize, qr.MaxSize)
				return
			}
			size = n
		}
		text, err := lookup(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		img, err := render(text, size)
		if errors.Is(err, qr.ErrSize) {
			s.failCode(c, api.CodeInvalidRequest, "size must be an integer from %d to %d", qr.MinSize, qr.MaxSize)
			return
		} else if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, contentType, img)
	}
}

// handleActivity lists the holder's log; ?export=1 the whole chain with
// its check and, last, the checkpoint signed with the key of
// /.well-known/jwks.json (SPEC §3.6).
func (s *server) handleActivity() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, _ noBody) (*api.ActivityResponse, error) {
		export, ok := boolQuery(c, "export")
		if !ok {
			return nil, invalid("export must be 1, 0, true or false")
		}
		pg, err := pageQuery(c)
		if err != nil {
			return nil, err
		}
		return s.svc.Activity(c.Request.Context(), p, export, pg)
	})
}

// boolQuery reads an optional boolean query parameter.
func boolQuery(c *gin.Context, name string) (value, ok bool) {
	switch v, _ := c.GetQuery(name); v {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	}
	return false, false
}

// Requests started by a verifier (SPEC §3.4), the holder's side.

// handleCreatePresence makes a presence code (EIDP1:, 60 s, no data) for
// staff to scan; the per-holder quota runs before it.
func (s *server) handleCreatePresence() gin.HandlerFunc {
	return handle(s, http.StatusCreated, caller(s.svc.CreatePresence))
}

// handleHolderRequests lists a page of the requests waiting for the
// holder's answer; with ?wait=N (seconds, at most 60) it long-polls: when
// none is waiting it answers as soon as one arrives, or after N seconds
// with none.
func (s *server) handleHolderRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		wait, ok := waitQuery(c)
		if !ok {
			s.badWait(c)
			return
		}
		pg, err := pageQuery(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		p := principalOf(c)
		ctx := c.Request.Context()
		if wait > 0 {
			var done func()
			var ok bool
			if ctx, done, ok = s.waitContext(c, wait+5*time.Second); !ok { // the service ends the wait; this is the backstop
				return
			}
			defer done()
		}
		list, err := s.svc.HolderRequests(ctx, p, wait, pg)
		if cutShort(c, ctx, err) {
			list, err = s.svc.HolderRequests(c.Request.Context(), p, 0, pg)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, list)
	}
}

// handleHolderRequestEvents streams the requests addressed to the holder
// as server-sent events: each pending request once, as "request" with its
// RequestView, first those waiting now, then each new one as it arrives; a
// ": keep-alive" comment when quiet. The stream ends after
// s.streamMax (the client reconnects and is sent what is still pending),
// when the client goes, or when the server shuts down.
func (s *server) handleHolderRequestEvents() gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principalOf(c)
		ctx, done, ok := s.waitContext(c, s.streamMax)
		if !ok {
			return
		}
		defer done()
		// The first look answers a failure as JSON, before the stream
		// begins.
		views, err := s.pendingRequests(ctx, p, 0)
		if err != nil {
			s.fail(c, err)
			return
		}
		es, err := s.startEvents(c)
		if err != nil {
			return
		}
		sent := map[string]bool{}
		for {
			fresh := false
			pending := make(map[string]bool, len(views))
			for _, v := range views {
				pending[v.RequestID] = true
				if sent[v.RequestID] {
					continue
				}
				fresh = true
				if es.send("request", v) != nil {
					return
				}
			}
			sent = pending // a request never comes back once it is no longer pending
			if len(views) > 0 && !fresh {
				// All sent: the service would answer at once again, so
				// look again after a while.
				select {
				case <-time.After(min(holderPollInterval, s.heartbeat)):
				case <-ctx.Done():
					return
				}
				views, err = s.pendingRequests(ctx, p, 0)
			} else {
				views, err = s.pendingRequests(ctx, p, s.heartbeat)
			}
			if err != nil {
				if ctx.Err() == nil {
					s.failStream(c, es, err)
				}
				return
			}
			if es.heartbeat(s.heartbeat) != nil {
				return
			}
		}
	}
}

// pendingRequests is the events' list of the requests waiting for the
// holder: the first page, of the most a page holds (newest first).
func (s *server) pendingRequests(ctx context.Context, p *wallet.Principal, wait time.Duration) ([]*api.RequestView, error) {
	list, err := s.svc.HolderRequests(ctx, p, wait, api.Page{Limit: api.MaxLimit})
	if err != nil {
		return nil, err
	}
	return list.Requests, nil
}

// handleResolveRequest binds a scanned EIDR1: request to the holder and
// shows it: the verifier's registered name and category, the purpose and
// the claims asked (SPEC §3.4).
func (s *server) handleResolveRequest() gin.HandlerFunc {
	return handle(s, http.StatusOK, body(s.svc.ResolveRequest))
}

func (s *server) handleHolderRequest() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.HolderRequest))
}

// handlePrepareRequest makes the presentations answering a request, for
// the device to bind with KB-JWTs (aud the verifier's id, nonce the
// request's).
func (s *server) handlePrepareRequest() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.PrepareRequest))
}

// handleApproveRequest takes the device's KB-JWTs, the citizen's signed
// consent, and answers the request once.
func (s *server) handleApproveRequest() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.ApproveRequest))
}

// handleDeclineRequest answers no, explicitly. It takes no body.
func (s *server) handleDeclineRequest() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.DeclineRequest))
}
