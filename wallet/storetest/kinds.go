package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

// The primitives, checked once on every kind wallet declares: whatever a
// kind's key and indexes are made of, a store keeps its records, finds
// them by key and unique index, and lists them in the declared order. The
// records are synthetic: the store never looks inside a body.

// pools of values per column type, with what a store's encoding must get
// right: ids that are prefixes of each other, bytes that need escaping,
// integers across signs and byte boundaries, times before 1970, after
// 2262, the zero time, and the same instant in two zones.
var pools = map[wallet.Type][]any{
	wallet.Text:  {"h", "h1", "h10", "h0", "a b", "é", "z", "h1\x01", "~"},
	wallet.Bytes: {[]byte{0}, []byte{0, 0}, []byte{0, 1}, []byte{1}, []byte{0xff}, []byte{0xff, 0}, []byte{0, 0xff}, []byte{1, 0, 1}, []byte{0xfe}},
	wallet.Int:   {int64(math.MinInt64), int64(-300), int64(-1), int64(0), int64(1), int64(255), int64(256), int64(1 << 40), int64(math.MaxInt64)},
	wallet.Time: {time.Time{}, time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), at(0), at(0).In(cet), at(time.Microsecond),
		at(time.Hour).In(cet), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), at(-time.Hour), at(2 * time.Hour)},
}

func value(c wallet.Column, n int) any { return pools[c.Type][n%len(pools[c.Type])] }

// rec is a record of the model a test keeps beside the store.
type rec struct {
	key  []any
	idx  [][]any
	body []byte
}

// sample is record n of k, version v (a new version changes the body
// and, with moved, every index value). Keys are distinct for n < 9; the
// first key and index columns repeat, so lists by prefix and ties (broken
// by key) are exercised. Record 4 is in no index, record 1 in no unique
// one.
func sample(k *wallet.Kind, n, v int, moved bool) rec {
	r := rec{idx: make([][]any, len(k.Indexes))}
	for j, c := range k.Key {
		if j < len(k.Key)-1 {
			r.key = append(r.key, value(c, n%2))
		} else {
			r.key = append(r.key, value(c, n))
		}
	}
	for i, ix := range k.Indexes {
		if n == 4 || n == 1 && ix.Unique {
			continue
		}
		r.idx[i] = []any{}
		for j, c := range ix.Columns {
			m := n * (j + 1) % 3
			if ix.Unique {
				m = n
			}
			if moved {
				m = 7 + j%2
			}
			r.idx[i] = append(r.idx[i], value(c, m))
		}
	}
	if k.Raw {
		r.body = []byte{byte(n), 0, 0xff, byte(v)}
		if n == 5 {
			r.body = []byte{}
		}
	} else {
		r.body = fmt.Appendf(nil, `{"n":%d,"v":%d,"nul":"\u0000","s":"ü"}`, n, v)
	}
	return r
}

func (r rec) record() wallet.Record { return wallet.Record{Key: r.key, Index: r.idx, Body: r.body} }

// compareValues compares values column by column, up to the shorter.
func compareValues(a, b []any) int {
	for i := range min(len(a), len(b)) {
		var c int
		switch x := a[i].(type) {
		case string:
			c = strings.Compare(x, b[i].(string))
		case []byte:
			c = bytes.Compare(x, b[i].([]byte))
		case int64:
			c = cmp.Compare(x, b[i].(int64))
		case time.Time:
			c = x.Compare(b[i].(time.Time))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// checkModel compares the store with the model: every record by key and by
// each unique index, and every list by key and by index, for every prefix
// the records have (and one they do not), both ways, with and without a
// limit; and all of these at once as the lookups of one Fetch, of the
// transaction and of the store.
func checkModel(t *testing.T, st wallet.Store, k *wallet.Kind, model map[string]rec) {
	t.Helper()
	var lookups []wallet.Lookup
	var wantFetched [][]byte
	view(t, st, func(tx wallet.Tx) error {
		fetch := func(l wallet.Lookup, want []byte) {
			lookups, wantFetched = append(lookups, l), append(wantFetched, want)
		}
		for _, r := range model {
			fetch(wallet.Lookup{Kind: k, Prefix: r.key}, r.body)
			got, err := wallet.Get(tx, k, r.key...)
			noErr(t, fmt.Sprintf("Get(%s)", wallet.Describe(r.key)), err)
			same(t, fmt.Sprintf("Get(%s)", wallet.Describe(r.key)), got, r.body)
			for i, ix := range k.Indexes {
				if ix.Unique && r.idx[i] != nil {
					got, err := wallet.GetBy(tx, k, ix.Name, r.idx[i]...)
					noErr(t, "GetBy "+ix.Name, err)
					same(t, fmt.Sprintf("GetBy(%s, %s)", ix.Name, wallet.Describe(r.idx[i])), got, r.body)
					fetch(wallet.Lookup{Kind: k, Index: ix.Name, Prefix: r.idx[i]}, r.body)
				}
			}
		}
		indexes := append([]wallet.Index{{Columns: k.Key}}, k.Indexes...)
		for i, ix := range indexes {
			var in []rec // the records in this index, in its order
			for _, r := range model {
				if i == 0 || r.idx[i-1] != nil {
					in = append(in, r)
				}
			}
			vals := func(r rec) []any {
				if i == 0 {
					return r.key
				}
				return r.idx[i-1]
			}
			slices.SortFunc(in, func(a, b rec) int {
				return cmp.Or(compareValues(vals(a), vals(b)), compareValues(a.key, b.key))
			})
			prefixes := [][]any{{}, {value(ix.Columns[0], 8)}} // all; one no record has
			for p := 1; p <= len(ix.Columns); p++ {
				for _, r := range in {
					prefixes = append(prefixes, vals(r)[:p])
				}
			}
			for _, prefix := range prefixes {
				var want [][]byte
				for _, r := range in {
					if compareValues(vals(r)[:len(prefix)], prefix) == 0 {
						want = append(want, r.body)
					}
				}
				for _, o := range []wallet.Order{{}, {Desc: true}, {Limit: 2}, {Desc: true, Limit: 1}} {
					w := slices.Clone(want)
					if o.Desc {
						slices.Reverse(w)
					}
					if o.Limit > 0 && len(w) > o.Limit {
						w = w[:o.Limit]
					}
					got, err := tx.List(k, ix.Name, o, prefix...)
					what := fmt.Sprintf("List(%q, %+v, %s)", ix.Name, o, wallet.Describe(prefix))
					noErr(t, what, err)
					if got == nil {
						t.Errorf("%s: nil, want a slice", what)
					}
					same(t, what, got, w)
				}
				var first, last []byte
				if len(want) > 0 {
					first, last = want[0], want[len(want)-1]
				}
				fetch(wallet.Lookup{Kind: k, Index: ix.Name, Prefix: prefix}, first)
				fetch(wallet.Lookup{Kind: k, Index: ix.Name, Prefix: prefix, Desc: true}, last)
			}
		}
		got, err := tx.Fetch(lookups...)
		noErr(t, fmt.Sprintf("Fetch(%d lookups)", len(lookups)), err)
		same(t, "Fetch", got, wantFetched)
		return nil
	})
	got, err := st.Fetch(t.Context(), lookups...)
	noErr(t, fmt.Sprintf("Store.Fetch(%d lookups)", len(lookups)), err)
	same(t, "Store.Fetch", got, wantFetched)
}

// checkAfter compares the store's keyset pages with the model: for every
// list by key and by index, under every prefix the records have, both
// ways, with and without a limit, a list after a position (Order.After)
// holds the records strictly after it in the list's order (before it,
// Desc), ties in the index values broken by key. The positions are those
// of the records and of records not stored (a deleted one's, one with a
// unique value another record holds under another key).
func checkAfter(t *testing.T, st wallet.Store, k *wallet.Kind, model map[string]rec) {
	t.Helper()
	var stored, all []rec // the model's records; and a few more for their positions
	for _, r := range model {
		stored = append(stored, r)
	}
	all = slices.Clone(stored)
	for n := 6; n < 9; n++ {
		all = append(all, sample(k, n, 1, false), sample(k, n, 1, true))
	}
	view(t, st, func(tx wallet.Tx) error {
		indexes := append([]wallet.Index{{Columns: k.Key}}, k.Indexes...)
		for i, ix := range indexes {
			pos := func(r rec) []any {
				if i == 0 {
					return r.key
				}
				if r.idx[i-1] == nil {
					return nil
				}
				return append(slices.Clone(r.idx[i-1]), r.key...)
			}
			var positions [][]any
			for _, r := range all {
				if p := pos(r); p != nil {
					positions = append(positions, p)
				}
			}
			var in []rec // the stored records in this index
			for _, r := range stored {
				if pos(r) != nil {
					in = append(in, r)
				}
			}
			slices.SortFunc(in, func(a, b rec) int { return compareValues(pos(a), pos(b)) })
			seen := map[string]bool{}
			for _, p := range positions {
				for n := range len(ix.Columns) + 1 {
					prefix := p[:n]
					if seen[fmt.Sprint(i, prefix)] {
						continue
					}
					seen[fmt.Sprint(i, prefix)] = true
					for _, after := range positions {
						if compareValues(after[:n], prefix) != 0 {
							continue
						}
						for _, o := range []wallet.Order{{After: after}, {Desc: true, Limit: 2, After: after}} {
							var want [][]byte
							for _, r := range in {
								c := compareValues(pos(r), after)
								if compareValues(pos(r)[:n], prefix) == 0 && (c > 0 && !o.Desc || c < 0 && o.Desc) {
									want = append(want, r.body)
								}
							}
							if o.Desc {
								slices.Reverse(want)
							}
							if o.Limit > 0 && len(want) > o.Limit {
								want = want[:o.Limit]
							}
							got, err := tx.List(k, ix.Name, o, prefix...)
							what := fmt.Sprintf("List(%q, desc %v limit %d after %s, %s)", ix.Name, o.Desc, o.Limit, wallet.Describe(after), wallet.Describe(prefix))
							noErr(t, what, err)
							if want == nil {
								want = [][]byte{}
							}
							same(t, what, got, want)
						}
					}
				}
			}
			// A position not under the prefix, or not of the list's
			// columns, is the caller's mistake.
			if len(in) > 0 {
				p := pos(in[0])
				other := value(ix.Columns[0], 8)
				if compareValues([]any{other}, p[:1]) != 0 {
					_, err := tx.List(k, ix.Name, wallet.Order{After: p}, other)
					plain(t, fmt.Sprintf("List(%q) after a position under another prefix", ix.Name), err)
				}
				_, err := tx.List(k, ix.Name, wallet.Order{After: p[:len(p)-1]})
				plain(t, fmt.Sprintf("List(%q) after a short position", ix.Name), err)
			}
		}
		return nil
	})
}

func keyOf(r rec) string { return fmt.Sprint(r.key...) }

// testKinds runs the primitives on every declared kind.
func (s *suite) testKinds(t *testing.T) {
	for _, k := range wallet.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			s.testKind(t, k)
		})
	}
}

func (s *suite) testKind(t *testing.T, k *wallet.Kind) {
	dir := t.TempDir()
	st := s.open(t, dir)
	defer func() { _ = st.Close() }()
	model := map[string]rec{}
	checkModel(t, st, k, model)
	update(t, st, func(tx wallet.Tx) error {
		for n := range 6 {
			r := sample(k, n, 1, false)
			noErr(t, fmt.Sprintf("Put(%d)", n), wallet.Put(tx, k, r.record()))
			model[keyOf(r)] = r
		}
		_, err := wallet.Get(tx, k, sample(k, 6, 1, false).key...)
		isErr(t, "Get(missing)", err, wallet.ErrNotFound)
		for i, ix := range k.Indexes {
			if ix.Unique {
				_, err := wallet.GetBy(tx, k, ix.Name, sample(k, 6, 1, false).idx[i]...)
				isErr(t, "GetBy(missing)", err, wallet.ErrNotFound)
			}
		}
		return nil
	})
	checkModel(t, st, k, model)
	checkAfter(t, st, k, model)

	// A put of a taken key replaces the record and moves its index
	// entries; an Immutable kind refuses it and keeps the record.
	r0 := sample(k, 0, 2, true)
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return wallet.Put(tx, k, r0.record()) })
	if k.Immutable {
		isErr(t, "Put(taken key) of an immutable kind", err, wallet.ErrExists)
	} else {
		noErr(t, "Put(new version)", err)
		model[keyOf(r0)] = r0
	}
	checkModel(t, st, k, model)

	// Swap replaces a record only from the body it holds, moving its index
	// entries as a put does; inside Batch, as redemptions use it.
	if !k.Immutable {
		was, r1 := model[keyOf(sample(k, 1, 1, false))], sample(k, 1, 3, true)
		err := st.Batch(t.Context(), func(tx wallet.Tx) error {
			isErr(t, "Swap(from another body)", wallet.Swap(tx, k, append([]byte("x"), was.body...), r1.record()), wallet.ErrChanged)
			isErr(t, "Swap(missing)", wallet.Swap(tx, k, was.body, sample(k, 8, 1, false).record()), wallet.ErrNotFound)
			for i, ix := range k.Indexes {
				if ix.Unique {
					taken := sample(k, 1, 3, true)
					taken.idx[i] = sample(k, 2, 1, false).idx[i]
					isErr(t, "Swap(to a taken "+ix.Name+")", wallet.Swap(tx, k, was.body, taken.record()), wallet.ErrExists)
				}
			}
			return wallet.Swap(tx, k, was.body, r1.record())
		})
		noErr(t, "Swap(from its body)", err)
		model[keyOf(r1)] = r1
		checkModel(t, st, k, model)
	}

	// A unique value is another record's: refused, nothing written even
	// when the transaction commits; one freed by a move is free again.
	refused := func(i int, ix wallet.Index) {
		t.Helper()
		update(t, st, func(tx wallet.Tx) error {
			taken := sample(k, 7, 1, false)
			taken.idx[i] = sample(k, 2, 1, false).idx[i]
			isErr(t, "Put(new record, taken "+ix.Name+")", wallet.Put(tx, k, taken.record()), wallet.ErrExists)
			moved := sample(k, 3, 2, false)
			moved.idx[i] = taken.idx[i]
			isErr(t, "Put(update to a taken "+ix.Name+")", wallet.Put(tx, k, moved.record()), wallet.ErrExists)
			return nil
		})
	}
	for i, ix := range k.Indexes {
		if ix.Unique {
			refused(i, ix)
			reuse := sample(k, 6, 1, false)
			reuse.idx[i] = sample(k, 0, 1, false).idx[i]
			err := st.Update(t.Context(), func(tx wallet.Tx) error { return wallet.Put(tx, k, reuse.record()) })
			if !k.Immutable {
				noErr(t, "Put(freed "+ix.Name+")", err)
				model[keyOf(reuse)] = reuse
			}
		}
	}
	checkModel(t, st, k, model)

	// Delete removes a record and its index entries; deleting what is not
	// there is no error.
	update(t, st, func(tx wallet.Tx) error {
		r := sample(k, 3, 1, false)
		noErr(t, "Delete", tx.Delete(k, r.key...))
		noErr(t, "Delete again", tx.Delete(k, r.key...))
		noErr(t, "Delete(missing)", tx.Delete(k, sample(k, 8, 1, false).key...))
		delete(model, keyOf(r))
		return nil
	})
	checkModel(t, st, k, model)

	// Apply makes its writes all or none: a refused one leaves none of
	// the others in the transaction, which goes on and commits.
	a, b := sample(k, 3, 4, false), sample(k, 8, 1, false) // new records; 7 is missing
	put := func(r rec) wallet.Write { return wallet.Write{Kind: k, Record: r.record()} }
	swap := func(old []byte, r rec) wallet.Write {
		return wallet.Write{Kind: k, Record: r.record(), Swap: true, Old: old}
	}
	was := model[keyOf(sample(k, 0, 1, false))]
	update(t, st, func(tx wallet.Tx) error {
		refused := func(what string, err, want error) {
			t.Helper()
			if want == nil {
				plain(t, what, err)
			} else {
				isErr(t, what, err, want)
			}
			_, err = wallet.Get(tx, k, a.key...)
			isErr(t, what+": then Get(its first record)", err, wallet.ErrNotFound)
			got, err := wallet.Get(tx, k, was.key...)
			noErr(t, what+": then Get(a record it swapped)", err)
			same(t, what+": the record it swapped", got, was.body)
		}
		refused("Apply(a record twice)", tx.Apply(put(a), put(a)), nil)
		if k.Immutable {
			refused("Apply(new, taken key)", tx.Apply(put(a), put(sample(k, 2, 2, false))), wallet.ErrExists)
		} else {
			next := sample(k, 0, 5, true)
			refused("Apply(new, swap from another body)", tx.Apply(put(a), swap([]byte("x"), next)), wallet.ErrChanged)
			refused("Apply(new, swap of a missing record)", tx.Apply(put(a), swap(was.body, sample(k, 7, 1, false))), wallet.ErrNotFound)
			refused("Apply(swap, new, swap of a missing record)",
				tx.Apply(swap(was.body, next), put(a), swap(was.body, sample(k, 7, 1, false))), wallet.ErrNotFound)
		}
		for i, ix := range k.Indexes {
			if ix.Unique {
				taken, twin := b, b
				taken.idx = slices.Clone(b.idx)
				taken.idx[i] = sample(k, 2, 1, false).idx[i]
				refused("Apply(new, new with a taken "+ix.Name+")", tx.Apply(put(a), put(taken)), wallet.ErrExists)
				twin.idx = slices.Clone(b.idx)
				twin.idx[i] = a.idx[i]
				refused("Apply(two new with one "+ix.Name+")", tx.Apply(put(a), put(twin)), wallet.ErrExists)
			}
		}
		ws := []wallet.Write{put(a), put(b)}
		if !k.Immutable {
			ws = append(ws, swap(was.body, sample(k, 0, 6, true)))
		}
		return tx.Apply(ws...)
	})
	model[keyOf(a)], model[keyOf(b)] = a, b
	if !k.Immutable {
		model[keyOf(was)] = sample(k, 0, 6, true)
	}
	checkModel(t, st, k, model)

	// All of it is there when the store is opened again (SPEC §3.3 step
	// 4, THREATS T31), unique and immutable keys still taken.
	noErr(t, "Close", st.Close())
	st = s.open(t, dir)
	checkModel(t, st, k, model)
	checkAfter(t, st, k, model)
	for i, ix := range k.Indexes {
		if ix.Unique {
			refused(i, ix)
		}
	}
	if k.Immutable {
		err := st.Update(t.Context(), func(tx wallet.Tx) error { return wallet.Put(tx, k, sample(k, 2, 2, false).record()) })
		isErr(t, "Put(taken key) after reopen", err, wallet.ErrExists)
	}
}

// testValues: values CheckValue refuses are refused by a put with a plain
// error, found by no get or fetch and listed by no prefix, and leave the
// transaction usable (PostgreSQL never sees them).
func (s *suite) testValues(t *testing.T) {
	st := s.fresh(t)
	k := wallet.Shares.Kind()
	bad := []any{"", "a\x00b", "\xff", strings.Repeat("x", wallet.MaxText+1), []byte{}, 7, nil}
	update(t, st, func(tx wallet.Tx) error {
		for _, v := range bad {
			what := fmt.Sprintf("%#v", v)
			plain(t, "Put(key) "+what, wallet.Put(tx, k, wallet.Record{Key: []any{v}, Index: [][]any{nil, nil}, Body: []byte("{}")}))
			plain(t, "Put(index) "+what, wallet.Put(tx, k, wallet.Record{Key: []any{"s1"}, Index: [][]any{nil, {v, at(0)}}, Body: []byte("{}")}))
			plain(t, "Delete "+what, tx.Delete(k, v))
			_, err := wallet.Get(tx, k, v)
			isErr(t, "Get "+what, err, wallet.ErrNotFound)
			_, err = wallet.GetBy(tx, k, "token", v)
			isErr(t, "GetBy "+what, err, wallet.ErrNotFound)
			l, err := tx.List(k, "holder", wallet.Order{}, v)
			if err != nil || len(l) != 0 {
				t.Errorf("List %s: %d, %v", what, len(l), err)
			}
			f, err := tx.Fetch(wallet.Lookup{Kind: k, Prefix: []any{v}}, wallet.Lookup{Kind: k, Index: "holder", Prefix: []any{v}})
			if err != nil || len(f) != 2 || f[0] != nil || f[1] != nil {
				t.Errorf("Fetch %s: %q, %v", what, f, err)
			}
		}
		for name, r := range map[string]wallet.Record{
			"too few key values":    {Key: []any{}, Index: [][]any{nil, nil}},
			"too many key values":   {Key: []any{"s1", "s2"}, Index: [][]any{nil, nil}},
			"missing index entries": {Key: []any{"s1"}},
			"short index entry":     {Key: []any{"s1"}, Index: [][]any{nil, {"h1"}}},
		} {
			plain(t, "Put("+name+")", wallet.Put(tx, k, r))
		}
		// Through the domain's records: what the service could get wrong.
		plain(t, "issuer without an id", wallet.Issuers.Put(tx, &wallet.Issuer{}))
		plain(t, "device of a holder id with NUL", wallet.Devices.Put(tx, &wallet.Device{ID: "d1", HolderID: "h\x00"}))
		plain(t, "device without a holder", wallet.Devices.Put(tx, &wallet.Device{ID: "d1"}))
		plain(t, "api key without a hash", wallet.APIKeys.Put(tx, &wallet.APIKey{ID: "k1"}))
		plain(t, "holder without a citizen hash", wallet.Holders.Put(tx, &wallet.Holder{ID: "h1"}))
		plain(t, "nil credential", wallet.Credentials.Put(tx, nil))
		plain(t, "meta with an invalid name", wallet.Meta.Put(tx, []byte("x"), "\xff"))
		plain(t, "UseOnce(empty key)", tx.UseOnce("", at(0), at(0)))
		plain(t, "UseOnce(long key)", tx.UseOnce(strings.Repeat("k", wallet.MaxOnceKey+1), at(0), at(0)))
		// Still usable.
		return wallet.Put(tx, k, wallet.Record{Key: []any{"s1"}, Index: [][]any{nil, nil}, Body: []byte("{}")})
	})
	view(t, st, func(tx wallet.Tx) error {
		_, err := wallet.Get(tx, k, "s1")
		noErr(t, "Get after refused puts", err)
		return nil
	})
}

// plain fails t unless err is an error other than ErrExists and
// ErrNotFound: a refusal, not an answer about what is stored.
func plain(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, wallet.ErrExists) || errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("%s: %v, want a plain error", what, err)
	}
}

// testValuesOutliveTheirTransaction: what a Tx returns is the caller's,
// unchanged after its transaction whatever is written next. bbolt hands
// out slices of its mmap, valid only inside the transaction: a store that
// returned one would show other bytes here once the pages are reused, or
// crash once the file grows and is mapped again.
func (s *suite) testValuesOutliveTheirTransaction(t *testing.T) {
	st := s.fresh(t)
	meta, shares := wallet.Meta.Kind(), wallet.Shares.Kind()
	first := bytes.Repeat([]byte("first "), 200)
	put := func(tx wallet.Tx, body []byte) error {
		if err := wallet.Put(tx, meta, wallet.Record{Key: []any{"service_key"}, Body: body}); err != nil {
			return err
		}
		return wallet.Put(tx, shares, wallet.Record{Key: []any{"s1"}, Index: [][]any{{[]byte("token")}, {"h1", at(0)}},
			Body: fmt.Appendf(nil, `{"v":%q}`, body)})
	}
	given := bytes.Clone(first)
	update(t, st, func(tx wallet.Tx) error { return put(tx, given) })
	given[0] = 'X' // the store kept its own copy of what it was given
	var kept [][]byte
	view(t, st, func(tx wallet.Tx) error {
		a, err1 := wallet.Get(tx, meta, "service_key")
		b, err2 := wallet.GetBy(tx, shares, "token", []byte("token"))
		c, err3 := tx.List(shares, "holder", wallet.Order{}, "h1")
		noErr(t, "read", errors.Join(err1, err2, err3))
		kept = append([][]byte{a, b}, c...)
		return nil
	})
	want := [][]byte{first, fmt.Appendf(nil, `{"v":%q}`, first), fmt.Appendf(nil, `{"v":%q}`, first)}
	same(t, "values read", kept, want)
	// Rewrite the records many times (their old pages are freed and
	// reused) and grow the file well past its first mappings.
	for i := range 40 {
		update(t, st, func(tx wallet.Tx) error {
			if err := put(tx, bytes.Repeat([]byte{byte('a' + i%26)}, len(first))); err != nil {
				return err
			}
			return wallet.Put(tx, meta, wallet.Record{Key: []any{fmt.Sprintf("filler-%d", i)}, Body: make([]byte, 64<<10)})
		})
	}
	same(t, "values kept after their transaction and later writes", kept, want)
}
