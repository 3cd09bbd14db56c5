package offline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestBase45Vectors: the examples of RFC 9285 §4.3 and §4.4, and the
// refusals of §6.
func TestBase45Vectors(t *testing.T) {
	for in, want := range map[string]string{"AB": "BB8", "Hello!!": "%69 VD92EX0", "base-45": "UJCLQE7W581", "ietf!": "QED8WEX0", "": ""} {
		if got := encode45([]byte(in)); got != want {
			t.Errorf("encode %q = %q, want %q", in, got, want)
		}
		if got, err := decode45(want); err != nil || string(got) != in {
			t.Errorf("decode %q = %q %v", want, got, err)
		}
	}
	// Space is in the alphabet but never last (RFC 9285 §4), so a
	// scanned code's surrounding whitespace can be trimmed (Parse).
	for n := range 2000 {
		b := make([]byte, n%7+1)
		for i := range b {
			b[i] = byte(n*31 + i*97)
		}
		b[len(b)-1] = byte(n)
		if e := encode45(b); strings.HasSuffix(e, " ") {
			t.Fatalf("encode %x = %q ends in a space", b, e)
		}
	}
	for _, bad := range []string{"GGW", "A", "ab", "QED8WEX", "::", "AB\n"} {
		if _, err := decode45(bad); err == nil {
			t.Errorf("decode %q: accepted", bad)
		}
	}
}

type fixture struct {
	attester, issuer, service *ecdsa.PrivateKey
	now                       time.Time
	list                      *credentials.StatusList
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	k := func() *ecdsa.PrivateKey { p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return p }
	l, err := credentials.NewStatusList(2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{attester: k(), issuer: k(), service: k(), now: time.Unix(1798372800, 0), list: l}
}

func (f *fixture) share() Share {
	return Share{Type: "national_id", IssuerID: "mps", StatusList: 1, StatusIndex: 7, Consent: true,
		Claims: map[string]any{"age_over_18": true, "full_name": "Nguyễn Thị Minh Khai"}, IssuedAt: f.now, ExpiresAt: f.now.Add(MaxLifetime),
		CTI: []byte("0123456789ab")}
}

func (f *fixture) bundle(t testing.TB, types ...string) *Bundle {
	t.Helper()
	cwt, err := SignStatusList(rand.Reader, f.issuer, StatusListURI("https://wallet.example", "mps", 1), f.list, f.now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := SignBundle(rand.Reader, f.service, &Bundle{Issuer: "https://wallet.example", IssuedAt: f.now, MaxAge: DefaultMaxAge,
		Issuers:     []BundleIssuer{{ID: "mps", Name: "Ministry", Keys: []*ecdsa.PublicKey{&f.issuer.PublicKey}, Types: []string{"national_id"}}},
		Attesters:   []Attester{{Key: &f.attester.PublicKey, Types: types}},
		StatusLists: []StatusListCWT{{IssuerID: "mps", List: 1, CWT: cwt}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(raw, []*ecdsa.PublicKey{&f.service.PublicKey}, f.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestShareRoundTrip: a minted code verifies against the bundle, with
// its claims (diacritics kept), and each tampering is refused with its
// reason.
func TestShareRoundTrip(t *testing.T) {
	f := newFixture(t)
	b := f.bundle(t, "national_id")
	text, err := Sign(rand.Reader, f.attester, f.share())
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsFunc(strings.TrimPrefix(text, Prefix), func(r rune) bool { return !strings.ContainsRune(base45Alphabet, r) }) {
		t.Fatalf("not QR alphanumeric: %s", text)
	}
	s, err := b.Verify(text, f.now.Add(10*time.Second))
	if err != nil || s.Claims["full_name"] != "Nguyễn Thị Minh Khai" || s.Claims["age_over_18"] != true || !s.Consent ||
		s.StatusIndex != 7 || string(s.CTI) != "0123456789ab" {
		t.Fatalf("verify: %+v %v", s, err)
	}
	// As a counter scanner types it: an Enter after it, blanks around.
	for _, scanned := range []string{text + "\r\n", " " + text + "\n", "\t" + text + " "} {
		if _, err := b.Verify(scanned, f.now.Add(10*time.Second)); err != nil {
			t.Errorf("verify %q: %v", scanned[:3]+"…"+scanned[len(scanned)-3:], err)
		}
	}
	other := newFixture(t)
	forged, _ := Sign(rand.Reader, other.attester, f.share())
	unconsented := f.share()
	unconsented.Consent = false
	noConsent, _ := Sign(rand.Reader, f.attester, unconsented)
	flipped := []byte(text)
	flipped[len(flipped)-4] = map[bool]byte{true: 'B', false: 'A'}[flipped[len(flipped)-4] == 'A']
	for name, c := range map[string]struct {
		text string
		now  time.Time
		want Reason
	}{
		"expired":           {text, f.now.Add(MaxLifetime + 2*time.Minute), ReasonExpired},
		"from the future":   {text, f.now.Add(-5 * time.Minute), ReasonNotYetValid},
		"unknown key":       {forged, f.now, ReasonUnknownKey},
		"signature altered": {string(flipped), f.now, ""},
		"not EIDC1":         {"EID1:" + strings.TrimPrefix(text, Prefix), f.now, ReasonMalformed},
		"no consent":        {noConsent, f.now, ReasonMalformed},
	} {
		_, err := b.Verify(c.text, c.now)
		if err == nil || (c.want != "" && ReasonOf(err) != c.want) {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	// Revoked in the issuer's list: refused offline.
	if err := f.list.Set(7, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.bundle(t, "national_id").Verify(text, f.now); ReasonOf(err) != ReasonRevoked {
		t.Errorf("revoked: %v", err)
	}
	// An attester not allowed the type.
	if _, err := f.bundle(t, "health_insurance").Verify(text, f.now); ReasonOf(err) != ReasonNotAuthorized {
		t.Errorf("type not attested: %v", err)
	}
}

// TestStatusListExpiry: Token Status List §8.3 step 4.c, a status list
// CWT whose exp has passed is refused, on its first use and once it has
// been read into the bundle; one without exp, as the service signs them,
// still reads. Step 3.b (iat required) and §5.2 (ttl positive) too.
func TestStatusListExpiry(t *testing.T) {
	f := newFixture(t)
	uri := StatusListURI("https://wallet.example", "mps", 1)
	keys := []*ecdsa.PublicKey{&f.issuer.PublicKey}
	cwt := func(c statusListClaims) []byte {
		t.Helper()
		enc, err := f.list.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c.Sub, c.StatusList.Bits = uri, f.list.Bits()
		if c.StatusList.Lst, err = base64.RawURLEncoding.DecodeString(enc); err != nil {
			t.Fatal(err)
		}
		payload, err := encMode.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := sign1(rand.Reader, f.issuer, &f.issuer.PublicKey, TypStatusListCWT, payload)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	unix := func(d time.Duration) int64 { return f.now.Add(d).Unix() }
	month := 30 * 24 * time.Hour
	signed, err := SignStatusList(rand.Reader, f.issuer, uri, f.list, f.now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		cwt  []byte
		want Reason
	}{
		"no exp, as the service signs it": {signed, ""},
		"exp in an hour":                  {cwt(statusListClaims{Iat: unix(-time.Hour), Exp: unix(time.Hour)}), ""},
		"exp 30 days ago":                 {cwt(statusListClaims{Iat: unix(-2 * month), Exp: unix(-month)}), ReasonStatusUnknown},
		"exp now":                         {cwt(statusListClaims{Iat: unix(-time.Hour), Exp: unix(0)}), ReasonStatusUnknown},
		"no iat":                          {cwt(statusListClaims{Exp: unix(time.Hour)}), ReasonStatusUnknown},
		"negative ttl":                    {cwt(statusListClaims{Iat: unix(-time.Hour), TTL: -1}), ReasonStatusUnknown},
	} {
		l, err := ReadStatusList(c.cwt, keys, uri, f.now)
		if ReasonOf(err) != c.want || (c.want == "" && (err != nil || l.Len() != f.list.Len())) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}

	// Read into the bundle while valid, then used after its exp.
	raw, err := SignBundle(rand.Reader, f.service, &Bundle{Issuer: "https://wallet.example", IssuedAt: f.now, MaxAge: DefaultMaxAge,
		Issuers:     []BundleIssuer{{ID: "mps", Name: "Ministry", Keys: keys, Types: []string{"national_id"}}},
		Attesters:   []Attester{{Key: &f.attester.PublicKey, Types: []string{"national_id"}}},
		StatusLists: []StatusListCWT{{IssuerID: "mps", List: 1, CWT: cwt(statusListClaims{Iat: unix(0), Exp: unix(30 * time.Second)})}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(raw, []*ecdsa.PublicKey{&f.service.PublicKey}, f.now)
	if err != nil {
		t.Fatal(err)
	}
	text, err := Sign(rand.Reader, f.attester, f.share())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(text, f.now.Add(10*time.Second)); err != nil {
		t.Fatalf("before the list's exp: %v", err)
	}
	if _, err := b.Verify(text, f.now.Add(time.Minute)); ReasonOf(err) != ReasonStatusUnknown {
		t.Errorf("after the list's exp: %v, want %s", err, ReasonStatusUnknown)
	}
}

// TestBundleAge: a bundle past its maximum age, or read with a clock
// before its issue time, cannot verify offline (fail closed).
func TestBundleAge(t *testing.T) {
	f := newFixture(t)
	raw, err := SignBundle(rand.Reader, f.service, &Bundle{Issuer: "https://wallet.example", IssuedAt: f.now, MaxAge: DefaultMaxAge})
	if err != nil {
		t.Fatal(err)
	}
	keys := []*ecdsa.PublicKey{&f.service.PublicKey}
	if _, err := ReadBundle(raw, keys, f.now.Add(DefaultMaxAge+time.Second)); ReasonOf(err) != ReasonStale {
		t.Errorf("old bundle: %v", err)
	}
	if _, err := ReadBundle(raw, keys, f.now.Add(-time.Hour)); ReasonOf(err) != ReasonStale {
		t.Errorf("clock set back: %v", err)
	}
	if _, err := ReadBundle(raw, []*ecdsa.PublicKey{&f.issuer.PublicKey}, f.now); ReasonOf(err) != ReasonUnknownKey {
		t.Errorf("another key: %v", err)
	}
	// A bundle that says it lasts ten years is still a day's (T40).
	long, err := SignBundle(rand.Reader, f.service, &Bundle{Issuer: "https://wallet.example", IssuedAt: f.now, MaxAge: 10 * 365 * DefaultMaxAge})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(long, keys, f.now.Add(DefaultMaxAge-time.Minute)); err != nil {
		t.Errorf("a long-lived bundle within the day: %v", err)
	}
	if _, err := ReadBundle(long, keys, f.now.Add(DefaultMaxAge+time.Second)); ReasonOf(err) != ReasonStale {
		t.Errorf("a bundle signed for ten years, a day on: %v", err)
	}
}

// FuzzParse: any text never panics Parse, and what verifies was signed.
func FuzzParse(f *testing.F) {
	fx := &fixture{}
	fx.attester, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fx.now = time.Unix(1798372800, 0)
	text, _ := Sign(rand.Reader, fx.attester, fx.share())
	f.Add(text)
	f.Add(Prefix + "QED8WEX0")
	f.Fuzz(func(t *testing.T, s string) {
		got, _, err := Parse(s, func([]byte) (*ecdsa.PublicKey, error) { return &fx.attester.PublicKey, nil }, fx.now, time.Minute)
		if err == nil && got == nil {
			t.Fatal("nil share without error")
		}
		if err != nil && ReasonOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}
