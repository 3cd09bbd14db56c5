package credentials

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
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
	// MaxLen caps a string claim in characters, Unicode code points as
	// JSON Schema's maxLength counts them (0: DefaultMaxClaimLen).
	MaxLen int
	// Items describes the elements of an array of objects; each element is
	// selectively disclosable on its own (RFC 9901 §4.2.2).
	Items []Claim
	// Display is the claim's label in each language the type speaks
	// (Display.Name is the label).
	Display []Display
}

// DefaultMaxClaimLen caps string claims that set no MaxLen of their own.
const DefaultMaxClaimLen = 256

// Display is what a type or a claim is called in one language, as SD-JWT
// VC Type Metadata carries it (draft-ietf-oauth-sd-jwt-vc-18 §4.5 "Display
// Metadata" for a type, §4.6.2 "Claim Display Metadata" for a claim):
// Locale is an RFC 5646 language tag, Name the type's name or the claim's
// label, Description an optional sentence for end users. The registry is
// the one place these texts live; pages and clients read them from the
// API (GET /v1/types, the type metadata documents).
type Display struct {
	Locale      string
	Name        string
	Description string
}

// Type is a credential type: its SD-JWT VC vct, display name and claims.
type Type struct {
	ID   string // short name used by the API, e.g. "national_id"
	VCT  string // draft-ietf-oauth-sd-jwt-vc-18 §2.2.2.1, the vct claim
	Name string // the name for developers (the type metadata's name), in English
	// Display is the type's name for end users in each language it speaks
	// (vi and en for the built-in types).
	Display []Display
	Claims  []Claim
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
// (SPEC §2), named and labelled in Vietnamese and English: the wording of
// the Vietnamese documents (the chip citizen identity card, the health
// insurance card, the driving licence) where they print one.
func BuiltinTypes() []*Type {
	label := func(vi, en string) []Display {
		return []Display{{Locale: "vi", Name: vi}, {Locale: "en", Name: en}}
	}
	date := func(name string, required bool, vi, en string) Claim {
		return Claim{Name: name, Kind: KindString, Format: FormatDate, Required: required, Display: label(vi, en)}
	}
	str := func(name string, required bool, vi, en string) Claim {
		return Claim{Name: name, Kind: KindString, Required: required, Display: label(vi, en)}
	}
	fullName := func() Claim { return str("full_name", true, "Họ và tên", "Full name") }
	birthDate := func() Claim { return date("birth_date", true, "Ngày sinh", "Date of birth") }
	sex := func(required bool) Claim {
		return Claim{Name: "sex", Kind: KindString, Format: FormatSex, Required: required, Display: label("Giới tính", "Sex")}
	}
	nid := &Type{
		ID: NationalID, VCT: "urn:eidwallet:vct:national_id:1", Name: "Citizen identity card",
		Display: []Display{
			{Locale: "vi", Name: "Căn cước công dân", Description: "Bản điện tử của thẻ căn cước công dân"},
			{Locale: "en", Name: "Citizen identity card", Description: "The digital citizen identity card"},
		},
		Claims: []Claim{
			{Name: "id_number", Kind: KindString, Format: FormatIDNumber, Required: true, Display: []Display{
				{Locale: "vi", Name: "Số định danh cá nhân", Description: "12 chữ số"},
				{Locale: "en", Name: "Personal identification number", Description: "12 digits"},
			}},
			fullName(),
			birthDate(),
			sex(true),
			{Name: "nationality", Kind: KindString, Format: FormatCountry, Required: true, Display: label("Quốc tịch", "Nationality")},
			str("place_of_origin", false, "Quê quán", "Place of origin"),
			str("place_of_residence", false, "Nơi thường trú", "Place of residence"),
			date("issue_date", true, "Ngày cấp", "Date of issue"),
			date("expiry_date", true, "Có giá trị đến", "Date of expiry"),
			{Name: "portrait", Kind: KindString, Format: FormatImage, MaxLen: 24 << 10, Display: label("Ảnh chân dung", "Portrait")},
		},
	}
	for _, n := range ageThresholds {
		nid.Claims = append(nid.Claims, Claim{Name: fmt.Sprintf("age_over_%d", n), Kind: KindBoolean, Derived: true, Display: []Display{
			{Locale: "vi", Name: fmt.Sprintf("Đủ %d tuổi", n), Description: "Tính từ ngày sinh vào ngày chia sẻ"},
			{Locale: "en", Name: fmt.Sprintf("Aged %d or over", n), Description: "Derived from the date of birth on the day it is shared"},
		}})
	}
	return []*Type{
		nid,
		{
			ID: HealthInsurance, VCT: "urn:eidwallet:vct:health_insurance:1", Name: "Health insurance card",
			Display: []Display{
				{Locale: "vi", Name: "Thẻ bảo hiểm y tế", Description: "Bản điện tử của thẻ bảo hiểm y tế"},
				{Locale: "en", Name: "Health insurance card", Description: "The digital health insurance card"},
			},
			Claims: []Claim{
				str("card_number", true, "Mã số thẻ", "Card number"),
				fullName(),
				birthDate(),
				sex(false),
				date("insured_from", true, "Giá trị sử dụng từ ngày", "Covered from"),
				date("insured_until", false, "Giá trị sử dụng đến ngày", "Covered until"),
				str("registered_facility", false, "Nơi đăng ký khám chữa bệnh ban đầu", "Registered primary care facility"),
				str("benefit_level", false, "Mức hưởng", "Benefit level"),
			},
		},
		{
			ID: DriverLicence, VCT: "urn:eidwallet:vct:driver_licence:1", Name: "Driving licence",
			Display: []Display{
				{Locale: "vi", Name: "Giấy phép lái xe", Description: "Bản điện tử của giấy phép lái xe"},
				{Locale: "en", Name: "Driving licence", Description: "The digital driving licence"},
			},
			Claims: []Claim{
				str("licence_number", true, "Số giấy phép", "Licence number"),
				fullName(),
				birthDate(),
				{Name: "classes", Kind: KindArray, Required: true, Display: label("Hạng giấy phép", "Licence classes"), Items: []Claim{
					str("class", true, "Hạng", "Class"),
					date("issue_date", true, "Ngày cấp", "Date of issue"),
					date("expiry_date", false, "Có giá trị đến", "Valid until"),
				}},
				date("issue_date", true, "Ngày cấp", "Date of issue"),
				date("expiry_date", false, "Có giá trị đến", "Date of expiry"),
				str("issuing_authority", true, "Cơ quan cấp", "Issuing authority"),
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
	if err := checkDisplay(t.Display); err != nil {
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
		if err := checkDisplay(c.Display); err != nil {
			return fmt.Errorf("claim %s: %w", c.Name, err)
		}
		if err := checkClaimNames(c.Items); err != nil {
			return err
		}
	}
	return nil
}

// localePattern is the shape of an RFC 5646 language tag: a primary
// language subtag, then subtags of 1 to 8 letters or digits.
var localePattern = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

// checkDisplay holds each entry to what the type metadata draft requires
// of a display object (draft-ietf-oauth-sd-jwt-vc-18 §4.5, §4.6.2: locale
// and name or label), with one entry a locale.
func checkDisplay(ds []Display) error {
	seen := map[string]bool{}
	for _, d := range ds {
		key := strings.ToLower(d.Locale)
		if !localePattern.MatchString(d.Locale) || seen[key] || d.Name == "" {
			return fmt.Errorf("display %q: want a language tag, once, and a name", d.Locale)
		}
		seen[key] = true
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
// derived claims, every required claim present, JSON types and formats,
// no null (an optional claim the issuer lacks is left out). Claims are as
// decoded by encoding/json (numbers float64). Type.Schema says the same in
// JSON Schema.
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
		if !ok {
			if c.Required {
				return &ClaimError{Claim: prefix + c.Name, Problem: "required"}
			}
			continue
		}
		if v == nil {
			// It would be issued as a disclosure of null.
			return &ClaimError{Claim: prefix + c.Name, Problem: "null (leave out a claim that has no value)"}
		}
		if err := validateValue(prefix+c.Name, c, v); err != nil {
			return err
		}
	}
	return nil
}

// The patterns of the string formats, written so that they mean the same
// as ECMA-262 regular expressions, which JSON Schema's pattern is
// (Type.Schema publishes them).
var (
	idNumberPattern = regexp.MustCompile(`^[0-9]{12}$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2,3}$`)
	imagePattern    = regexp.MustCompile(`^data:image/(jpeg|png);base64,[A-Za-z0-9+/]+={0,2}$`)
)

// maxArrayLen is the most elements an array claim may have.
const maxArrayLen = 64

// sexValues are the ICAO 9303 sex markers FormatSex takes.
var sexValues = []string{"M", "F", "X"}

// maxLen is the most characters a string claim may have.
func (c Claim) maxLen() int {
	if c.MaxLen == 0 {
		return DefaultMaxClaimLen
	}
	return c.MaxLen
}

func validateValue(name string, c Claim, v any) error {
	bad := func(problem string) error { return &ClaimError{Claim: name, Problem: problem} }
	switch c.Kind {
	case KindString:
		s, ok := v.(string)
		if !ok {
			return bad("want a string")
		}
		// Characters, not bytes: a Vietnamese name takes two or three
		// bytes a letter, and JSON Schema's maxLength counts characters
		// (JSON Schema Validation 2020-12 §6.3.1).
		if max := c.maxLen(); s == "" || utf8.RuneCountInString(s) > max {
			return bad(fmt.Sprintf("want 1 to %d characters", max))
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
		if !ok || len(arr) == 0 || len(arr) > maxArrayLen {
			return bad(fmt.Sprintf("want an array of 1 to %d elements", maxArrayLen))
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
		if !slices.Contains(sexValues, s) {
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
