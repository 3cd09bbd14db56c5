package credentials

// What a credential type publishes about itself, built from the registry
// alone: its SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc-18 §4,
// "SD-JWT VC Type Metadata"), for holders and verifiers, and a JSON
// Schema of the claims an issuer sends, for issuers. Both say what Issue
// and Validate do; the server's tests hold them to it.

// TypeMetadata is an SD-JWT VC Type Metadata document (draft-18 §4.2,
// "Type Metadata Format"), its members named as the draft names them. It
// extends no other type and carries no rendering.
type TypeMetadata struct {
	VCT     string          `json:"vct"`
	Name    string          `json:"name,omitempty"`
	Display []TypeDisplay   `json:"display,omitempty"`
	Claims  []ClaimMetadata `json:"claims,omitempty"`
}

// TypeDisplay is the type's name in one language (draft-18 §4.5, "Display
// Metadata").
type TypeDisplay struct {
	Locale      string `json:"locale"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ClaimMetadata describes the claims one path selects (draft-18 §4.6,
// "Claim Metadata").
type ClaimMetadata struct {
	// Path selects claims as §4.6.1 says: a string selects a member, nil
	// (null) every element of an array.
	Path    []any          `json:"path"`
	Display []ClaimDisplay `json:"display,omitempty"`
	// Mandatory: every credential of the type has the claim (§4.6.3).
	Mandatory bool `json:"mandatory"`
	// SD is SDAlways, SDAllowed or SDNever (§4.6.4).
	SD string `json:"sd"`
}

// ClaimDisplay is a claim's label in one language (draft-18 §4.6.2, "Claim
// Display Metadata").
type ClaimDisplay struct {
	Locale      string `json:"locale"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
}

// The values of ClaimMetadata.SD (draft-18 §4.6.4): the issuer must, may
// or must not make the claim selectively disclosable.
const (
	SDAlways  = "always"
	SDAllowed = "allowed"
	SDNever   = "never"
)

// Metadata is the type's SD-JWT VC Type Metadata: its display names and,
// for every claim Issue puts in a credential of the type, derived claims
// included, its path, labels, whether every credential has it, and whether
// it is selectively disclosable. Issue makes every top-level claim a
// disclosure of its own and each element of an array of objects an
// array-element disclosure (RFC 9901 §4.2.1, §4.2.2), so those are
// "always"; a member inside an element or an object travels in its
// parent's disclosure and is no disclosure of its own, so, as §4.6 reads a
// path ("not selectively disclosable solely because one of its ancestors
// is"), it is "never". The registered claims (iss, vct, iat, exp, cnf,
// status), never disclosable (draft-18 §2.2.2.3), are not listed.
func (t *Type) Metadata() *TypeMetadata {
	m := &TypeMetadata{VCT: t.VCT, Name: t.Name}
	for _, d := range t.Display {
		m.Display = append(m.Display, TypeDisplay(d))
	}
	m.Claims = claimMetadata(nil, t.Claims, SDAlways, true)
	return m
}

// claimMetadata lists the metadata of claims under path, each disclosable
// as sd says, and of what is inside them; none is mandatory unless its
// parent is (inParent).
func claimMetadata(path []any, claims []Claim, sd string, inParent bool) []ClaimMetadata {
	var out []ClaimMetadata
	for _, c := range claims {
		p := append(path[:len(path):len(path)], c.Name)
		// A derived claim is in every credential Derive accepts.
		mandatory := inParent && (c.Required || c.Derived)
		out = append(out, ClaimMetadata{Path: p, Display: claimDisplay(c.Display), Mandatory: mandatory, SD: sd})
		switch {
		case c.Kind == KindArray && len(c.Items) > 0:
			// Validate wants at least one element of an array.
			elems := append(p[:len(p):len(p)], nil)
			out = append(out, ClaimMetadata{Path: elems, Mandatory: mandatory, SD: SDAlways})
			out = append(out, claimMetadata(elems, c.Items, SDNever, mandatory)...)
		case c.Kind == KindObject:
			out = append(out, claimMetadata(p, c.Items, SDNever, mandatory)...)
		}
	}
	return out
}

func claimDisplay(ds []Display) []ClaimDisplay {
	var out []ClaimDisplay
	for _, d := range ds {
		out = append(out, ClaimDisplay{Locale: d.Locale, Label: d.Name, Description: d.Description})
	}
	return out
}

// SchemaDialect is the JSON Schema version Schema speaks.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// datePattern is the shape of an RFC 3339 full-date; format "date" says
// the rest (a day the month has), which a validator may not assert.
const datePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`

// Schema is the claims of the type as a JSON Schema (2020-12) object: the
// claims an issuer sends are what Validate accepts. Each claim is a
// property with its JSON type, its length in characters, and its format's
// pattern, enum or format "date"; required lists what an issuer must send;
// no other member is accepted (additionalProperties false), null for none.
// The derived claims are listed too, as readOnly (JSON Schema Validation
// 2020-12 §9.4): a credential has them, an issuer never sends them (Validate
// refuses them). Titles and descriptions are the English labels. Each call
// returns a fresh value.
func (t *Type) Schema() map[string]any {
	s := objectSchema(t.Claims)
	s["$schema"] = SchemaDialect
	s["title"] = t.Name
	return s
}

func objectSchema(claims []Claim) map[string]any {
	props := map[string]any{}
	required := []any{}
	for _, c := range claims {
		props[c.Name] = claimSchema(c)
		if c.Required && !c.Derived {
			required = append(required, c.Name)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

func claimSchema(c Claim) map[string]any {
	var s map[string]any
	switch c.Kind {
	case KindString:
		s = map[string]any{"type": "string", "minLength": 1, "maxLength": c.maxLen()}
		switch c.Format {
		case FormatIDNumber:
			s["pattern"] = idNumberPattern.String()
		case FormatDate:
			s["format"], s["pattern"] = "date", datePattern
		case FormatSex:
			enum := make([]any, len(sexValues))
			for i, v := range sexValues {
				enum[i] = v
			}
			s["enum"] = enum
		case FormatCountry:
			s["pattern"] = countryPattern.String()
		case FormatImage:
			s["pattern"] = imagePattern.String()
		}
	case KindArray:
		s = map[string]any{"type": "array", "minItems": 1, "maxItems": maxArrayLen, "items": objectSchema(c.Items)}
	case KindObject:
		s = objectSchema(c.Items)
	default: // KindBoolean, KindNumber
		s = map[string]any{"type": string(c.Kind)}
	}
	for _, d := range c.Display {
		if d.Locale == "en" {
			s["title"] = d.Name
			if d.Description != "" {
				s["description"] = d.Description
			}
		}
	}
	if c.Derived {
		s["readOnly"] = true
	}
	return s
}
