package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// The web pages (issue 5): the staff verifier page at /verify, the
// citizen demo wallet at /demo/wallet and the operator's usage statistics
// at /admin (issue 13). Everything they load is embedded in
// the binary and served from /assets/ (ours) and /vendor/ (jsQR and
// cbor-x, with their licences); nothing comes from a CDN. The pages use only the public API,
// same origin, like any other client. docs/pages.md describes them.

//go:embed web
var webFiles embed.FS

// pageCSP is the Content-Security-Policy of the HTML pages: scripts and
// styles only from our own files (no inline code, no eval), images from
// our files, data: URIs (portraits) and blob: URLs (QR images fetched with
// the holder's token), the camera stream, API calls to this origin, and
// the staff page's service worker and web app manifest from our files
// (issue 12: the page works offline and can be installed). The API's own
// answers keep the stricter default-src 'none' of securityHeaders.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// The staff page's service worker (web/assets/sw.js) controls /verify,
// above its own folder: Service-Worker-Allowed lets it (Service Workers
// §4.2, max scope). A worker's own fetches follow the CSP of its script's
// answer, not the page's: it may fetch from this origin and nothing else.
const (
	serviceWorkerPath  = "/assets/sw.js"
	serviceWorkerScope = "/verify"
	serviceWorkerCSP   = "default-src 'none'; connect-src 'self'"
)

// manifestPath is where the staff page's web app manifest
// (web/manifest.webmanifest) is served: with the pages' other files, so
// that everything a page loads comes from /assets/ or /vendor/.
const manifestPath = "/assets/manifest.webmanifest"

// pageData is what the page templates get: values a page needs that only
// the server knows, passed in <meta> elements (no inline script).
type pageData struct {
	// TokenEndpoint is the aud of device assertions (SPEC §3.1): the
	// service's public URL, which may differ from the page's origin behind
	// a proxy.
	TokenEndpoint string
}

// asset is one embedded file under web/assets or web/vendor, with its
// validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// pages holds the parsed templates and the files, made once in pageRoutes.
type pages struct {
	tmpl  *template.Template
	files map[string]*asset // by URL path: /assets/app.css, /vendor/jsQR.js
}

// assetDirs are the embedded folders served as they are, one URL segment
// deep: our own files, and vendored code with its licence.
var assetDirs = []string{"assets", "vendor"}

func loadPages() (*pages, error) {
	tmpl, err := template.ParseFS(webFiles, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse page templates: %w", err)
	}
	p := &pages{tmpl: tmpl, files: map[string]*asset{}}
	for _, dir := range assetDirs {
		entries, err := fs.ReadDir(webFiles, "web/"+dir)
		if err != nil {
			return nil, fmt.Errorf("load page assets: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				return nil, fmt.Errorf("load page assets: web/%s/%s: only files are served", dir, e.Name())
			}
			b, err := fs.ReadFile(webFiles, "web/"+dir+"/"+e.Name())
			if err != nil {
				return nil, fmt.Errorf("load page assets: %w", err)
			}
			p.files["/"+dir+"/"+e.Name()] = &asset{body: b, contentType: contentType(e.Name()), etag: wallet.ETag(b)}
		}
	}
	b, err := fs.ReadFile(webFiles, "web/manifest.webmanifest")
	if err != nil {
		return nil, fmt.Errorf("load page assets: %w", err)
	}
	p.files[manifestPath] = &asset{body: b, contentType: contentType(manifestPath), etag: wallet.ETag(b)}
	return p, nil
}

// contentType is the media type of an embedded file, by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".webmanifest":
		return "application/manifest+json" // Web App Manifest §1.1
	case ".LICENSE", ".txt", ".md":
		return "text/plain; charset=utf-8"
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// pageRoutes adds the web pages and their files. They are not API routes:
// no credentials, no JSON; the pages call the API from the browser. Each
// file route takes one path segment, so no path can climb out of its
// folder.
func (s *server) pageRoutes(r router) {
	p, err := loadPages()
	if err != nil {
		panic(err) // the files are compiled in: a broken one is a build mistake
	}
	r.GET("/verify", s.handlePage(p, "verify.html", "camera=(self)"))
	r.GET("/demo/wallet", s.handlePage(p, "wallet.html", "camera=()"))
	r.GET("/admin", s.handlePage(p, "admin.html", "camera=()"))
	r.GET("/assets/:file", s.handleAsset(p, "assets"))
	r.GET("/vendor/:file", s.handleAsset(p, "vendor"))
}

// pageHeaders are the headers of an HTML page; securityHeaders has set the
// rest (nosniff, X-Frame-Options, Referrer-Policy).
func pageHeaders(h http.Header, permissions string) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Permissions-Policy", permissions+", microphone=(), geolocation=(), payment=(), usb=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
}

// handlePage renders one page template.
func (s *server) handlePage(p *pages, name, permissions string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var buf bytes.Buffer
		if err := p.tmpl.ExecuteTemplate(&buf, name, pageData{TokenEndpoint: s.svc.TokenEndpoint()}); err != nil {
			s.fail(c, fmt.Errorf("render %s: %w", name, err))
			return
		}
		pageHeaders(c.Writer.Header(), permissions)
		c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
	}
}

// handleAsset serves an embedded file of dir with a content-hash ETag, so
// a browser revalidates it cheaply and never runs a stale script after an
// upgrade.
func (s *server) handleAsset(p *pages, dir string) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, ok := p.files["/"+dir+"/"+c.Param("file")]
		if !ok {
			s.failCode(c, api.CodeNotFound, "no such file")
			return
		}
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if "/"+dir+"/"+c.Param("file") == serviceWorkerPath {
			h.Set("Service-Worker-Allowed", serviceWorkerScope)
			h.Set("Content-Security-Policy", serviceWorkerCSP)
		}
		if notModified(c, a.etag) {
			return
		}
		c.Data(http.StatusOK, a.contentType, a.body)
	}
}

// notModified sets etag as the answer's ETag and, when If-None-Match
// names it, answers 304 Not Modified with no body and reports true. The
// caller has set its other headers: a 304 carries those the 200 would
// (RFC 9110 §15.4.5).
func notModified(c *gin.Context, etag string) bool {
	c.Writer.Header().Set("ETag", etag)
	if inm := c.GetHeader("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		c.Status(http.StatusNotModified)
		return true
	}
	return false
}

// etagMatch reports whether an If-None-Match list names etag (RFC 9110
// §13.1.2, weak comparison).
func etagMatch(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}
