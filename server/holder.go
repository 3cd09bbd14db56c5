package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Citizen routes (access token). The service scopes every one to the
// authenticated holder: someone else's id is the same 404 as an unknown
// one (THREATS T18).

func (s *server) handleCredentials() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := s.svc.Credentials(c.Request.Context(), principalOf(c))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, nonNil(list))
	}
}

func (s *server) handleCredential() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := s.svc.Credential(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, v)
	}
}

func (s *server) handleDevices() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := s.svc.Devices(c.Request.Context(), principalOf(c))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, nonNil(list))
	}
}

func (s *server) handleRevokeDevice() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.svc.RevokeDevice(c.Request.Context(), principalOf(c), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleCreateShare prepares a share for the device to sign (SPEC §3.3
// step 1); the per-holder quota runs before it (T24).
func (s *server) handleCreateShare() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req wallet.ShareRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.svc.CreateShare(c.Request.Context(), principalOf(c), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, resp)
	}
}

func (s *server) handleShares() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := s.svc.Shares(c.Request.Context(), principalOf(c))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, nonNil(list))
	}
}

func (s *server) handleShare() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := s.svc.Share(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, v)
	}
}

// handleApproveShare takes the device's KB-JWTs, the citizen's signed
// consent (SPEC §3.3 step 2).
func (s *server) handleApproveShare() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req wallet.ApproveRequest
		if !s.decode(c, &req) {
			return
		}
		v, err := s.svc.ApproveShare(c.Request.Context(), principalOf(c), c.Param("id"), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, v)
	}
}

func (s *server) handleCancelShare() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.svc.CancelShare(c.Request.Context(), principalOf(c), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handleShareQR renders an active share's QR code (SPEC §3.3 step 3, §4):
// ?size=N pixels, qr.MinSize to qr.MaxSize, qr.DefaultSize when absent.
// The image is the one-time token itself, so it is never cached.
func (s *server) handleShareQR(contentType string, render func(text string, size int) ([]byte, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		size := qr.DefaultSize
		if v, ok := c.GetQuery("size"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < qr.MinSize || n > qr.MaxSize {
				s.failCode(c, wallet.CodeInvalidRequest, "size must be an integer from %d to %d", qr.MinSize, qr.MaxSize)
				return
			}
			size = n
		}
		text, err := s.svc.ShareQR(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		img, err := render(text, size)
		if errors.Is(err, qr.ErrSize) {
			s.failCode(c, wallet.CodeInvalidRequest, "size must be an integer from %d to %d", qr.MinSize, qr.MaxSize)
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
// its check (SPEC §3.6).
func (s *server) handleActivity() gin.HandlerFunc {
	return func(c *gin.Context) {
		export, ok := boolQuery(c, "export")
		if !ok {
			s.failCode(c, wallet.CodeInvalidRequest, "export must be 1, 0, true or false")
			return
		}
		resp, err := s.svc.Activity(c.Request.Context(), principalOf(c), export)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, resp)
	}
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
