package server

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// requestTypes are the api types the server decodes request bodies into.
var requestTypes = []any{
	api.CreateIssuerRequest{}, api.CreateVerifierRequest{}, api.ActivationCodeRequest{}, api.EnrollRequest{}, api.IssueRequest{},
	api.OriginsRequest{}, api.CredentialSearch{}, api.StatusRequest{}, api.ShareRequest{}, api.DeviceKeysRequest{}, api.ApproveRequest{},
	api.VerifyRequest{}, api.CreateRequestRequest{}, api.ExternalIssuerRequest{}, api.VerifierCertificateRequest{},
	api.OfflineVerifications{}, api.ResolveRequest{}, api.PrepareRequest{}, api.WebhookRequest{},
}

// TestOneNamePerConcept enforces the API's naming rule (issue 13,
// docs/openapi.json's description) over every request and answer type:
// a time something happens is <event>_at (or at, an entry's own time),
// only the bounds of a period are from, to and start; and a member named
// id is only a party's, {id, name} nested in an answer (SPEC §3.3), every
// other resource being named <kind>_id, in its own object too. The one
// name kept beside another is valid_until, SPEC §3.2's name for an issue
// request's expires_at.
func TestOneNamePerConcept(t *testing.T) {
	timeType := reflect.TypeFor[time.Time]()
	period := map[string]bool{"from": true, "to": true, "start": true}
	party := map[reflect.Type]bool{reflect.TypeFor[api.Party](): true, reflect.TypeFor[api.VerifierParty](): true}
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type)
	walk = func(tp reflect.Type) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || tp == timeType || seen[tp] {
			return
		}
		seen[tp] = true
		for i := range tp.NumField() {
			f := tp.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			alias := tp == reflect.TypeFor[api.IssueRequest]() && name == "valid_until"
			if ft == timeType && name != "at" && !strings.HasSuffix(name, "_at") && !period[name] && !alias {
				t.Errorf("%s.%s: the time %q is not named <event>_at", tp.Name(), f.Name, name)
			}
			if name == "id" && !party[tp] {
				t.Errorf("%s.%s: a resource named id outside a party object (name it <kind>_id)", tp.Name(), f.Name)
			}
			walk(f.Type)
		}
	}
	for _, v := range append(append(append([]any{}, answerTypes...), requestTypes...), api.Stats{}) {
		walk(reflect.TypeOf(v))
	}
	if len(seen) < len(answerTypes)+len(requestTypes) {
		t.Fatalf("walked %d types, fewer than listed", len(seen))
	}
}
