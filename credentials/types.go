package credentials

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind is the JSON type of a claim.
type Kind string

const (
	KindString  Kind = "string"
	KindBoolean Kind = "boolean"
	KindNumber  Kind = "number"
	KindArray   Kind = "array"
	KindObject  Kind = "object"
)

// Format constrains a string claim beyond its JSON type.
type Format string

const (
	FormatNone     Format = ""
	FormatIDNumber Format = "id_number" // the 12-digit personal identification number
	FormatDate     Format = "date"      // RFC 3339 full-date, YYYY-MM-DD
	FormatSex      Format = "sex"       // ICAO 9303 sex marker: M, F or X
	FormatCountry  Format = "country"   // ISO 3166-1 alpha-2 or alpha-3, upper case
	FormatImage    Format = "image"     // small JPEG or PNG as a base64 data URI
)

// Claim describes one claim of a credential type.
type Claim struct {
	Name     string
	Kind     Kind
	Format   Format
	Required bool
	// Derived claims are computed by the service (Type.Derive), never sent
	// by an issuer.
	Derived bool
	// MaxLen caps a string claim in bytes (0: DefaultMaxClaimLen).
	MaxLen int
	// Items describes the elements of an array of objects; each element is
	// selectively disclosable on its own (RFC 9901 §4.2.2).
	Items []Claim
}

// DefaultMaxClaimLen caps string claims that set no MaxLen of their own.
const DefaultMaxClaimLen = 256

// Type is a credential type: its SD-JWT VC vct, display name and claims.
type Type struct {
	ID     string // short name used by the API, e.g. "national_id"
	VCT    string // SD-JWT VC draft §3.2.2.1.1
	Name   string // display name
	Claims []Claim
}

// Built-in type ids (SPEC §2).
const (
	NationalID      = "national_id"
	HealthInsurance = "health_insurance"
	DriverLicence   = "driver_licence"
)

// AgeThresholds are the derived age_over_NN claims of an identity card.
var ageThresholds = [...]int{14, 16, 18, 21}

// BuiltinTypes returns fresh copies of the three built-in credential types
// (SPEC §2).
func BuiltinTypes() []*Type {
	date := func(name string, required bool) Claim {
		return Claim{Name: name, Kind: KindString, Format: FormatDate, Required: required}
	}
	str := func(name string, required bool) Claim {
		return Claim{Name: name, Kind: KindString, Required: required}
	}
	nid := &Type{
		ID: NationalID, VCT: "urn:eidwallet:vct:national_id:1", Name: "Citizen identity card",
		Claims: []Claim{
			{Name: "id_number", Kind: KindString, Format: FormatIDNumber, Required: true},
			str("full_name", true),
			date("birth_date", true),
			{Name: "sex", Kind: KindString, Format: FormatSex, Required: true},
			{Name: "nationality", Kind: KindString, Format: FormatCountry, Required: true},
			str("place_of_origin", false),
			str("place_of_residence", false),
			date("issue_date", true),
			date("expiry_date", true),
			{Name: "portrait", Kind: KindString, Format: FormatImage, MaxLen: 24 << 10},
		},
	}
	for _, n := range ageThresholds {
		nid.Claims = append(nid.Claims, Claim{Name: fmt.Sprintf("age_over_%d", n), Kind: KindBoolean, Derived: true})
	}
	return []*Type{
		nid,
		{
			ID: HealthInsurance, VCT: "urn:eidwallet:vct:health_insurance:1", Name: "Health insurance card",
			Claims: []Claim{
				str("card_number", true),
				str("full_name", true),
				date("birth_date", true),
				{Name: "sex", Kind: KindString, Format: FormatSex},
				date("insured_from", true),
				date("insured_until", false),
				str("registered_facility", false),
				str("benefit_level", false),
			},
		},
		{
			ID: DriverLicence, VCT: "urn:eidwallet:vct:driver_licence:1", Name: "Driving licence",
			Claims: []Claim{
				str("licence_number", true),
				str("full_name", true),
				date("birth_date", true),
				{Name: "classes", Kind: KindArray, Required: true, Items: []Claim{
					str("class", true),
					date("issue_date", true),
					date("expiry_date", false),
				}},
				date("issue_date", true),
				date("expiry_date", false),
				str("issuing_authority", true),
			},
		},
	}
}

// Registry maps type ids and vct values to types. It is the extension point
// for operator-defined types. A Registry is not safe for concurrent
// Register; build it at start-up.
type Registry struct {
	byID  map[string]*Type
	byVCT map[string]*Type
}

// NewRegistry returns a registry holding the given types.
func NewRegistry(types ...*Type) (*Registry, error) {
	r := &Registry{byID: map[string]*Type{}, byVCT: map[string]*Type{}}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

var typeIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Register adds a type. Ids and vct values are unique; claim names follow
// the rules that verification enforces (RFC 9901 §7.1, SD-JWT VC §3.2.2.2).
func (r *Registry) Register(t *Type) error {
	if !typeIDPattern.MatchString(t.ID) {
		return fmt.Errorf("credential type id %q: want lower case letters, digits and _", t.ID)
	}
	if t.VCT == "" || t.Name == "" {
		return fmt.Errorf("credential type %s: vct and name are required", t.ID)
	}
	if _, dup := r.byID[t.ID]; dup {
		return fmt.Errorf("credential type %s registered twice", t.ID)
	}
	if _, dup := r.byVCT[t.VCT]; dup {
		return fmt.Errorf("vct %s registered twice", t.VCT)
	}
	if err := checkClaimNames(t.Claims); err != nil {
		return fmt.Errorf("credential type %s: %w", t.ID, err)
	}
	r.byID[t.ID] = t
	r.byVCT[t.VCT] = t
	return nil
}

func checkClaimNames(claims []Claim) error {
	seen := map[string]bool{}
	for _, c := range claims {
		if c.Name == "" || seen[c.Name] || issuerReserved(c.Name) {
			return fmt.Errorf("claim name %q is empty, repeated or reserved", c.Name)
		}
		seen[c.Name] = true
		if err := checkClaimNames(c.Items); err != nil {
			return err
		}
	}
	return nil
}

// ByID returns the type with the given id.
func (r *Registry) ByID(id string) (*Type, bool) { t, ok := r.byID[id]; return t, ok }

// ByVCT returns the type with the given vct.
func (r *Registry) ByVCT(vct string) (*Type, bool) { t, ok := r.byVCT[vct]; return t, ok }

// Types lists the registered types ordered by id.
func (r *Registry) Types() []*Type {
	out := make([]*Type, 0, len(r.byID))
	for _, t := range r.byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Type) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// HasDerived reports whether the type has claims the service derives.
func (t *Type) HasDerived() bool {
	return slices.ContainsFunc(t.Claims, func(c Claim) bool { return c.Derived })
}

// Claim returns the claim with the given name.
func (t *Type) Claim(name string) (Claim, bool) {
	i := slices.IndexFunc(t.Claims, func(c Claim) bool { return c.Name == name })
	if i < 0 {
		return Claim{}, false
	}
	return t.Claims[i], true
}

// ClaimError reports a claim that does not fit its type's schema. It names
// the claim, never its value, so it is safe to return to a client and log.
type ClaimError struct {
	Claim   string
	Problem string
}

func (e *ClaimError) Error() string { return "claim " + e.Claim + ": " + e.Problem }

// Validate checks issuer-supplied claims against the schema: no unknown or
// derived claims, every required claim present, JSON types and formats.
// Claims are as decoded by encoding/json (numbers float64).
func (t *Type) Validate(claims map[string]any) error {
	return validateObject("", t.Claims, claims)
}

func validateObject(prefix string, schema []Claim, claims map[string]any) error {
	for name := range claims {
		i := slices.IndexFunc(schema, func(c Claim) bool { return c.Name == name })
		if i < 0 || schema[i].Derived {
			return &ClaimError{Claim: prefix + name, Problem: "unknown or derived claim"}
		}
	}
	for _, c := range schema {
		v, ok := claims[c.Name]
		if !ok || v == nil {
			if c.Required {
				return &ClaimError{Claim: prefix + c.Name, Problem: "required"}
			}
			continue
		}
		if err := validateValue(prefix+c.Name, c, v); err != nil {
			return err
		}
	}
	return nil
}

var (
	idNumberPattern = regexp.MustCompile(`^[0-9]{12}$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2,3}$`)
	imagePattern    = regexp.MustCompile(`^data:image/(jpeg|png);base64,[A-Za-z0-9+/]+={0,2}$`)
)

func validateValue(name string, c Claim, v any) error {
	bad := func(problem string) error { return &ClaimError{Claim: name, Problem: problem} }
	switch c.Kind {
	case KindString:
		s, ok := v.(string)
		if !ok {
			return bad("want a string")
		}
		max := c.MaxLen
		if max == 0 {
			max = DefaultMaxClaimLen
		}
		if s == "" || len(s) > max {
			return bad(fmt.Sprintf("want 1 to %d bytes", max))
		}
		return validateFormat(c.Format, s, bad)
	case KindBoolean:
		if _, ok := v.(bool); !ok {
			return bad("want a boolean")
		}
	case KindNumber:
		if _, ok := v.(float64); !ok {
			return bad("want a number")
		}
	case KindArray:
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 || len(arr) > 64 {
			return bad("want an array of 1 to 64 elements")
		}
		for i, el := range arr {
			obj, ok := el.(map[string]any)
			if !ok {
				return bad(fmt.Sprintf("element %d: want an object", i))
			}
			if err := validateObject(fmt.Sprintf("%s[%d].", name, i), c.Items, obj); err != nil {
				return err
			}
		}
	case KindObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want an object")
		}
		return validateObject(name+".", c.Items, obj)
	default:
		return bad("unsupported kind")
	}
	return nil
}

func validateFormat(f Format, s string, bad func(string) error) error {
	switch f {
	case FormatIDNumber:
		if !idNumberPattern.MatchString(s) {
			return bad("want 12 digits")
		}
	case FormatDate:
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return bad("want an RFC 3339 full-date (YYYY-MM-DD)")
		}
	case FormatSex:
		if s != "M" && s != "F" && s != "X" {
			return bad("want M, F or X")
		}
	case FormatCountry:
		if !countryPattern.MatchString(s) {
			return bad("want an ISO 3166-1 country code")
		}
	case FormatImage:
		if !imagePattern.MatchString(s) {
			return bad("want a data:image/jpeg or data:image/png base64 URI")
		}
	}
	return nil
}

// Derive returns a copy of claims with the type's derived claims computed
// at the instant at, in at's location: age_over_NN is true once the holder's
// NNth birthday has begun (a 29 February birthday falls on 1 March in common
// years). Callers pass the share time, not the issuance time, when the
// answer must hold on the day of the share.
func (t *Type) Derive(claims map[string]any, at time.Time) (map[string]any, error) {
	out := make(map[string]any, len(claims)+len(ageThresholds))
	for k, v := range claims {
		out[k] = v
	}
	for _, c := range t.Claims {
		if !c.Derived || !strings.HasPrefix(c.Name, "age_over_") {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(c.Name, "age_over_%d", &n); err != nil {
			return nil, fmt.Errorf("derived claim %s: %w", c.Name, err)
		}
		bd, _ := claims["birth_date"].(string)
		birth, err := time.ParseInLocation(time.DateOnly, bd, at.Location())
		if err != nil {
			return nil, &ClaimError{Claim: "birth_date", Problem: "needed to derive " + c.Name}
		}
		out[c.Name] = AgeAtLeast(birth, at, n)
	}
	return out, nil
}

// AgeAtLeast reports whether someone born on birth is at least years old at
// the instant at.
func AgeAtLeast(birth, at time.Time, years int) bool {
	y, m, d := birth.Date()
	birthday := time.Date(y+years, m, d, 0, 0, 0, 0, at.Location())
	return !at.Before(birthday)
}
