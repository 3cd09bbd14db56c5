// Package docs carries the API description, docs/openapi.json, into the
// binary, so the server can serve the same document that is reviewed in
// the repository.
package docs

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.json
var openapi []byte

// OpenAPI returns the OpenAPI 3.1 description of the HTTP API (a copy: the
// embedded bytes stay as built).
func OpenAPI() []byte { return bytes.Clone(openapi) }
