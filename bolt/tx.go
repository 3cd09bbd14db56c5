package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
)

// tx is a wallet.Tx over one bbolt transaction: a bucket per record kind
// (key → index entries and body, see joinValue) and per index (a unique
// index: values → key; another: values ‖ key → key). Apply checks every
// write before it makes any, so a refused one leaves the transaction as it
// was even when the caller goes on and commits.
type tx struct {
	btx *bbolt.Tx
}

var _ wallet.Tx = (*tx)(nil)

// pruneBatch is how many expired UseOnce entries each UseOnce call removes:
// more than the one it adds, so the bucket shrinks back to the live entries
// without a sweeper.
const pruneBatch = 8

// kind holds the buckets of a record kind: its records', and its
// indexes' as they are first used (a read by key needs none of them).
type kind struct {
	*wallet.Kind
	btx  *bbolt.Tx
	recs *bbolt.Bucket
	idx  []*bbolt.Bucket
}

// kind finds the buckets of k, which Open created for every declared kind.
func (t *tx) kind(k *wallet.Kind) (*kind, error) {
	kb := &kind{Kind: k, btx: t.btx, recs: t.btx.Bucket([]byte(k.Name)), idx: make([]*bbolt.Bucket, len(k.Indexes))}
	if kb.recs == nil {
		return nil, fmt.Errorf("bolt: kind %s: no bucket (not in wallet.Kinds)", k.Name)
	}
	return kb, nil
}

// index returns the bucket of the kind's index i.
func (kb *kind) index(i int) (*bbolt.Bucket, error) {
	if kb.idx[i] == nil {
		ix := kb.Indexes[i]
		if kb.idx[i] = kb.btx.Bucket([]byte(indexBucket(kb.Kind, ix))); kb.idx[i] == nil {
			return nil, fmt.Errorf("bolt: kind %s: index %s: no bucket", kb.Name, ix.Name)
		}
	}
	return kb.idx[i], nil
}

// indexes returns the buckets of every index of the kind.
func (kb *kind) indexes() ([]*bbolt.Bucket, error) {
	for i := range kb.idx {
		if _, err := kb.index(i); err != nil {
			return nil, err
		}
	}
	return kb.idx, nil
}

func indexBucket(k *wallet.Kind, ix wallet.Index) string { return k.Name + "_by_" + ix.Name }

func notFound(k *wallet.Kind, vals []any) error {
	return fmt.Errorf("bolt: %s %s: %w", k.Name, wallet.Describe(vals), wallet.ErrNotFound)
}

// body returns a copy of the body of the record at rk, which an index
// entry named: no record there is a damaged file, not a record not found.
func (kb *kind) body(rk []byte, key []any) ([]byte, error) {
	v := kb.recs.Get(rk)
	if v == nil {
		return nil, fmt.Errorf("bolt: %s %s: an index entry names no record", kb.Name, wallet.Describe(key))
	}
	b, err := bodyOf(v)
	if err != nil {
		return nil, fmt.Errorf("bolt: %s %s: %w", kb.Name, wallet.Describe(key), err)
	}
	return b, nil
}

func (t *tx) List(k *wallet.Kind, index string, o wallet.Order, prefix ...any) ([][]byte, error) {
	cols, err := k.Columns(index)
	if err != nil {
		return nil, fmt.Errorf("bolt: list %w", err)
	}
	out := [][]byte{}
	if wallet.CheckValues(cols, prefix, false) != nil {
		return out, nil // nothing can be stored under it
	}
	kb, err := t.kind(k)
	if err != nil {
		return nil, err
	}
	walked, unique := kb.recs, false
	if index != "" {
		i, _ := k.Index(index)
		if walked, err = kb.index(i); err != nil {
			return nil, err
		}
		unique = k.Indexes[i].Unique
	}
	p := appendValues(nil, cols, prefix)
	c := walked.Cursor()
	var key, v []byte
	switch {
	case o.After != nil:
		if err := k.CheckPosition(index, o.After, prefix); err != nil {
			return nil, fmt.Errorf("bolt: list %w", err)
		}
		vals := appendValues(nil, cols, o.After[:len(cols)])
		key, v = seekAfter(c, vals, appendValues(bytes.Clone(vals), k.Key, o.After[len(cols):]), unique, o.Desc)
	case o.Desc:
		key, v = last(c, p)
	default:
		key, v = c.Seek(p)
	}
	for ; key != nil && bytes.HasPrefix(key, p) && (o.Limit <= 0 || len(out) < o.Limit); key, v = step(c, o.Desc) {
		var b []byte
		if index == "" {
			b, err = bodyOf(v)
		} else {
			b, err = kb.body(v, prefix) // an index entry's value is the record's key
		}
		if err != nil {
			return nil, fmt.Errorf("bolt: list %s %s: %w", k.Name, wallet.Describe(prefix), err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Fetch is one List of at most one record per lookup: bbolt reads from
// memory, so there is no round trip to save.
func (t *tx) Fetch(ls ...wallet.Lookup) ([][]byte, error) {
	out := make([][]byte, len(ls))
	for i, l := range ls {
		got, err := t.List(l.Kind, l.Index, wallet.Order{Desc: l.Desc, Limit: 1}, l.Prefix...)
		if err != nil {
			return nil, err
		}
		if len(got) > 0 {
			out[i] = got[0]
		}
	}
	return out, nil
}

// last positions c on the last key starting with prefix, or wherever Prev
// from there leads when there is none: the caller checks the prefix.
func last(c *bbolt.Cursor, prefix []byte) ([]byte, []byte) {
	end := after(prefix)
	if end == nil {
		return c.Last()
	}
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// seekAfter positions c on the first entry strictly after the encoded
// position from (before it, back), which starts with the encoded values
// of the index's columns vals and is under the list's prefix; the caller
// checks the prefix of what it walks to. An entry's position is its key
// (values ‖ record key), but a unique index's key holds only the values,
// and its record key is the entry's value: its entry sorts before from,
// so the walk starts there.
func seekAfter(c *bbolt.Cursor, vals, from []byte, unique, back bool) ([]byte, []byte) {
	cmp, seek := func(k, _ []byte) int { return bytes.Compare(k, from) }, from
	if unique {
		cmp = func(k, v []byte) int { return bytes.Compare(append(k[:len(k):len(k)], v...), from) }
		seek = vals
	}
	k, v := c.Seek(seek)
	if !back {
		for k != nil && cmp(k, v) <= 0 {
			k, v = c.Next()
		}
		return k, v
	}
	if k == nil {
		k, v = c.Last()
	}
	for k != nil && cmp(k, v) >= 0 {
		k, v = c.Prev()
	}
	return k, v
}

func step(c *bbolt.Cursor, back bool) ([]byte, []byte) {
	if back {
		return c.Prev()
	}
	return c.Next()
}

// Apply checks every write before it makes any, so that a refused one
// leaves the transaction as it was.
func (t *tx) Apply(ws ...wallet.Write) error {
	if err := wallet.CheckWrites(ws); err != nil {
		return fmt.Errorf("bolt: apply %w", err)
	}
	plans := make([]*put, len(ws))
	for i, w := range ws {
		var err error
		if plans[i], err = t.plan(w); err != nil {
			return err
		}
		for _, q := range plans[:i] {
			if err := q.overlaps(plans[i]); err != nil {
				return err
			}
		}
	}
	for _, p := range plans {
		if err := p.write(); err != nil {
			return err
		}
	}
	return nil
}

// put is a put whose checks passed, ready to write: a refused Apply
// writes nothing.
type put struct {
	kb      *kind
	idx     []*bbolt.Bucket
	key     []any
	rk      []byte   // the encoded key
	was     [][]byte // the stored record's index entries
	entries [][]byte // the new ones (nil: not in that index)
	body    []byte
}

// plan checks the write w, which CheckWrites accepted: for a swap, that
// the record is there (else ErrNotFound) and still w.Old (else
// ErrChanged); then ErrExists when the kind is Immutable and the key is
// taken, or when a unique index entry of the record names another one.
func (t *tx) plan(w wallet.Write) (*put, error) {
	k, r := w.Kind, w.Record
	kb, err := t.kind(k)
	if err != nil {
		return nil, err
	}
	p := &put{kb: kb, key: r.Key, rk: appendValues(nil, k.Key, r.Key), entries: make([][]byte, len(k.Indexes)), body: r.Body}
	if p.idx, err = kb.indexes(); err != nil {
		return nil, err
	}
	stored := kb.recs.Get(p.rk)
	if w.Add != 0 {
		return p, p.add(stored, w.Add)
	}
	if stored == nil && w.Swap {
		return nil, notFound(k, r.Key)
	}
	if stored != nil {
		var body []byte // into bbolt's memory: compared here, not kept
		if p.was, body, err = split(stored); err != nil {
			return nil, fmt.Errorf("bolt: put %s %s: stored: %w", k.Name, wallet.Describe(r.Key), err)
		}
		if w.Swap && !bytes.Equal(body, w.Old) {
			return nil, fmt.Errorf("bolt: swap %s %s: %w", k.Name, wallet.Describe(r.Key), wallet.ErrChanged)
		}
		if k.Immutable {
			return nil, fmt.Errorf("bolt: put %s %s: %w", k.Name, wallet.Describe(r.Key), wallet.ErrExists)
		}
	}
	for i, ix := range k.Indexes {
		if r.Index[i] == nil {
			continue
		}
		p.entries[i] = appendValues(nil, ix.Columns, r.Index[i])
		if !ix.Unique {
			p.entries[i] = append(p.entries[i], p.rk...)
		}
		if ix.Unique && !bytes.Equal(p.entries[i], entry(p.was, i)) {
			if cur := p.idx[i].Get(p.entries[i]); cur != nil && !bytes.Equal(cur, p.rk) {
				return nil, fmt.Errorf("bolt: put %s %s: %s taken: %w", k.Name, wallet.Describe(r.Key), ix.Name, wallet.ErrExists)
			}
		}
	}
	return p, nil
}

// add makes p the counter stored (nil: none yet) plus n: a read-modify-
// write, which bbolt's single writer makes safe. A counter's value is a
// record's with no index entry and the count as its body, 8 bytes
// big-endian.
func (p *put) add(stored []byte, n int64) error {
	var was int64
	if stored != nil {
		_, body, err := split(stored)
		if err != nil || len(body) != 8 {
			return fmt.Errorf("bolt: add %s %s: stored: %w", p.kb.Name, wallet.Describe(p.key), errCorrupt)
		}
		was = int64(binary.BigEndian.Uint64(body))
	}
	sum := was + n
	if (n > 0) != (sum > was) {
		return fmt.Errorf("bolt: add %s %s: overflow", p.kb.Name, wallet.Describe(p.key))
	}
	p.body = binary.BigEndian.AppendUint64(nil, uint64(sum))
	return nil
}

// Counts walks the counter bucket of k from the first key at or after
// from to the last before to.
func (t *tx) Counts(k *wallet.Kind, from, to any) ([]wallet.Count, error) {
	out := []wallet.Count{}
	if ok, err := wallet.CheckCounts(k, from, to); err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	} else if !ok {
		return out, nil
	}
	kb, err := t.kind(k)
	if err != nil {
		return nil, err
	}
	var end []byte
	if to != nil {
		end = appendValue(nil, k.Key[0].Type, to)
	}
	c := kb.recs.Cursor()
	rk, v := c.First()
	if from != nil {
		rk, v = c.Seek(appendValue(nil, k.Key[0].Type, from))
	}
	for ; rk != nil && (end == nil || bytes.Compare(rk, end) < 0); rk, v = c.Next() {
		key, rest, err := decodeValues(k.Key, rk)
		_, body, serr := split(v)
		if err != nil || len(rest) > 0 || serr != nil || len(body) != 8 {
			return nil, fmt.Errorf("bolt: counts %s: key %x: %w", k.Name, rk, errCorrupt)
		}
		for i, v := range key {
			if tm, ok := v.(time.Time); ok {
				key[i] = tm.UTC()
			}
		}
		out = append(out, wallet.Count{Key: key, N: int64(binary.BigEndian.Uint64(body))})
	}
	return out, nil
}

// overlaps refuses two writes of one Apply that the checks of each alone
// would let through together: taking the same unique value (ErrExists).
func (p *put) overlaps(q *put) error {
	k := p.kb.Kind
	if q.kb.Kind != k {
		return nil
	}
	for i, ix := range k.Indexes {
		if ix.Unique && p.entries[i] != nil && bytes.Equal(p.entries[i], q.entries[i]) {
			return fmt.Errorf("bolt: put %s %s: %s taken: %w", k.Name, wallet.Describe(q.key), ix.Name, wallet.ErrExists)
		}
	}
	return nil
}

// write makes the put: the index entries that changed, then the record.
func (p *put) write() error {
	k := p.kb.Kind
	for i := range k.Indexes {
		o, n := entry(p.was, i), p.entries[i]
		if bytes.Equal(o, n) {
			continue // unchanged: not rewritten
		}
		if o != nil {
			if err := p.idx[i].Delete(o); err != nil {
				return fmt.Errorf("bolt: put %s %s: index %s: %w", k.Name, wallet.Describe(p.key), k.Indexes[i].Name, err)
			}
		}
		if n != nil {
			if err := p.idx[i].Put(n, p.rk); err != nil {
				return fmt.Errorf("bolt: put %s %s: index %s: %w", k.Name, wallet.Describe(p.key), k.Indexes[i].Name, err)
			}
		}
	}
	// joinValue copies the body: bbolt keeps what it is given until commit.
	if err := p.kb.recs.Put(p.rk, joinValue(p.entries, p.body)); err != nil {
		return fmt.Errorf("bolt: put %s %s: %w", k.Name, wallet.Describe(p.key), err)
	}
	return nil
}

// entry is the i-th stored entry, nil when there is none (a record put
// before the kind had that index).
func entry(entries [][]byte, i int) []byte {
	if i < len(entries) {
		return entries[i]
	}
	return nil
}

func (t *tx) Delete(k *wallet.Kind, key ...any) error {
	if err := wallet.CheckValues(k.Key, key, true); err != nil {
		return fmt.Errorf("bolt: delete %s: %w", k.Name, err)
	}
	kb, err := t.kind(k)
	if err != nil {
		return err
	}
	idx, err := kb.indexes()
	if err != nil {
		return err
	}
	rk := appendValues(nil, k.Key, key)
	old := kb.recs.Get(rk)
	if old == nil {
		return nil
	}
	was, _, err := split(old)
	if err == nil {
		for i, e := range was {
			if e != nil && i < len(idx) {
				if err = idx[i].Delete(e); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		err = kb.recs.Delete(rk)
	}
	if err != nil {
		return fmt.Errorf("bolt: delete %s %s: %w", k.Name, wallet.Describe(key), err)
	}
	return nil
}

// --- one-time keys ----------------------------------------------------------

// UseOnce records key until expires in the once bucket (key → expiry),
// with an expiry index (expiry ‖ key) from which each call removes a few
// keys that expired before now, oldest expiry first. A recorded key is
// taken while now is not after its expiry (the boundary counts as taken:
// the safe side for a replay check).
func (t *tx) UseOnce(key string, expires time.Time, now time.Time) error {
	if err := wallet.CheckOnceKey(key); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	once, byExp := t.btx.Bucket([]byte(bucketOnce)), t.btx.Bucket([]byte(bucketOnceByExpiry))
	k := []byte(key)
	if old := once.Get(k); old != nil {
		if !now.After(parseTime(old)) {
			// The key may be a nonce: not in the error.
			return fmt.Errorf("bolt: use once: %w", wallet.ErrExists)
		}
		if err := byExp.Delete(append(bytes.Clone(old), k...)); err != nil {
			return fmt.Errorf("bolt: use once: %w", err)
		}
	}
	if err := pruneOnce(once, byExp, now); err != nil {
		return fmt.Errorf("bolt: use once: prune: %w", err)
	}
	exp := appendTime(nil, expires)
	if err := byExp.Put(append(bytes.Clone(exp), k...), []byte{}); err != nil {
		return fmt.Errorf("bolt: use once: %w", err)
	}
	if err := once.Put(k, exp); err != nil {
		return fmt.Errorf("bolt: use once: %w", err)
	}
	return nil
}

// pruneOnce deletes up to pruneBatch keys that expired before now.
func pruneOnce(once, byExp *bbolt.Bucket, now time.Time) error {
	var dead [][]byte
	c := byExp.Cursor()
	for k, _ := c.First(); k != nil && len(dead) < pruneBatch; k, _ = c.Next() {
		if !now.After(parseTime(k)) {
			break
		}
		dead = append(dead, bytes.Clone(k))
	}
	// Deleting after the walk: deleting under a bbolt cursor skips keys.
	for _, k := range dead {
		if err := byExp.Delete(k); err != nil {
			return err
		}
		// The index entry of a key is replaced whenever the key is, so
		// this holds; checking costs little and keeps a live key live.
		if key := k[timeLen:]; bytes.Equal(once.Get(key), k[:timeLen]) {
			if err := once.Delete(key); err != nil {
				return err
			}
		}
	}
	return nil
}
