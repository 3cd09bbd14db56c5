package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// RouteInventory lists the (method, path) pairs h routes, paths as
// registered in routes.go with gin's `\:` escape undone.
func RouteInventory(h http.Handler) [][2]string {
	var out [][2]string
	for _, r := range h.(*gin.Engine).Routes() {
		out = append(out, [2]string{r.Method, strings.ReplaceAll(r.Path, `\:`, ":")})
	}
	return out
}

func httptestRequest(remote string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	return r
}

// The bounds on request bodies being read at once (bodies.go).
const (
	MaxBodyBytesInFlight = maxBodyBytesInFlight
	MaxBodyBytesPerAddr  = maxBodyBytesPerAddr
)
