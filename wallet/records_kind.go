package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind declares a record kind to the stores: its name (bucket, table), its
// key, its indexes, and whether a put may replace a record. Every kind is
// declared once, in records.go; a store implements the Tx primitives once
// for all of them (bbolt: a bucket per kind and per index; PostgreSQL: a
// table per kind, a column per key and index column, an index per index,
// from postgres/migrations).
type Kind struct {
	Name string
	Key  []Column
	// Indexes are by position: bbolt keeps a record's entries in its
	// kind's order and fills an index added last (bolt/backfill.go), so a
	// new index goes after the others and none is removed or reordered.
	Indexes []Index
	// Immutable kinds are written once: a put of a taken key is ErrExists
	// (log entries, claimed status indices).
	Immutable bool
	// Raw bodies are opaque bytes (sealed blobs); the others are JSON,
	// which PostgreSQL keeps as json so that operators can read them.
	Raw bool
	// Reindex returns the index entries (Record.Index) of a stored body:
	// for a store that adds an index to a kind it already keeps records
	// of (bbolt fills it at open; a PostgreSQL migration, in SQL). Set by
	// the declaration of a kind of records; nil for raw kinds, which have
	// no index.
	Reindex func(body []byte) ([][]any, error)
	// Counter kinds hold an int64 per key instead of a record: written
	// only by adds (Write.Add), read only by Tx.Counts; no index, no
	// body. They are listed apart from the records (CounterKinds).
	Counter bool
}

// Column is a key or index column.
type Column struct {
	Name string // lower_snake: the PostgreSQL column
	Type Type
}

// Type is what a column holds.
type Type uint8

const (
	Text  Type = iota + 1 // string: 1 to 1024 bytes of UTF-8 without NUL
	Bytes                 // []byte: 1 to 4096 bytes (hashes, tokens)
	Int                   // int64
	Time                  // time.Time, kept to the microsecond or finer
)

// Index is a secondary index: the values a record's Record.Index entry
// gives it. A list by index is ordered by its columns, then by the key.
type Index struct {
	Name    string
	Columns []Column
	Unique  bool // no two records with the same values
}

// Limits of key and index values, and of UseOnce keys.
const (
	MaxText    = 1024
	MaxBytes   = 4096
	MaxOnceKey = 4096
)

var (
	errBadValue = errors.New("not a value a store keeps")
	errNoIndex  = errors.New("no such index")
)

// CheckValue is the one rule for key and index values, applied by every
// store: what it refuses cannot be put, and is not found by a get. Text is
// what PostgreSQL text holds and leaves 0x00 free as bbolt's separator.
func CheckValue(c Column, v any) error {
	ok := false
	switch c.Type {
	case Text:
		s, is := v.(string)
		ok = is && s != "" && len(s) <= MaxText && strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
	case Bytes:
		b, is := v.([]byte)
		ok = is && len(b) > 0 && len(b) <= MaxBytes
	case Int:
		_, ok = v.(int64)
	case Time:
		_, ok = v.(time.Time)
	}
	if !ok {
		return fmt.Errorf("%s %s: %w", c.Name, describe(v), errBadValue)
	}
	return nil
}

// CheckValues checks one value per column, all of cols when full, else at
// most as many as cols (a list prefix).
func CheckValues(cols []Column, vals []any, full bool) error {
	if len(vals) > len(cols) || full && len(vals) != len(cols) {
		return fmt.Errorf("%d values for %d columns: %w", len(vals), len(cols), errBadValue)
	}
	for i, v := range vals {
		if err := CheckValue(cols[i], v); err != nil {
			return err
		}
	}
	return nil
}

// CheckOnceKey is the rule for UseOnce keys.
func CheckOnceKey(key string) error {
	if key == "" || len(key) > MaxOnceKey {
		return fmt.Errorf("use once: key length %d out of range", len(key))
	}
	return nil
}

// Columns returns the columns of index, or the key's for "".
func (k *Kind) Columns(index string) ([]Column, error) {
	if index == "" {
		return k.Key, nil
	}
	i, err := k.Index(index)
	if err != nil {
		return nil, err
	}
	return k.Indexes[i].Columns, nil
}

// Index returns the position of the index named name in k.Indexes.
func (k *Kind) Index(name string) (int, error) {
	for i := range k.Indexes {
		if k.Indexes[i].Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s: index %q: %w", k.Name, name, errNoIndex)
}

// Position returns the columns of a position in the order of a list by
// index (Order.After): the index's, then the key's; the key's alone for
// "".
func (k *Kind) Position(index string) ([]Column, error) {
	cols, err := k.Columns(index)
	if err != nil || index == "" {
		return cols, err
	}
	return append(slices.Clip(cols), k.Key...), nil
}

// CheckPosition checks the Order.After of a list of k by index under
// prefix: one value per column of Position(index), the first ones equal
// to prefix (a position under another prefix is the caller's mistake).
func (k *Kind) CheckPosition(index string, after []any, prefix []any) error {
	cols, err := k.Position(index)
	if err != nil {
		return err
	}
	if err := CheckValues(cols, after, true); err != nil {
		return fmt.Errorf("%s: position: %w", k.Name, err)
	}
	if !slices.EqualFunc(after[:len(prefix)], prefix, sameValue) {
		return fmt.Errorf("%s: position %s not under %s: %w", k.Name, Describe(after), Describe(prefix), errBadValue)
	}
	return nil
}

// CheckRecord checks what a put stores: its key, and one entry per index,
// nil or one value per column.
func (k *Kind) CheckRecord(r Record) error {
	if err := CheckValues(k.Key, r.Key, true); err != nil {
		return fmt.Errorf("%s: key: %w", k.Name, err)
	}
	if len(r.Index) != len(k.Indexes) {
		return fmt.Errorf("%s: %d index entries for %d indexes", k.Name, len(r.Index), len(k.Indexes))
	}
	for i, vals := range r.Index {
		if vals == nil {
			continue
		}
		if err := CheckValues(k.Indexes[i].Columns, vals, true); err != nil {
			return fmt.Errorf("%s %s: index %s: %w", k.Name, Describe(r.Key), k.Indexes[i].Name, err)
		}
	}
	return nil
}

// CheckWrites checks the writes of an Apply: each record checked, and
// none written twice.
func CheckWrites(ws []Write) error {
	for i, w := range ws {
		if err := checkAdd(w); err != nil {
			return err
		}
		if err := w.Kind.CheckRecord(w.Record); err != nil {
			return err
		}
		for _, v := range ws[:i] {
			if v.Kind == w.Kind && slices.EqualFunc(v.Record.Key, w.Record.Key, sameValue) {
				return fmt.Errorf("%s %s: written twice in one apply", w.Kind.Name, Describe(w.Record.Key))
			}
		}
	}
	return nil
}

// checkAdd holds that a Counter kind is written by adds only, and an add
// is of a Counter kind, of a key alone, and not 0.
func checkAdd(w Write) error {
	switch {
	case w.Kind.Counter && (w.Add == 0 || w.Swap || w.Record.Index != nil || w.Record.Body != nil):
		return fmt.Errorf("%s: a counter is written by a non-zero add of a key alone", w.Kind.Name)
	case !w.Kind.Counter && w.Add != 0:
		return fmt.Errorf("%s: add to a kind that is not a counter", w.Kind.Name)
	}
	return nil
}

// CheckCounts is the rule for a Counts read of k: a Counter kind (else
// an error), and bounds that are nil or values of its first key column
// (else ok is false: nothing is stored between them).
func CheckCounts(k *Kind, from, to any) (ok bool, err error) {
	if !k.Counter {
		return false, fmt.Errorf("%s: counts of a kind that is not a counter", k.Name)
	}
	for _, v := range []any{from, to} {
		if v != nil && CheckValue(k.Key[0], v) != nil {
			return false, nil
		}
	}
	return true, nil
}

// sameValue reports whether two checked values of one column are equal.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	default:
		return a == b
	}
}

// Describe renders key or index values for errors and logs: ids and
// numbers as they are, bytes (hashes of secrets) by length only.
func Describe(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = describe(v)
	}
	return strings.Join(parts, "/")
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []byte:
		return fmt.Sprintf("(%d bytes)", len(v))
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}

// validate checks a declaration: names a store can use as identifiers,
// and no column declared twice.
func (k *Kind) validate() error {
	seen := map[string]bool{}
	cols := func(what string, cs []Column) error {
		if len(cs) == 0 {
			return fmt.Errorf("kind %s: %s has no column", k.Name, what)
		}
		for _, c := range cs {
			if !identifier(c.Name) || c.Name == "rec" || seen[c.Name] || c.Type < Text || c.Type > Time {
				return fmt.Errorf("kind %s: %s: column %q", k.Name, what, c.Name)
			}
			seen[c.Name] = true
		}
		return nil
	}
	if !identifier(k.Name) {
		return fmt.Errorf("kind %q: not an identifier", k.Name)
	}
	if err := cols("key", k.Key); err != nil {
		return err
	}
	if k.Counter && (len(k.Indexes) > 0 || k.Immutable || k.Raw || seen["shard"] || seen["n"]) {
		// shard and n are the columns PostgreSQL adds to a counter's key.
		return fmt.Errorf("kind %s: a counter has a key only, with no column shard or n", k.Name)
	}
	for _, ix := range k.Indexes {
		if !identifier(ix.Name) {
			return fmt.Errorf("kind %s: index %q: not an identifier", k.Name, ix.Name)
		}
		if err := cols("index "+ix.Name, ix.Columns); err != nil {
			return err
		}
	}
	return nil
}

func identifier(s string) bool {
	if s == "" || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// normalize turns the integers the domain uses (int, uint64) into int64,
// the Int a store keeps.
func normalize(vals []any) ([]any, error) {
	out, copied := vals, false
	for i, v := range vals {
		var n int64
		switch v := v.(type) {
		case int:
			n = int64(v)
		case uint64:
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("value %d beyond int64: %w", v, errBadValue)
			}
			n = int64(v)
		default:
			continue
		}
		if !copied {
			out, copied = append([]any(nil), vals...), true
		}
		out[i] = n
	}
	return out, nil
}

// --- typed access -------------------------------------------------------------

// Records is a kind of JSON records of type T: how the domain reads and
// writes them through a Tx. The stored form is a private row struct of
// records.go, never T's own layout, so renaming a field of T does not
// silently change what is stored.
type Records[T any] struct {
	kind   Kind
	key    func(*T) []any
	index  func(*T) [][]any // one entry per kind.Indexes; nil: not in it
	encode func(*T) ([]byte, error)
	decode func([]byte) (*T, error)
	memo   bounded[*T] // Read's: decoded values by their bodies
}

// Kind returns the declaration the stores see.
func (r *Records[T]) Kind() *Kind { return &r.kind }

// Get returns the record with key; ErrNotFound when there is none.
func (r *Records[T]) Get(tx Tx, key ...any) (*T, error) {
	b, key, err := get(tx, &r.kind, key)
	if err != nil {
		return nil, err
	}
	return r.decodeOne(b, key)
}

// By returns the record whose unique index entry holds values;
// ErrNotFound when there is none.
func (r *Records[T]) By(tx Tx, index string, values ...any) (*T, error) {
	v, _, err := r.BodyBy(tx, index, values...)
	return v, err
}

// BodyBy is By that also returns the stored body, for a later Swap.
func (r *Records[T]) BodyBy(tx Tx, index string, values ...any) (*T, []byte, error) {
	values, err := normalize(values)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.kind.Name, err)
	}
	b, err := GetBy(tx, &r.kind, index, values...)
	if err != nil {
		return nil, nil, err
	}
	v, err := r.decodeOne(b, nil)
	return v, b, err
}

// List returns the records whose first columns of index (of the key when
// index is "") equal prefix, in index order (see Tx.List); never nil.
func (r *Records[T]) List(tx Tx, index string, o Order, prefix ...any) ([]*T, error) {
	prefix, err := normalize(prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.kind.Name, err)
	}
	bodies, err := tx.List(&r.kind, index, o, prefix...)
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(bodies))
	for i, b := range bodies {
		if out[i], err = r.decodeOne(b, prefix); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Lookup is the read of the record whose key (index "") or unique index
// entry holds values, or of the first under a prefix of them, for a
// Fetch.
func (r *Records[T]) Lookup(index string, values ...any) Lookup {
	return lookup(&r.kind, index, values)
}

// Fetched decodes the body a Fetch returned for a lookup of values;
// ErrNotFound when it found none.
func (r *Records[T]) Fetched(b []byte, values ...any) (*T, error) {
	if b == nil {
		return nil, fetchedNone(&r.kind, values)
	}
	return r.decodeOne(b, values)
}

// Read is Fetched for a record the caller only reads, on the hot path
// (redemption): a body decodes once and its value is shared by every
// caller given the same bytes, so it must not be modified. The bytes are
// always the store's latest: the memo saves the decoding, never a read.
func (r *Records[T]) Read(b []byte, values ...any) (*T, error) {
	if b == nil {
		return nil, fetchedNone(&r.kind, values)
	}
	if v, ok := r.memo.get(string(b)); ok {
		return v, nil
	}
	v, err := r.decodeOne(b, values)
	if err == nil {
		r.memo.put(string(b), v)
	}
	return v, err
}

// memoSize bounds each kind's memo: the verifiers, issuers and keys of a
// country, and the credentials and devices redeemed lately.
const memoSize = 1 << 13

// Put stores v (see Put: ErrExists when a unique value is taken).
func (r *Records[T]) Put(tx Tx, v *T) error {
	rec, err := r.Record(v)
	if err != nil {
		return err
	}
	return Put(tx, &r.kind, rec)
}

// Swap stores v in place of the record read as old (see Swap:
// ErrChanged when it is no longer old).
func (r *Records[T]) Swap(tx Tx, old []byte, v *T) error {
	rec, err := r.Record(v)
	if err != nil {
		return err
	}
	return Swap(tx, &r.kind, old, rec)
}

// Record is v as a store keeps it: its key, index values and body.
func (r *Records[T]) Record(v *T) (Record, error) {
	if v == nil {
		return Record{}, fmt.Errorf("put %s: nil record", r.kind.Name)
	}
	key, err := normalize(r.key(v))
	if err != nil {
		return Record{}, fmt.Errorf("put %s: %w", r.kind.Name, err)
	}
	idx, err := r.indexOf(v)
	if err != nil {
		return Record{}, fmt.Errorf("put %s %s: %w", r.kind.Name, Describe(key), err)
	}
	body, err := r.encode(v)
	if err != nil {
		return Record{}, fmt.Errorf("put %s %s: encode: %w", r.kind.Name, Describe(key), err)
	}
	return Record{Key: key, Index: idx, Body: body}, nil
}

// indexOf is v's index entries, normalized.
func (r *Records[T]) indexOf(v *T) ([][]any, error) {
	idx := r.index(v)
	for i := range idx {
		if idx[i] != nil {
			var err error
			if idx[i], err = normalize(idx[i]); err != nil {
				return nil, err
			}
		}
	}
	return idx, nil
}

// position is v's position in the order of a list by index (of the key
// when ""): Order.After.
func (r *Records[T]) position(index string, v *T) ([]any, error) {
	key, err := normalize(r.key(v))
	if err != nil || index == "" {
		return key, err
	}
	i, err := r.kind.Index(index)
	if err != nil {
		return nil, err
	}
	idx, err := r.indexOf(v)
	if err != nil {
		return nil, err
	}
	if idx[i] == nil {
		return nil, fmt.Errorf("%s %s: not in index %s", r.kind.Name, Describe(key), index)
	}
	return append(slices.Clone(idx[i]), key...), nil
}

// reindex is Kind.Reindex: the index entries of a stored body.
func (r *Records[T]) reindex(body []byte) ([][]any, error) {
	v, err := r.decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: decode: %w", r.kind.Name, err)
	}
	return r.indexOf(v)
}

// Delete removes the record with key, if any.
func (r *Records[T]) Delete(tx Tx, key ...any) error { return remove(tx, &r.kind, key) }

func (r *Records[T]) decodeOne(b []byte, key []any) (*T, error) {
	v, err := r.decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: decode: %w", r.kind.Name, Describe(key), err)
	}
	return v, nil
}

// Blobs is a kind of raw records, keyed by the caller: sealed bytes kept
// as they are, apart from the records they belong to.
type Blobs[T any] struct {
	kind   Kind
	encode func(T) []byte
	decode func([]byte) (T, error)
}

// Kind returns the declaration the stores see.
func (b *Blobs[T]) Kind() *Kind { return &b.kind }

// Get returns the value at key; ErrNotFound when there is none.
func (b *Blobs[T]) Get(tx Tx, key ...any) (T, error) {
	var zero T
	body, key, err := get(tx, &b.kind, key)
	if err != nil {
		return zero, err
	}
	v, err := b.decode(body)
	if err != nil {
		return zero, fmt.Errorf("%s %s: decode: %w", b.kind.Name, Describe(key), err)
	}
	return v, nil
}

// Lookup is the read of the value at key, for a Fetch.
func (b *Blobs[T]) Lookup(key ...any) Lookup { return lookup(&b.kind, "", key) }

// Fetched decodes the body a Fetch returned for the lookup of key;
// ErrNotFound when it found none.
func (b *Blobs[T]) Fetched(body []byte, key ...any) (T, error) {
	var zero T
	if body == nil {
		return zero, fetchedNone(&b.kind, key)
	}
	v, err := b.decode(body)
	if err != nil {
		return zero, fmt.Errorf("%s %s: decode: %w", b.kind.Name, Describe(key), err)
	}
	return v, nil
}

// Put stores v at key.
func (b *Blobs[T]) Put(tx Tx, v T, key ...any) error {
	key, err := normalize(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", b.kind.Name, err)
	}
	return Put(tx, &b.kind, Record{Key: key, Body: b.encode(v)})
}

// Delete removes the value at key, if any.
func (b *Blobs[T]) Delete(tx Tx, key ...any) error { return remove(tx, &b.kind, key) }

// Get returns the body of the record of k whose key is key; ErrNotFound
// when there is none. It is a Fetch of one lookup.
func Get(tx Tx, k *Kind, key ...any) ([]byte, error) {
	if CheckValues(k.Key, key, true) != nil {
		return nil, fetchedNone(k, key) // a part of a key would find the first under it
	}
	return fetchOne(tx, Lookup{Kind: k, Prefix: key})
}

// GetBy returns the body of the record whose entry in k's unique index
// names values; ErrNotFound when there is none.
func GetBy(tx Tx, k *Kind, index string, values ...any) ([]byte, error) {
	i, err := k.Index(index)
	if err != nil || !k.Indexes[i].Unique {
		return nil, fmt.Errorf("%s: get by %q: not a unique index", k.Name, index)
	}
	if CheckValues(k.Indexes[i].Columns, values, true) != nil {
		return nil, fetchedNone(k, values)
	}
	return fetchOne(tx, Lookup{Kind: k, Index: index, Prefix: values})
}

// Put inserts r, or replaces the record with its key: an Apply of one
// put (ErrExists as it says).
func Put(tx Tx, k *Kind, r Record) error { return tx.Apply(Write{Kind: k, Record: r}) }

// Swap replaces the record at r.Key with r only while its stored body is
// still old: an Apply of one swap (ErrChanged, ErrNotFound, ErrExists as
// it says).
func Swap(tx Tx, k *Kind, old []byte, r Record) error {
	return tx.Apply(Write{Kind: k, Record: r, Swap: true, Old: old})
}

func fetchOne(tx Tx, l Lookup) ([]byte, error) {
	got, err := tx.Fetch(l)
	if err != nil {
		return nil, err
	}
	if got[0] == nil {
		return nil, fetchedNone(l.Kind, l.Prefix)
	}
	return got[0], nil
}

// get returns the body at key, and key as the store saw it (normalized).
func get(tx Tx, k *Kind, key []any) ([]byte, []any, error) {
	key, err := normalize(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", k.Name, err)
	}
	b, err := Get(tx, k, key...)
	return b, key, err
}

// lookup is a Lookup of k by index. Values normalize refuses are kept as
// they are: no store accepts them, so the lookup finds nothing.
func lookup(k *Kind, index string, values []any) Lookup {
	if v, err := normalize(values); err == nil {
		values = v
	}
	return Lookup{Kind: k, Index: index, Prefix: values}
}

func fetchedNone(k *Kind, values []any) error {
	return fmt.Errorf("%s %s: %w", k.Name, Describe(values), ErrNotFound)
}

// remove deletes the record at key, if any.
func remove(tx Tx, k *Kind, key []any) error {
	key, err := normalize(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", k.Name, err)
	}
	return tx.Delete(k, key...)
}

// raw declares a kind of opaque bytes, kept as they are.
func raw(k Kind) *Blobs[[]byte] {
	k.Raw = true
	return &Blobs[[]byte]{
		kind:   k,
		encode: func(b []byte) []byte { return b },
		decode: func(b []byte) ([]byte, error) { return b, nil },
	}
}

// records declares a kind of JSON records of T, stored as rows R. Rows are
// encoded with go-json-experiment (one pass, about twice as fast as
// encoding/json on them, which counts inside bbolt's single writer), nil
// slices and maps as null so that they read back as nil and a non-nil
// empty map stays non-nil.
func records[T, R any](k Kind, key func(*T) []any, index func(*T) [][]any, to func(*T) *R, from func(*R) *T) *Records[T] {
	if index == nil {
		index = func(*T) [][]any { return nil }
	}
	r := &Records[T]{
		kind: k, key: key, index: index, memo: bounded[*T]{max: memoSize},
		encode: func(v *T) ([]byte, error) { return json.Marshal(to(v), rowOptions) },
		decode: func(b []byte) (*T, error) {
			row := new(R)
			if err := json.Unmarshal(b, row, rowOptions); err != nil {
				return nil, err
			}
			return from(row), nil
		},
	}
	r.kind.Reindex = r.reindex
	return r
}

// rowOptions also skip the duplicate-name check: rows are only what this
// package encoded, never untrusted input, and the check is a set of names
// per object on every read of the hot path.
var rowOptions = json.JoinOptions(json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true),
	jsontext.AllowDuplicateNames(true))

// convert maps a slice element by element, nil to nil.
func convert[S, D any](s []S, f func(S) D) []D {
	if s == nil {
		return nil
	}
	out := make([]D, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}
