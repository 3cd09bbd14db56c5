package server

import (
	"bytes"
	stdjson "encoding/json" // the oracle: the bytes answers have always had
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// answerTypes are the api types the server answers with.
var answerTypes = []any{
	api.IssuerView{}, api.KeyView{}, api.VerifierView{}, api.NewAPIKey{}, api.ActivationCodeResponse{},
	api.EnrollResponse{}, api.TokenResponse{}, api.DeviceView{}, api.IssueResponse{}, api.BulkResult{},
	api.StatusResponse{}, api.CredentialView{}, api.ShareCreated{}, api.ShareView{}, api.VerifyResponse{},
	api.Document{}, api.ActivityResponse{}, api.VerificationsResponse{}, api.CreateRequestResponse{},
	api.RequestView{}, api.RequestPrepared{}, api.RequestResult{}, api.PresenceResponse{}, api.WebhookResponse{},
	api.IssuerList{}, api.VerifierList{}, api.ExternalIssuerList{}, api.APIKeyList{}, api.CredentialList{}, api.DeviceList{},
	api.ShareList{}, api.RequestList{}, api.IssuedCredentialList{}, errorBody{}, statusBody{}, api.CredentialTypes{}, api.CredentialType{},
	api.VerifierCertificateView{}, api.OfflineUploadResult{}, api.DeviceKeysView{},
}

// Values for filling answers: what must be escaped for HTML and scripts,
// control characters, non-ASCII; numbers as JSON decodes them; nested
// claims whose keys sort differently by byte and by rune.
var (
	sampleStrings = []string{"", "plain", "<a href='x'>&amp;</a>", "line\u2028sep\u2029", "ctl\x00\x01\x1f\b\f\n\r\t\"\\/", "ünï😀", "\u007f\u0080\ufeff"}
	sampleValues  = []any{nil, true, false, 0.0, 1e21, 1e-7, 123456789.125, 5e-324, "s<>&\u2028", []any{}, []any{1.0, "x", nil},
		map[string]any{}, map[string]any{"b": 1.0, "a": map[string]any{"z": "<", "Z": []any{"é"}, "é": 2.0, "e": 3.0}}}
)

// sampleTimes are the times fillSample sets: zero, with nanoseconds, and
// whole seconds in another zone.
var sampleTimes = []time.Time{{}, time.Date(2026, 12, 1, 21, 35, 4, 123456789, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5400))}

// inTimeLayout is b, encoding/json's bytes of a value filled by fillSample,
// with each of sampleTimes rewritten in api.TimeLayout, the one form
// answers write times in (UTC, three fractional digits).
func inTimeLayout(b []byte) []byte {
	for _, tm := range sampleTimes {
		v1, _ := stdjson.Marshal(tm)
		b = bytes.ReplaceAll(b, v1, []byte(`"`+tm.UTC().Format(api.TimeLayout)+`"`))
	}
	return b
}

// fillSample sets every exported field of v from seed k, nil, empty and full in
// turn.
func fillSample(v reflect.Value, k, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(sampleTimes[k%len(sampleTimes)]))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillSample(v.Field(i), k+i, depth)
			}
		}
	case reflect.String:
		v.SetString(sampleStrings[k%len(sampleStrings)])
	case reflect.Bool:
		v.SetBool(k%2 == 1)
	case reflect.Int:
		v.SetInt(int64(k%3 - 1))
	case reflect.Uint64:
		v.SetUint(uint64(k % 3 * 1000))
	case reflect.Pointer:
		if k%3 == 0 || depth > 3 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fillSample(p.Elem(), k+1, depth+1)
		v.Set(p)
	case reflect.Slice:
		switch k % 3 {
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case 2:
			s := reflect.MakeSlice(v.Type(), 2, 2)
			fillSample(s.Index(0), k+1, depth+1)
			fillSample(s.Index(1), k+2, depth+1)
			v.Set(s)
		}
	case reflect.Map:
		switch k % 3 {
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
		case 2:
			m := reflect.MakeMap(v.Type())
			for j := range 4 {
				e := reflect.New(v.Type().Elem()).Elem()
				fillSample(e, k+j, depth+1)
				m.SetMapIndex(reflect.ValueOf(sampleStrings[(k+j)%len(sampleStrings)]+fmt.Sprint(j)), e)
			}
			v.Set(m)
		}
	case reflect.Interface:
		if s := sampleValues[k%len(sampleValues)]; s != nil {
			v.Set(reflect.ValueOf(s))
		}
	default:
		panic("fillSample: no samples for " + v.Type().String())
	}
}

// TestAnswersKeepEncodingJSONBytes: every answer type, filled with zero,
// empty and full values, encodes to the bytes encoding/json gives it, the
// bytes clients and the sealed documents were made with (HTML characters
// and U+2028/U+2029 escaped, map members sorted, nil slices null,
// omitempty as v1's), but for its times, each in api.TimeLayout. A field
// added to an answer with an omitempty that v2 reads otherwise (a number,
// a bool) fails here.
func TestAnswersKeepEncodingJSONBytes(t *testing.T) {
	for _, proto := range answerTypes {
		for k := range 24 {
			p := reflect.New(reflect.TypeOf(proto))
			if k > 0 {
				fillSample(p.Elem(), k, 0)
			}
			want, err := stdjson.Marshal(p.Interface())
			if err != nil {
				t.Fatalf("%T %d: encoding/json: %v", proto, k, err)
			}
			want = inTimeLayout(want)
			got, err := marshalAnswer(p.Interface())
			if err != nil || string(got) != string(want) {
				t.Errorf("%T %d:\ngot  %s (%v)\nwant %s", proto, k, got, err, want)
			}
		}
	}
}

// TestSealedDocumentsUnchanged: a redemption answers with the sealed
// document's JSON as it was stored, compacted, its escapes kept.
func TestSealedDocumentsUnchanged(t *testing.T) {
	for _, raw := range []string{
		`{"a":"\u003c\u0026\u003e\u2028","b":[1,2.50,{"c":"\u0041"}]}`,
		` { "x" : "\/" , "y":"é"} `,
	} {
		v := api.VerifyResponse{Documents: []api.Document{api.SealedDocument([]byte(raw))}}
		want, _ := stdjson.Marshal(v)
		want = inTimeLayout(want)
		got, err := marshalAnswer(v)
		if err != nil || string(got) != string(want) {
			t.Errorf("sealed %s:\ngot  %s (%v)\nwant %s", raw, got, err, want)
		}
	}
}

// TestAnswersReplaceInvalidUTF8: a string that is not UTF-8 does not fail
// the answer; each bad byte becomes U+FFFD.
func TestAnswersReplaceInvalidUTF8(t *testing.T) {
	got, err := marshalAnswer(statusBody{Status: "a\xffb"})
	if want := "{\"status\":\"a\ufffdb\"}"; err != nil || string(got) != want {
		t.Errorf("got %s (%v), want %s", got, err, want)
	}
}
