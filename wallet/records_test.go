package wallet

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestRowsKeepEveryField: every field of every record type survives its
// row, so a field added to a domain type without its row member (the rows
// that are not plain conversions: issuers, shares, requests) fails here
// rather than being silently dropped by the store.
func TestRowsKeepEveryField(t *testing.T) {
	for _, check := range []func(*testing.T){
		keepsEveryField(Issuers), keepsEveryField(Verifiers), keepsEveryField(APIKeys), keepsEveryField(Holders),
		keepsEveryField(Devices), keepsEveryField(ActivationCodes), keepsEveryField(Credentials),
		keepsEveryField(Shares), keepsEveryField(Requests), keepsEveryField(Presences), keepsEveryField(StatusLists),
		keepsEveryField(StatusEntries), keepsEveryField(ActivityLog), keepsEveryField(VerificationLog),
		keepsEveryField(RateBuckets),
		keepsEveryField(WebhookDeliveries), keepsEveryField(ExternalIssuers), keepsEveryField(CompactCodes),
		keepsEveryField(PoolKeys), keepsEveryField(BatchCopies), keepsEveryField(CopyStatuses), keepsEveryField(IdempotentAnswers),
	} {
		check(t)
	}
	// A non-nil empty map stays non-nil (the service assigns into it); a
	// nil one stays nil.
	for _, claims := range []map[string][]string{{}, nil} {
		b, _ := Verifiers.encode(&Verifier{Claims: claims})
		v, err := Verifiers.decode(b)
		if err != nil || (v.Claims == nil) != (claims == nil) {
			t.Errorf("verifier claims %#v: read back %#v, %v", claims, v.Claims, err)
		}
		b, _ = Requests.encode(&Request{Claims: claims})
		r, err := Requests.decode(b)
		if err != nil || (r.Claims == nil) != (claims == nil) {
			t.Errorf("request claims %#v: read back %#v, %v", claims, r.Claims, err)
		}
	}
	if n := len(Kinds()); n != 27 {
		t.Errorf("%d kinds: a kind added to records.go needs its line here and its table in a new postgres/migrations file", n)
	}
}

// keepsEveryField checks that a T, zero and with every field set, reads
// back through its row as it was.
func keepsEveryField[T any](r *Records[T]) func(*testing.T) {
	return func(t *testing.T) {
		t.Helper()
		roundTrip := func(name string, v *T) {
			t.Helper()
			b, err := r.encode(v)
			if err != nil {
				t.Fatalf("%s: encode: %v", name, err)
			}
			got, err := r.decode(b)
			if err != nil {
				t.Fatalf("%s: decode: %v", name, err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("%s: round trip\n got %#v\nwant %#v", name, got, v)
			}
		}
		v := new(T)
		name := reflect.TypeFor[T]().Name()
		roundTrip(name+" (zero)", v)
		fill(reflect.ValueOf(v).Elem(), 1)
		roundTrip(name+" (every field set)", v)
	}
}

// fill sets every field of v, recursively, to a value that is not zero.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 12, 0, n, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), n+i)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n+1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString(string(rune('a' + n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(n + 1))
	case reflect.Uint8, reflect.Uint64:
		v.SetUint(uint64(n + 1))
	default:
		panic("fill: " + v.Kind().String())
	}
}

// TestDeclarations: every kind is one a store can keep (names that are
// identifiers, no column twice), its index entries are one per declared
// index, and what the domain leaves out of an index is left out: a
// pending share has no token, a presence request no token, an unresolved
// request no holder.
func TestDeclarations(t *testing.T) {
	for _, k := range Kinds() {
		if err := k.validate(); err != nil || k.Counter {
			t.Errorf("record kind %s: %v (counter %v)", k.Name, err, k.Counter)
		}
	}
	for _, k := range CounterKinds() {
		if err := k.validate(); err != nil || !k.Counter {
			t.Errorf("counter kind %s: %v (counter %v)", k.Name, err, k.Counter)
		}
	}
	if got := Shares.index(&Share{ID: "s1", HolderID: "h1"}); len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Errorf("pending share: index entries %v, want none by token, one by holder", got)
	}
	if got := Requests.index(&Request{ID: "r1", TokenHash: []byte("t")}); len(got) != 2 || got[0] == nil || got[1] != nil {
		t.Errorf("unresolved request: index entries %v, want one by token, none by holder", got)
	}
	if got := Requests.index(&Request{ID: "r1", HolderID: "h1"}); len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Errorf("presence request: index entries %v, want none by token, one by holder", got)
	}
	for _, docs := range [][][]byte{nil, {{}}, {[]byte("a"), {}, {0, 0xff}}} {
		got, err := ShareDocuments.decode(ShareDocuments.encode(docs))
		if err != nil || len(got) != len(docs) {
			t.Errorf("documents %q: %q, %v", docs, got, err)
		}
	}
	if _, err := ShareDocuments.decode([]byte{5, 'a'}); err == nil {
		t.Error("documents with a length past the end: decoded")
	}
}

// TestReadDecodesABodyOnce: Records.Read answers the value it decoded
// for the same bytes, decodes other bytes afresh, refuses a missing body
// as Fetched does, and keeps at most memoSize values.
func TestReadDecodesABodyOnce(t *testing.T) {
	rec := func(name string) []byte {
		r, err := Verifiers.Record(&Verifier{ID: "shop", Name: name, Created: time.Unix(0, 0).UTC()})
		if err != nil {
			t.Fatal(err)
		}
		return r.Body
	}
	first, err := Verifiers.Read(rec("Shop"), "shop")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Verifiers.Read(rec("Shop"), "shop")
	renamed, _ := Verifiers.Read(rec("Shop 2"), "shop")
	if again != first || renamed == first || renamed.Name != "Shop 2" {
		t.Errorf("Read: same bytes %p %p, other bytes %p %q", first, again, renamed, renamed.Name)
	}
	if _, err := Verifiers.Read(nil, "shop"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read of no body: %v", err)
	}
	for i := range memoSize + 10 {
		if _, err := Verifiers.Read(rec(fmt.Sprint("Shop ", i)), "shop"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(Verifiers.memo.m); n > memoSize {
		t.Errorf("memo holds %d values, at most %d", n, memoSize)
	}
}
