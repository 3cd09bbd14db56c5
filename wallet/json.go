package wallet

import (
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The module's one JSON library is github.com/go-json-experiment/json (the
// proposed encoding/json/v2); only package api, which imports the standard
// library alone, uses encoding/json.

// AnswerOptions encode what clients receive: every time in the one form
// of api.TimeLayout (UTC, milliseconds), and the rest as encoding/json
// did, so the bytes clients, tests and stored documents have always seen
// stay the same: <, > and & escaped (\u003c, \u003e, \u0026) and U+2028, U+2029
// too, so an answer pasted into HTML or a script stays inert; invalid
// UTF-8 replaced by U+FFFD rather than failing; object members of maps
// (claims) sorted; nil slices and maps as null; escapes already in raw
// JSON (a sealed document) kept as they are. The api types' omitempty
// members are strings, slices and pointers, for which v2's omitempty is
// v1's. The server encodes its answers with them, and the service its
// sealed documents, webhook bodies and activity entries. They encode Go
// values and the documents encoded with them, never untrusted input, so
// the encoder's duplicate-name check (a set of names per object) is off.
var AnswerOptions = json.JoinOptions(
	legacyAnswerOptions,
	json.WithMarshalers(json.MarshalToFunc(encodeTime)),
)

// legacyAnswerOptions are AnswerOptions with times in Go's RFC 3339 form
// (as many fractional digits as needed, none when whole), as answers
// wrote them before api.TimeLayout: the form the activity entries
// appended before it were hashed in (activity.go).
var legacyAnswerOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.EscapeForHTML(true),
	jsontext.EscapeForJS(true),
	jsontext.AllowInvalidUTF8(true),
	jsontext.PreserveRawStrings(true),
	json.Deterministic(true),
	json.FormatNilSliceAsNull(true),
	json.FormatNilMapAsNull(true),
)

// encodeTime writes t in api.TimeLayout.
func encodeTime(enc *jsontext.Encoder, t time.Time) error {
	var buf [len(api.TimeLayout) + 2]byte
	b := append(buf[:0], '"')
	b = append(t.UTC().AppendFormat(b, api.TimeLayout), '"')
	return enc.WriteValue(b)
}
