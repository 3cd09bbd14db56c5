package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// The test's own reading of the format (issue 13): Crockford's base32, the
// check symbol the 130-bit number modulo 37, written with math/big and
// encoding/base32 rather than the service's code.
const (
	crockford      = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	crockfordCheck = crockford + "*~$=U"
)

var codeShape = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}-[0-9A-HJKMNP-TV-Z]{2}[0-9A-HJKMNP-TV-Z*~$=U]$`)

// codeRandBytes is how many random bytes a code is made of: 130 bits
// (SPEC §6: 128+), the last 6 bits of the 17 bytes unused.
const codeRandBytes = 17

// expectedCode is the code the service must make from 17 random bytes.
func expectedCode(b []byte) string {
	s := base32.NewEncoding(crockford).WithPadding(base32.NoPadding).EncodeToString(b)[:26]
	n := new(big.Int).Rsh(new(big.Int).SetBytes(b), 6)
	s += string(crockfordCheck[new(big.Int).Mod(n, big.NewInt(37)).Int64()])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:24] + "-" + s[24:27]
}

// codeBytes packs 26 symbol values into the 17 bytes that write them.
func codeBytes(symbols string) []byte {
	n := new(big.Int)
	for _, r := range symbols {
		n.Lsh(n, 5).Or(n, big.NewInt(int64(strings.IndexRune(crockford, r))))
	}
	return n.Lsh(n, 6).FillBytes(make([]byte, codeRandBytes))
}

// codeData is the 26 data symbols of a canonical code, and checkOf its
// check symbol.
func codeData(code string) string { return strings.ReplaceAll(code, "-", "")[:26] }
func checkOf(code string) string  { return code[len(code)-1:] }

// tapRand is crypto/rand that records each read, and serves the next
// 17-byte read (the activation code's, nothing else reads 17) from next
// when set.
type tapRand struct {
	mu    sync.Mutex
	next  []byte
	reads [][]byte
}

func (r *tapRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p) == codeRandBytes && r.next != nil {
		copy(p, r.next)
		r.next = nil
	} else if _, err := io.ReadFull(rand.Reader, p); err != nil {
		return 0, err
	}
	r.reads = append(r.reads, append([]byte(nil), p...))
	return len(p), nil
}

func (r *tapRand) codeReads() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, b := range r.reads {
		if len(b) == codeRandBytes {
			out = append(out, b)
		}
	}
	return out
}

// failingStore is the real store until fail is set; then every
// transaction fails, as a storage outage would.
type failingStore struct {
	wallet.Store
	fail atomic.Bool
}

var errOutage = errors.New("storage outage (test)")

func (s *failingStore) View(ctx context.Context, fn func(wallet.Tx) error) error {
	if s.fail.Load() {
		return errOutage
	}
	return s.Store.View(ctx, fn)
}

func (s *failingStore) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	if s.fail.Load() {
		return errOutage
	}
	return s.Store.Update(ctx, fn)
}

func (s *failingStore) Fetch(ctx context.Context, ls ...wallet.Lookup) ([][]byte, error) {
	if s.fail.Load() {
		return nil, errOutage
	}
	return s.Store.Fetch(ctx, ls...)
}

func enrolRequest(t *testing.T, citizen, code string) api.EnrollRequest {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := credentials.PublicJWK(&key.PublicKey)
	raw, _ := json.Marshal(jwk)
	return api.EnrollRequest{CitizenID: citizen, ActivationCode: code, DeviceKey: raw, DeviceName: "phone"}
}

// TestActivationCodeIsTheRandomBits: a code is exactly 130 bits of the
// service's random reader in grouped Crockford base32 with Crockford's
// mod-37 check symbol, and it enrols.
func TestActivationCodeIsTheRandomBits(t *testing.T) {
	r := &tapRand{}
	svc, _ := servicetest.New(t, wallet.Config{Rand: r})
	ctx := context.Background()
	admin := &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	before := len(r.codeReads())
	code, err := svc.CreateActivationCode(ctx, admin, api.ActivationCodeRequest{CitizenID: "001090000101"})
	if err != nil {
		t.Fatal(err)
	}
	reads := r.codeReads()[before:]
	if len(reads) != 1 {
		t.Fatalf("%d reads of %d random bytes while making a code, want 1", len(reads), codeRandBytes)
	}
	if want := expectedCode(reads[0]); code.Code != want {
		t.Errorf("code %s from random bytes %x, want %s", code.Code, reads[0], want)
	}
	if !codeShape.MatchString(code.Code) || len(code.Code) != 33 {
		t.Errorf("code %q is not six groups of four and one of two and the check symbol", code.Code)
	}
	if _, err := svc.Enroll(ctx, enrolRequest(t, "001090000101", code.Code)); err != nil {
		t.Fatalf("enrol with the code as handed out: %v", err)
	}
}

// TestActivationCodeEntropy: codes have the shape, differ, and use every
// symbol of the alphabet in every data position class, as 130 uniform bits
// would.
func TestActivationCodeEntropy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	seen := map[string]bool{}
	counts := map[rune]int{}
	ones := make([]int, 130)
	const n = 200
	for i := range n {
		code, err := e.svc.CreateActivationCode(ctx, e.admin, api.ActivationCodeRequest{CitizenID: "001090000200"})
		if err != nil {
			t.Fatal(err)
		}
		if !codeShape.MatchString(code.Code) {
			t.Fatalf("code %d %q: not the shape", i, code.Code)
		}
		if seen[code.Code] {
			t.Fatalf("code %q made twice", code.Code)
		}
		seen[code.Code] = true
		data := codeData(code.Code)
		b := codeBytes(data)
		if strings.ContainsFunc(data, func(r rune) bool { return !strings.ContainsRune(crockford, r) }) {
			t.Fatalf("code %q: data symbols are not base32", code.Code)
		}
		if expectedCode(b) != code.Code {
			t.Errorf("code %q: check symbol wrong, want %s", code.Code, expectedCode(b))
		}
		for _, r := range data {
			counts[r]++
		}
		for bit := range 130 {
			ones[bit] += int(b[bit/8] >> (7 - bit%8) & 1)
		}
	}
	// 5,200 symbols: each of the 32 expected 162 times; missing one by
	// chance is below 1e-70.
	for _, r := range crockford {
		if counts[r] == 0 {
			t.Errorf("symbol %c never drawn in %d codes", r, n)
		}
	}
	// Every one of the 130 bits varies (p of a stuck bit by chance: 2^-192).
	for bit, c := range ones {
		if c == 0 || c == n {
			t.Errorf("bit %d is %d in all %d codes", bit, c/n, n)
		}
	}
}

// TestParseActivationCode: every spelling a person may type reads as the
// canonical code; anything else, a wrong check symbol first, does not.
func TestParseActivationCode(t *testing.T) {
	// A code holding 0 and 1, so the I, L and O readings show.
	canonical := expectedCode(codeBytes("7K3Q9XWD2MZ0H1PNT8RE5JCVGB"))
	data, check := codeData(canonical), checkOf(canonical)
	const rest = "T8RE 5JCV GB" // the groups after the fourth
	if got, ok := wallet.ParseActivationCode(canonical); !ok || got != canonical {
		t.Fatalf("ParseActivationCode(%q) = %q, %v", canonical, got, ok)
	}
	for name, typed := range map[string]string{
		"lower case":            strings.ToLower(canonical),
		"no hyphens":            data + check,
		"spaces":                "7K3Q 9XWD 2MZ0 H1PN " + rest + check,
		"spaces around":         "  " + canonical + "\n",
		"tabs and hyphens":      "7K3Q-\t9XWD--2MZ0-H1PN-" + rest + check,
		"mixed case, no groups": "7k3Q9xWd2mZ0h1pNt8Re5jCvGb" + strings.ToLower(check),
		"O for 0":               "7K3Q-9XWD-2MZO-H1PN-" + rest + check,
		"o for 0":               "7K3Q-9XWD-2MZo-H1PN-" + rest + check,
		"I for 1":               "7K3Q-9XWD-2MZ0-HIPN-" + rest + check,
		"i for 1":               "7K3Q-9XWD-2MZ0-HiPN-" + rest + check,
		"L for 1":               "7K3Q-9XWD-2MZ0-HLPN-" + rest + check,
		"l for 1":               "7K3Q-9XWD-2MZ0-HlPN-" + rest + check,
		"a typographic dash":    "7K3Q\u20119XWD\u20132MZ0\u2010H1PN-" + rest + check,
		"a no-break space":      "7K3Q\u00a09XWD 2MZ0 H1PN " + rest + check,
	} {
		if got, ok := wallet.ParseActivationCode(typed); !ok || got != canonical {
			t.Errorf("%s: ParseActivationCode(%q) = %q, %v; want %s", name, typed, got, ok, canonical)
		}
	}

	// Every other check symbol is refused.
	for _, c := range crockfordCheck {
		if string(c) == check {
			continue
		}
		if _, ok := wallet.ParseActivationCode(canonical[:len(canonical)-1] + string(c)); ok {
			t.Errorf("check symbol %c accepted for %s", c, canonical)
		}
	}
	// Every single wrong symbol and every swap of two different
	// neighbours is caught by the check symbol (37 is a prime above 32).
	for i := range data {
		for _, c := range crockford {
			if byte(c) == data[i] {
				continue
			}
			typo := data[:i] + string(c) + data[i+1:] + check
			if _, ok := wallet.ParseActivationCode(typo); ok {
				t.Errorf("one wrong symbol accepted: %s", typo)
			}
		}
		if i+1 < len(data) && data[i] != data[i+1] {
			swap := data[:i] + string(data[i+1]) + string(data[i]) + data[i+2:] + check
			if _, ok := wallet.ParseActivationCode(swap); ok {
				t.Errorf("two neighbours swapped accepted: %s", swap)
			}
		}
	}
	for name, typed := range map[string]string{
		"empty":               "",
		"hyphens only":        "----",
		"no check symbol":     data,
		"25 symbols":          data[:25] + check,
		"the 80-bit format":   "7K3Q-9XWD-2MZA-H4PN-T",
		"a symbol too many":   data + "0" + check,
		"two check symbols":   data + check + check,
		"U in the data":       "UK3Q" + data[4:] + check,
		"* in the data":       "*K3Q" + data[4:] + check,
		"another letter":      "7K3Q-9XWD-2MZ0-H1PN-" + rest + "#",
		"a non-ASCII letter":  "7K3Q-9XWD-2MZ0-H\u0131PN-" + rest + check, // dotless ı upper-cases to I
		"full-width digit":    "\uff17K3Q-9XWD-2MZ0-H1PN-" + rest + check,
		"the old format":      "mfrggzdfmztwq2lknnwg23tpobyxe43u",
		"very long":           strings.Repeat(" ", 200) + canonical,
		"a code inside words": "code " + canonical,
	} {
		if got, ok := wallet.ParseActivationCode(typed); ok {
			t.Errorf("%s: ParseActivationCode(%q) = %q, accepted", name, typed, got)
		}
	}
}

// TestEnrolWithTypedCode: any accepted spelling enrols (the stored hash is
// of the canonical form); a mistyped code is refused before any store
// lookup with the very answer of an unknown, used or expired one (THREATS
// T20).
func TestEnrolWithTypedCode(t *testing.T) {
	r := &tapRand{}
	store := &failingStore{Store: servicetest.Open(t)}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	svc, _ := servicetest.New(t, wallet.Config{Store: store, Rand: r, Now: func() time.Time { return now }})
	ctx := context.Background()
	admin := &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	newCode := func(citizen, symbols string) string {
		t.Helper()
		r.mu.Lock()
		r.next = codeBytes(symbols)
		r.mu.Unlock()
		code, err := svc.CreateActivationCode(ctx, admin, api.ActivationCodeRequest{CitizenID: citizen})
		if err != nil {
			t.Fatal(err)
		}
		return code.Code
	}
	code := newCode("001090000301", "7K3Q9XWD2MZ0H1PNT8RE5JCVGB")
	// Lower case, spaces for hyphens, O for 0 and l for 1.
	typed := "7k3q 9xwd 2mzo hlpn t8re 5jcv gb" + strings.ToLower(checkOf(code))
	if _, err := svc.Enroll(ctx, enrolRequest(t, "001090000301", typed)); err != nil {
		t.Fatalf("enrol with %q for %s: %v", typed, code, err)
	}

	refusal := func(err error) string {
		var we *wallet.Error
		if !errors.As(err, &we) {
			return "not a service error: " + err.Error()
		}
		return string(we.Code) + " / " + we.Reason + " / " + we.Message
	}
	_, used := svc.Enroll(ctx, enrolRequest(t, "001090000301", code))
	other := newCode("001090000302", "00001111222233334444555566")
	expiring := newCode("001090000303", "44445555666677778888999900")
	wrongCheck := other[:len(other)-1] + string(crockfordCheck[(strings.Index(crockfordCheck, checkOf(other))+1)%37])
	_, unknown := svc.Enroll(ctx, enrolRequest(t, "001090000302", expectedCode(codeBytes("ZZZZYYYYXXXXWWWWVVVVTTTTSS"))))
	_, othersCode := svc.Enroll(ctx, enrolRequest(t, "001090000303", other))
	_, mistyped := svc.Enroll(ctx, enrolRequest(t, "001090000302", wrongCheck))
	_, tooShort := svc.Enroll(ctx, enrolRequest(t, "001090000302", other[:30]))
	now = now.Add(wallet.ActivationCodeTTL)
	_, expired := svc.Enroll(ctx, enrolRequest(t, "001090000303", expiring))
	want := refusal(unknown)
	if !strings.HasPrefix(want, string(api.CodeUnauthenticated)+" / ") {
		t.Fatalf("unknown code: %s, want %s", want, api.CodeUnauthenticated)
	}
	for name, err := range map[string]error{"used": used, "another citizen's": othersCode, "mistyped": mistyped, "too short": tooShort, "expired": expired} {
		if got := refusal(err); got != want {
			t.Errorf("%s code: %s, want the answer of an unknown one: %s", name, got, want)
		}
	}

	// With the store down, a well-formed code fails as storage, a
	// mistyped one as before: it never reached the store.
	store.fail.Store(true)
	defer store.fail.Store(false)
	if _, err := svc.Enroll(ctx, enrolRequest(t, "001090000302", other)); wallet.ErrorCode(err) != api.CodeStorageUnavailable {
		t.Errorf("a well-formed code with the store down: %v, want %s", err, api.CodeStorageUnavailable)
	}
	_, mistyped = svc.Enroll(ctx, enrolRequest(t, "001090000302", wrongCheck))
	if got := refusal(mistyped); got != want {
		t.Errorf("a mistyped code with the store down: %s, want %s without a store lookup", got, want)
	}
}

// TestEnrolSentAgain: an enrolment sent again by the same device, its
// answer lost (a dropped connection, a replica killed after the commit),
// gets the first answer again while the code's time lasts, so the app
// learns its device id; nothing is enrolled twice. The same code with
// another key, or once that device is revoked, or once the code's time is
// past, is the answer of a used code (T20).
func TestEnrolSentAgain(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	svc, _ := servicetest.New(t, wallet.Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	admin := &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	const citizen = "001090000401"
	code, err := svc.CreateActivationCode(ctx, admin, api.ActivationCodeRequest{CitizenID: citizen})
	if err != nil {
		t.Fatal(err)
	}
	req := enrolRequest(t, citizen, code.Code)
	first, err := svc.Enroll(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Enroll(ctx, req)
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("sent again: %+v, %v; want the first answer %+v", again, err, first)
	}
	phone := &wallet.Principal{Role: api.RoleHolder, Subject: first.HolderID, DeviceID: first.DeviceID}
	if devices, err := svc.Devices(ctx, phone, api.Page{}); err != nil || len(devices.Devices) != 1 {
		t.Fatalf("devices after the enrolment sent twice: %+v, %v; want one", devices, err)
	}
	if _, err := svc.Enroll(ctx, enrolRequest(t, citizen, code.Code)); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("the used code with another key: %v, want %s", err, api.CodeUnauthenticated)
	}
	later := now
	now = now.Add(wallet.ActivationCodeTTL)
	if _, err := svc.Enroll(ctx, req); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("sent again once the code's time is past: %v, want %s", err, api.CodeUnauthenticated)
	}
	now = later
	if err := svc.RevokeDevice(ctx, phone, first.DeviceID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enroll(ctx, req); wallet.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("sent again once the device is revoked: %v, want %s", err, api.CodeUnauthenticated)
	}
}
