package credentials_test

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/credentials"
)

// sdNode is a claim of an issued credential with every disclosure
// applied, and whether it was a disclosure of its own.
type sdNode struct {
	value any // map[string]*sdNode, []*sdNode or a JSON scalar
	sd    bool
}

// expandSDJWT is the payload of an issued SD-JWT with all its disclosures
// in place, each claim marked with whether it was disclosed by a
// disclosure of its own (draft-ietf-oauth-sd-jwt-vc-18 §4.6: "directly
// represented as a Disclosure"). Decoy digests match no disclosure.
func expandSDJWT(t *testing.T, sdjwt string) *sdNode {
	t.Helper()
	parts := strings.Split(sdjwt, "~")
	jws := strings.Split(parts[0], ".")
	var payload map[string]any
	if err := json.Unmarshal(must(b64.DecodeString(jws[1])), &payload); err != nil {
		t.Fatal(err)
	}
	disclosures := map[string][]any{}
	for _, d := range parts[1 : len(parts)-1] {
		var arr []any
		if err := json.Unmarshal(must(b64.DecodeString(d)), &arr); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(d))
		disclosures[b64.EncodeToString(sum[:])] = arr
	}
	var expand func(v any, sd bool) *sdNode
	expand = func(v any, sd bool) *sdNode {
		switch v := v.(type) {
		case map[string]any:
			obj := map[string]*sdNode{}
			for k, m := range v {
				if k != "_sd" && k != "_sd_alg" {
					obj[k] = expand(m, false)
				}
			}
			digests, _ := v["_sd"].([]any)
			for _, dg := range digests {
				if d, ok := disclosures[dg.(string)]; ok && len(d) == 3 {
					obj[d[1].(string)] = expand(d[2], true)
				}
			}
			return &sdNode{value: obj, sd: sd}
		case []any:
			arr := []*sdNode{}
			for _, el := range v {
				if ref, ok := el.(map[string]any); ok && len(ref) == 1 && ref["..."] != nil {
					if d, ok := disclosures[ref["..."].(string)]; ok && len(d) == 2 {
						arr = append(arr, expand(d[1], true))
					}
					continue
				}
				arr = append(arr, expand(el, false))
			}
			return &sdNode{value: arr, sd: sd}
		}
		return &sdNode{value: v, sd: sd}
	}
	return expand(payload, false)
}

// selectPath processes a claims path as draft-18 §4.6.1.2 says.
func selectPath(t *testing.T, root *sdNode, path []any) []*sdNode {
	t.Helper()
	sel := []*sdNode{root}
	for _, comp := range path {
		var next []*sdNode
		for _, n := range sel {
			switch comp := comp.(type) {
			case string:
				obj, ok := n.value.(map[string]*sdNode)
				if !ok {
					t.Fatalf("path %v: %s of a non-object", path, comp)
				}
				if c, ok := obj[comp]; ok {
					next = append(next, c)
				}
			case nil:
				arr, ok := n.value.([]*sdNode)
				if !ok {
					t.Fatalf("path %v: null of a non-array", path)
				}
				next = append(next, arr...)
			default:
				t.Fatalf("path %v: component %v", path, comp)
			}
		}
		sel = next
	}
	return sel
}

// TestMetadataSaysWhatIssueDoes: every built-in type's claim metadata
// holds for a credential Issue makes (draft-18 §4.6, the checks a holder
// with every disclosure makes): each mandatory path selects a claim, an
// "always" claim is a disclosure of its own, a "never" one is not; and
// every claim of the credential but the registered ones has metadata,
// with a label in Vietnamese and English.
func TestMetadataSaysWhatIssueDoes(t *testing.T) {
	f := newFixture(t)
	for _, ty := range f.types.Types() {
		t.Run(ty.ID, func(t *testing.T) {
			m := ty.Metadata()
			if m.VCT != ty.VCT {
				t.Errorf("vct %s", m.VCT)
			}
			root := expandSDJWT(t, f.issue(t, ty.ID))
			described := map[string]bool{}
			for _, c := range m.Claims {
				sel := selectPath(t, root, c.Path)
				if c.Mandatory && len(sel) == 0 {
					t.Errorf("%v: mandatory, not in the credential", c.Path)
				}
				for _, n := range sel {
					if n.sd != (c.SD == credentials.SDAlways) || c.SD == credentials.SDAllowed {
						t.Errorf("%v: sd %q, but the credential has it as a disclosure: %v", c.Path, c.SD, n.sd)
					}
				}
				if len(c.Path) == 1 {
					described[c.Path[0].(string)] = true
				}
				if c.Path[len(c.Path)-1] != nil {
					labels := map[string]string{}
					for _, d := range c.Display {
						labels[d.Locale] = d.Label
					}
					if len(labels) != 2 || labels["vi"] == "" || labels["en"] == "" {
						t.Errorf("%v: labels %v, want vi and en", c.Path, labels)
					}
				}
			}
			for name := range root.value.(map[string]*sdNode) {
				switch name {
				case "iss", "vct", "iat", "exp", "cnf", "status":
				default:
					if !described[name] {
						t.Errorf("claim %s has no metadata", name)
					}
				}
			}
		})
	}
}

// TestMetadataJSON: the document's members are the draft's (§4.2, §4.5,
// §4.6), a null in a path for every element of an array.
func TestMetadataJSON(t *testing.T) {
	types := must(credentials.NewRegistry(credentials.BuiltinTypes()...))
	dl, _ := types.ByID(credentials.DriverLicence)
	var doc map[string]any
	if err := json.Unmarshal(must(json.Marshal(dl.Metadata())), &doc); err != nil {
		t.Fatal(err)
	}
	display := doc["display"].([]any)[0].(map[string]any)
	if doc["vct"] != dl.VCT || display["locale"] != "vi" || display["name"] != "Giấy phép lái xe" {
		t.Errorf("document %v", doc)
	}
	var paths []string
	for _, c := range doc["claims"].([]any) {
		c := c.(map[string]any)
		paths = append(paths, string(must(json.Marshal(c["path"]))))
		if _, ok := c["sd"].(string); !ok {
			t.Errorf("%v: no sd", c["path"])
		}
		if _, ok := c["mandatory"].(bool); !ok {
			t.Errorf("%v: no mandatory", c["path"])
		}
		ds, _ := c["display"].([]any) // none for ["classes", null]
		for _, d := range ds {
			if d := d.(map[string]any); d["locale"] == nil || d["label"] == nil {
				t.Errorf("%v: display %v", c["path"], d)
			}
		}
	}
	if got, want := strings.Join(paths, " "), `["classes"] ["classes",null] ["classes",null,"class"]`; !strings.Contains(got, want) {
		t.Errorf("paths %s, want %s among them", got, want)
	}
}

// TestRegisterChecksDisplay: a display entry needs a language tag, used
// once per type or claim, and a name.
func TestRegisterChecksDisplay(t *testing.T) {
	for _, ds := range [][]credentials.Display{
		{{Locale: "vi", Name: "Thẻ"}, {Locale: "VI", Name: "Thẻ"}},
		{{Locale: "", Name: "Card"}},
		{{Locale: "en_GB", Name: "Card"}},
		{{Locale: "en"}},
	} {
		ty := &credentials.Type{ID: "card", VCT: "urn:x:card", Name: "Card", Display: ds}
		if _, err := credentials.NewRegistry(ty); err == nil {
			t.Errorf("type display %v registered", ds)
		}
		ty = &credentials.Type{ID: "card", VCT: "urn:x:card", Name: "Card", Claims: []credentials.Claim{{Name: "n", Kind: credentials.KindString, Display: ds}}}
		if _, err := credentials.NewRegistry(ty); err == nil {
			t.Errorf("claim display %v registered", ds)
		}
	}
	ty := &credentials.Type{ID: "card", VCT: "urn:x:card", Name: "Card", Display: []credentials.Display{{Locale: "vi", Name: "Thẻ"}, {Locale: "en-GB", Name: "Card"}}}
	if _, err := credentials.NewRegistry(ty); err != nil {
		t.Error(err)
	}
}

// must returns v, or panics on err (one-line setup in tests).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
