package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// handleBackup streams a copy of the embedded store as it is at one
// moment (wallet.Service.Backup): application/octet-stream with its
// Content-Length, so that a copy cut short shows as such; a failure after
// the copy began ends the connection without the rest.
func (s *server) handleBackup() gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		_ = rc.SetWriteDeadline(time.Time{}) // a city's store is gigabytes
		started := false
		err := s.svc.Backup(c.Request.Context(), principalOf(c), c.Writer, func(size int64) {
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
