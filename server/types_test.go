package server_test

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
)

// schema is a JSON Schema object as GET /v1/types answers it, decoded.
type schema = map[string]any

// listTypes reads GET /v1/types, with no credentials.
func (h *harness) listTypes() []api.CredentialType {
	h.t.Helper()
	var list api.CredentialTypes
	h.call("GET", "/v1/types", "", nil, 200, &list)
	return list.Types
}

// typeIssuer makes an issuer of every type and returns its API key.
func (h *harness) typeIssuer(types []api.CredentialType) string {
	h.t.Helper()
	var ids []string
	for _, ct := range types {
		ids = append(ids, ct.ID)
	}
	h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{ID: "registry", Name: "Every type", Types: ids}, 201, nil)
	var key api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/registry/api-keys", h.admin, nil, 201, &key)
	return key.Key
}

// issueClaims posts claims as a credential of type typ and returns the
// status and, for an error, its description.
func (h *harness) issueClaims(key, typ string, claims map[string]any) (int, string) {
	h.t.Helper()
	body := must(json.Marshal(api.IssueRequest{CitizenID: testCitizen, Type: typ, Claims: claims, ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}))
	resp := h.request("POST", "/v1/issuer/credentials", key, "application/json", body)
	raw := readAll(h.t, resp)
	var e apiError
	if resp.StatusCode != http.StatusCreated {
		if err := json.Unmarshal(raw, &e); err != nil || e.Error != string(api.CodeInvalidRequest) {
			h.t.Fatalf("issue %s: %d %s", typ, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, e.Description
}

// TestTypesSchemaIsWhatIssuanceTakes: each type's JSON Schema, as GET
// /v1/types publishes it, says what POST /v1/issuer/credentials accepts.
// Every case is made from the schema alone: an object of the required
// properties with values the schema allows issues; without any one
// required property (nested ones too) it is refused, naming it; with every
// property that is not readOnly it issues; a readOnly (derived) property,
// an unknown one (additionalProperties false), a null, a string one
// character over maxLength are refused, one at maxLength in Vietnamese
// (three bytes a letter) and every enum value issue.
func TestTypesSchemaIsWhatIssuanceTakes(t *testing.T) {
	h := newHarness(t)
	types := h.listTypes()
	if got := len(types); got != 3 {
		t.Fatalf("%d types, want the 3 built in", got)
	}
	key := h.typeIssuer(types)
	for _, ct := range types {
		t.Run(ct.ID, func(t *testing.T) {
			s := ct.Schema
			if s["$schema"] != credentials.SchemaDialect || s["type"] != "object" || s["additionalProperties"] != false {
				t.Fatalf("schema head %v %v %v", s["$schema"], s["type"], s["additionalProperties"])
			}
			ok := func(what string, claims map[string]any) {
				t.Helper()
				if status, desc := h.issueClaims(key, ct.ID, claims); status != http.StatusCreated {
					t.Errorf("%s: %d %s, want 201", what, status, desc)
				}
			}
			refused := func(what, claim string, claims map[string]any) {
				t.Helper()
				status, desc := h.issueClaims(key, ct.ID, claims)
				if status != http.StatusBadRequest || !strings.Contains(desc, "claim "+claim+":") {
					t.Errorf("%s: %d %q, want 400 naming claim %s", what, status, desc, claim)
				}
			}

			minimal := instance(t, s, false).(map[string]any)
			ok("the required properties", minimal)
			for _, path := range requiredPaths(s, "") {
				c := clone(minimal)
				drop(c, path)
				refused("without "+path, path, c)
			}
			ok("every property", instance(t, s, true).(map[string]any))

			for name, p := range properties(s) {
				c := clone(minimal)
				if p["readOnly"] == true {
					c[name] = instance(t, p, false)
					refused("readOnly "+name, name, c)
					continue
				}
				c[name] = nil
				refused("null "+name, name, c)
				if p["type"] != "string" {
					continue
				}
				if enum, _ := p["enum"].([]any); enum != nil {
					for _, v := range enum {
						c[name] = v
						ok(fmt.Sprintf("%s %v", name, v), c)
					}
					continue
				}
				if p["pattern"] != nil || p["format"] != nil {
					continue
				}
				n := int(p["maxLength"].(float64))
				c[name] = strings.Repeat("ễ", n)
				ok(fmt.Sprintf("%s of %d characters", name, n), c)
				c[name] = strings.Repeat("ễ", n+1)
				refused(fmt.Sprintf("%s of %d characters", name, n+1), name, c)
			}
			c := clone(minimal)
			c["shoe_size"] = "44"
			refused("an unknown property", "shoe_size", c)
			for name, p := range properties(s) {
				if items, _ := p["items"].(schema); items != nil && minimal[name] != nil {
					c := clone(minimal)
					c[name].([]any)[0].(map[string]any)["shoe_size"] = "44"
					refused("an unknown property of "+name, name+"[0].shoe_size", c)
				}
			}
		})
	}
}

// TestTypesList: GET /v1/types and /v1/types/{id} are public; each type
// has its names in Vietnamese, with their diacritics, and English, and the
// URL of its type metadata; an unknown id is 404.
func TestTypesList(t *testing.T) {
	h := newHarness(t)
	names := map[string][2]string{
		credentials.NationalID:      {"Căn cước công dân", "Citizen identity card"},
		credentials.HealthInsurance: {"Thẻ bảo hiểm y tế", "Health insurance card"},
		credentials.DriverLicence:   {"Giấy phép lái xe", "Driving licence"},
	}
	types := h.listTypes()
	for _, ct := range types {
		want, ok := names[ct.ID]
		if !ok {
			t.Fatalf("type %s", ct.ID)
		}
		if got := displayNames(ct.Display); got != want {
			t.Errorf("%s: display names %q, want %q", ct.ID, got, want)
		}
		if ct.MetadataURI != publicURL+"/vct/"+ct.VCT {
			t.Errorf("%s: metadata_uri %s", ct.ID, ct.MetadataURI)
		}
		var one api.CredentialType
		h.call("GET", "/v1/types/"+ct.ID, "", nil, 200, &one)
		if string(must(json.Marshal(one, json.Deterministic(true)))) != string(must(json.Marshal(ct, json.Deterministic(true)))) {
			t.Errorf("%s: GET /v1/types/%s differs from its entry in the list", ct.ID, ct.ID)
		}
	}
	if len(types) != len(names) {
		t.Errorf("%d types, want %d", len(types), len(names))
	}
	wantError(t, h.request("GET", "/v1/types/passport", "", "", nil), 404, "not_found")
}

// TestTypeMetadataServed: each type's SD-JWT VC Type Metadata
// (draft-ietf-oauth-sd-jwt-vc-18 §4) is at its metadata_uri, as
// application/json: its vct, its display in vi and en (locale and name,
// §4.5), and a claims entry (§4.6) for every property of its schema,
// nested ones under their array's null, with labels in both languages
// (§4.6.2), mandatory for what an issuer must send and what is derived
// (§4.6.3), and sd always for what is a disclosure of its own (§4.6.4).
func TestTypeMetadataServed(t *testing.T) {
	h := newHarness(t)
	labels := map[string][2]string{ // a few labels, with their diacritics
		"full_name": {"Họ và tên", "Full name"}, "birth_date": {"Ngày sinh", "Date of birth"},
		"place_of_origin": {"Quê quán", "Place of origin"}, "place_of_residence": {"Nơi thường trú", "Place of residence"},
		"portrait": {"Ảnh chân dung", "Portrait"}, "age_over_18": {"Đủ 18 tuổi", "Aged 18 or over"},
		"classes.*.class": {"Hạng", "Class"},
	}
	for _, ct := range h.listTypes() {
		t.Run(ct.ID, func(t *testing.T) {
			resp, body := h.conditional("GET", strings.TrimPrefix(ct.MetadataURI, publicURL), "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var m credentials.TypeMetadata
			if err := json.Unmarshal(body, &m, json.RejectUnknownMembers(true)); err != nil {
				t.Fatal(err)
			}
			if m.VCT != ct.VCT || m.Name != ct.Name {
				t.Errorf("vct %s name %s", m.VCT, m.Name)
			}
			display := viEn(m.Display, func(d credentials.TypeDisplay) (string, string) { return d.Locale, d.Name })
			if display != displayNames(ct.Display) {
				t.Errorf("display %q, /v1/types says %q", display, displayNames(ct.Display))
			}

			want := claimPaths(ct.Schema, "", true)
			got := map[string]credentials.ClaimMetadata{}
			for _, c := range m.Claims {
				got[pathKey(c.Path)] = c
			}
			for path, mandatory := range want {
				c, ok := got[path]
				if !ok {
					t.Errorf("no claim metadata for %s", path)
					continue
				}
				if c.Mandatory != mandatory {
					t.Errorf("%s: mandatory %v, want %v", path, c.Mandatory, mandatory)
				}
				// A top-level claim and an array's element are disclosures
				// of their own; what is inside an element is in its.
				wantSD := credentials.SDNever
				if parts := strings.Split(path, "."); len(parts) == 1 || len(parts) == 2 && parts[1] == "*" {
					wantSD = credentials.SDAlways
				}
				if c.SD != wantSD {
					t.Errorf("%s: sd %q, want %q", path, c.SD, wantSD)
				}
				if l, ok := labels[path]; ok && claimLabels(c.Display) != l {
					t.Errorf("%s: labels %q, want %q", path, claimLabels(c.Display), l)
				}
				if !strings.HasSuffix(path, ".*") && (claimLabels(c.Display)[0] == "" || claimLabels(c.Display)[1] == "") {
					t.Errorf("%s: labels %q, want vi and en", path, claimLabels(c.Display))
				}
			}
			for path := range got {
				if _, ok := want[path]; !ok {
					t.Errorf("claim metadata for %s, which the schema does not have", path)
				}
			}
		})
	}
	wantError(t, h.request("GET", "/vct/urn:eidwallet:vct:passport:1", "", "", nil), 404, "not_found")
	wantError(t, h.request("GET", "/vct/national_id", "", "", nil), 404, "not_found")
}

// TestTypeMetadataAtAURLvct: a type whose vct is a URL under the public
// URL's /vct/ has its metadata served at that very URL (draft-18 §4.3.1);
// one whose vct is a URL elsewhere is not served here, and its
// metadata_uri is its vct.
func TestTypeMetadataAtAURLvct(t *testing.T) {
	own := &credentials.Type{ID: "library_card", VCT: publicURL + "/vct/library_card", Name: "Library card",
		Display: []credentials.Display{{Locale: "vi", Name: "Thẻ thư viện"}, {Locale: "en", Name: "Library card"}},
		Claims:  []credentials.Claim{{Name: "member", Kind: credentials.KindString, Required: true}}}
	elsewhere := &credentials.Type{ID: "museum_pass", VCT: "https://museum.example/types/pass", Name: "Museum pass",
		Claims: []credentials.Claim{{Name: "member", Kind: credentials.KindString, Required: true}}}
	types := must(credentials.NewRegistry(append(credentials.BuiltinTypes(), own, elsewhere)...))
	h := startHarnessWith(t, wallet.Config{Types: types}, nil)
	var ct api.CredentialType
	h.call("GET", "/v1/types/library_card", "", nil, 200, &ct)
	if ct.MetadataURI != own.VCT {
		t.Errorf("metadata_uri %s, want the vct %s", ct.MetadataURI, own.VCT)
	}
	var m credentials.TypeMetadata
	h.call("GET", "/vct/library_card", "", nil, 200, &m)
	if m.VCT != own.VCT || len(m.Claims) != 1 {
		t.Errorf("metadata %+v", m)
	}
	h.call("GET", "/v1/types/museum_pass", "", nil, 200, &ct)
	if ct.MetadataURI != elsewhere.VCT {
		t.Errorf("metadata_uri %s, want the vct %s", ct.MetadataURI, elsewhere.VCT)
	}
	wantError(t, h.request("GET", "/vct/museum_pass", "", "", nil), 404, "not_found")
}

// displayNames are a type's vi and en names.
func displayNames(ds []api.TypeDisplay) [2]string {
	return viEn(ds, func(d api.TypeDisplay) (string, string) { return d.Locale, d.Name })
}

// claimLabels are a claim's vi and en labels.
func claimLabels(ds []credentials.ClaimDisplay) [2]string {
	return viEn(ds, func(d credentials.ClaimDisplay) (string, string) { return d.Locale, d.Label })
}

// viEn picks the texts in vi and en of a display list.
func viEn[D any](ds []D, text func(D) (locale, s string)) (out [2]string) {
	for _, d := range ds {
		switch locale, s := text(d); locale {
		case "vi":
			out[0] = s
		case "en":
			out[1] = s
		}
	}
	return out
}

// pathKey writes a claims path as name.*.name, * for null.
func pathKey(path []any) string {
	var parts []string
	for _, p := range path {
		if p == nil {
			parts = append(parts, "*")
		} else {
			parts = append(parts, p.(string))
		}
	}
	return strings.Join(parts, ".")
}

// claimPaths maps the path of every property of an object schema, and of
// an array's elements, to whether every credential has it: required or
// readOnly (derived), under a parent that every credential has.
func claimPaths(s schema, prefix string, parentMandatory bool) map[string]bool {
	out := map[string]bool{}
	req := required(s)
	for name, p := range properties(s) {
		path := prefix + name
		mandatory := parentMandatory && (slices.Contains(req, name) || p["readOnly"] == true)
		out[path] = mandatory
		if items, _ := p["items"].(schema); items != nil {
			out[path+".*"] = mandatory
			maps.Copy(out, claimPaths(items, path+".*.", mandatory))
		}
	}
	return out
}

func properties(s schema) map[string]schema {
	out := map[string]schema{}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		out[name] = p.(map[string]any)
	}
	return out
}

func required(s schema) []string {
	var out []string
	list, _ := s["required"].([]any)
	for _, r := range list {
		out = append(out, r.(string))
	}
	return out
}

// requiredPaths lists the required properties of an instance made by
// instance(s, false), nested ones in Validate's form (classes[0].class).
func requiredPaths(s schema, prefix string) []string {
	var out []string
	for _, name := range required(s) {
		out = append(out, prefix+name)
		if items, _ := properties(s)[name]["items"].(schema); items != nil {
			out = append(out, requiredPaths(items, prefix+name+"[0].")...)
		}
	}
	return out
}

// drop deletes the property a requiredPaths path names.
func drop(obj map[string]any, path string) {
	if parent, rest, nested := strings.Cut(path, "[0]."); nested {
		drop(obj[parent].([]any)[0].(map[string]any), rest)
		return
	}
	delete(obj, path)
}

func clone(v map[string]any) map[string]any {
	var out map[string]any
	if err := json.Unmarshal(must(json.Marshal(v)), &out); err != nil {
		panic(err)
	}
	return out
}

// instance makes a value the schema s allows from s alone: an object of
// its required properties (all but the readOnly ones when all is set), an
// array of its fewest items, an enum's first value, an RFC 3339 full-date
// for format date, a shortest string its pattern matches, or minLength
// letters.
func instance(t *testing.T, s schema, all bool) any {
	t.Helper()
	switch s["type"] {
	case "object":
		obj := map[string]any{}
		for name, p := range properties(s) {
			if slices.Contains(required(s), name) || all && p["readOnly"] != true {
				obj[name] = instance(t, p, all)
			}
		}
		return obj
	case "array":
		var arr []any
		for range int(s["minItems"].(float64)) {
			arr = append(arr, instance(t, s["items"].(schema), all))
		}
		return arr
	case "string":
		if enum, _ := s["enum"].([]any); len(enum) > 0 {
			return enum[0]
		}
		var v string
		switch {
		case s["format"] == "date":
			v = "1990-04-17"
		case s["pattern"] != nil:
			v = matching(t, s["pattern"].(string))
		default:
			v = strings.Repeat("a", int(s["minLength"].(float64)))
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			t.Fatalf("made %q, which does not match %s", v, p)
		}
		return v
	case "boolean":
		return true
	case "number":
		return 1.0
	}
	t.Fatalf("no instance of schema type %v", s["type"])
	return nil
}

// matching returns a shortest string the regular expression matches: the
// first alternative, the first character of a class, the fewest
// repetitions.
func matching(t *testing.T, pattern string) string {
	t.Helper()
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var gen func(*syntax.Regexp)
	gen = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			b.WriteString(string(r.Rune))
		case syntax.OpCharClass:
			b.WriteRune(r.Rune[0])
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('a')
		case syntax.OpConcat:
			for _, sub := range r.Sub {
				gen(sub)
			}
		case syntax.OpAlternate, syntax.OpCapture, syntax.OpPlus:
			gen(r.Sub[0])
		case syntax.OpRepeat:
			for range r.Min {
				gen(r.Sub[0])
			}
		case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine:
		default:
			t.Fatalf("pattern %s: no generator for %v", pattern, r.Op)
		}
	}
	gen(re)
	return b.String()
}
