package server

import (
	"net/http"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
)

// Starting is what a server's address answers before its service is
// ready (eidwallet serve while a replica waits for its database): the
// process is up, /healthz 200, and not ready, /readyz and every other
// route 503 storage_unavailable with Retry-After, so that neither a TCP
// check nor a probe is misled and a client knows to try again or
// elsewhere.
func Starting() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", mediaJSON)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'")
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			body, _ := json.Marshal(statusBody{Status: "ok"})
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
			return
		}
		body, _ := json.Marshal(errorBody{Error: api.CodeStorageUnavailable, Description: "the service is starting: its store cannot be reached yet"})
		h.Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
	})
}
