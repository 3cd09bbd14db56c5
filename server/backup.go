package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// handleBackup streams a copy of the embedded store as it is at one
// moment (wallet.Service.Backup): application/octet-stream with its
// Content-Length, so that a copy cut short shows as such; a failure after
// the copy began ends the connection without the rest.
func (s *server) handleBackup() gin.HandlerFunc {
	return func(c *gin.Context) {
		// A city's store is gigabytes: no deadline for the whole copy, but
		// each write has the bulk streams' idle time to go out, so that a
		// reader that stops reading is cut, its spool file with it. At
		// shutdown (which waits for handlers, and does not cancel them)
		// the copy is cut at once.
		out := &idleWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), idle: s.bulkIdle}
		ctx, cancel := s.drainContext(c.Request)
		defer cancel()
		defer context.AfterFunc(ctx, out.cut)()
		started := false
		err := s.svc.Backup(ctx, principalOf(c), out, func(size int64) {
			h := c.Writer.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.FormatInt(size, 10))
			h.Set("Content-Disposition", `attachment; filename="eidwallet.db"`)
			c.Status(http.StatusOK)
			started = true
		})
		if err != nil && started {
			panic(http.ErrAbortHandler) // net/http ends the connection: the copy is short of its length
		}
		if err != nil {
			s.fail(c, err)
		}
	}
}

// idleWriter writes to w, giving each write idle to go out, until cut.
type idleWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	idle  time.Duration
	ended atomic.Bool
}

var errCut = errors.New("the copy is cut: the server is shutting down")

func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	if w.ended.Load() { // cut before this write's deadline was set, which undid the cut's
		return 0, errCut
	}
	return w.w.Write(p)
}

// cut ends the writes: the one waiting now, and every later one.
func (w *idleWriter) cut() {
	w.ended.Store(true)
	_ = w.rc.SetWriteDeadline(time.Now())
}
