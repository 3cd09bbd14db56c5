package wallet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Copying one store into another (eidwallet migrate-store, bolt to
// PostgreSQL and back; docs/operations.md): every record of every kind,
// whole, and the one-time keys still live; then a check of the copy that
// reads it as the service does: counts, chains, lookups by key and index,
// and sealed values opened with the master key.

// Scanner enumerates a kind's records whole, key and index values with the
// body, in key order: what a copy needs that the Tx primitives do not give
// (List returns bodies only, and a raw kind's key is not in its body). The
// service never scans; the Tx of bolt and of postgres implement it.
type Scanner interface {
	// Scan calls fn with every record of k; fn owns the record. An error
	// from fn stops the scan and is returned as it is. A Counter kind's
	// records are its keys, each once, with its total as the body (8
	// bytes, big-endian).
	Scan(k *Kind, fn func(Record) error) error
	// ScanOnce calls fn with every recorded one-time key and its expiry.
	ScanOnce(fn func(key string, expires time.Time) error) error
}

// ErrNotEmpty is Copy's answer when the destination holds records: a copy
// never merges two stores.
var ErrNotEmpty = errors.New("the destination store is not empty")

// copyBatch is how many records one destination transaction writes: enough
// that a bbolt destination's fsync per commit is not what the copy waits
// on, few enough to keep memory flat.
const copyBatch = 1000

// Copied counts what Copy copied.
type Copied struct {
	Records  map[string]int // by kind name
	OnceKeys int            // one-time keys not expired at the copy
}

// Copy copies every record of every kind (Kinds) and the one-time keys not
// expired at now from src into dst, which must hold none (ErrNotEmpty).
// src is read in one transaction, so the copy is of one snapshot; the
// service must not write to src meanwhile (stop it: bbolt's file lock
// does; on PostgreSQL, stop every replica), or those writes are not in the
// copy. One-time keys (jti, nonces) are copied so that a replay refused
// before the copy stays refused after it (THREATS T11).
func Copy(ctx context.Context, dst, src Store, now time.Time) (*Copied, error) {
	if err := checkEmpty(ctx, dst); err != nil {
		return nil, err
	}
	out := &Copied{Records: map[string]int{}}
	err := src.View(ctx, func(stx Tx) error {
		sc, err := scanner(stx)
		if err != nil {
			return err
		}
		for _, k := range allKinds() {
			w := &batchWriter[Record]{ctx: ctx, dst: dst, put: func(tx Tx, r Record) error { return Put(tx, k, r) }}
			if k.Counter {
				w.put = func(tx Tx, r Record) error {
					n, err := counted(r)
					if err != nil {
						return err
					}
					return tx.Apply(Added(k, n, r.Key...))
				}
			}
			err := sc.Scan(k, func(r Record) error {
				out.Records[k.Name]++
				return w.add(r)
			})
			if err == nil {
				err = w.flush()
			}
			if err != nil {
				return fmt.Errorf("copy %s: %w", k.Name, err)
			}
		}
		type onceKey struct {
			key     string
			expires time.Time
		}
		w := &batchWriter[onceKey]{ctx: ctx, dst: dst, put: func(tx Tx, o onceKey) error { return tx.UseOnce(o.key, o.expires, now) }}
		err = sc.ScanOnce(func(key string, expires time.Time) error {
			if expires.Before(now) {
				return nil // refused by no one any more
			}
			out.OnceKeys++
			return w.add(onceKey{key, expires})
		})
		if err == nil {
			err = w.flush()
		}
		if err != nil {
			return fmt.Errorf("copy one-time keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchWriter writes what it is given into dst with put, copyBatch values
// a transaction.
type batchWriter[T any] struct {
	ctx   context.Context
	dst   Store
	put   func(Tx, T) error
	batch []T
}

func (w *batchWriter[T]) add(v T) error {
	w.batch = append(w.batch, v)
	if len(w.batch) == copyBatch {
		return w.flush()
	}
	return nil
}

// flush writes what add has collected, if anything.
func (w *batchWriter[T]) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	err := w.dst.Update(w.ctx, func(tx Tx) error {
		for _, v := range w.batch {
			if err := w.put(tx, v); err != nil {
				return err
			}
		}
		return nil
	})
	w.batch = w.batch[:0]
	return err
}

// allKinds are the record kinds and the counter kinds: what a copy copies.
func allKinds() []*Kind { return append(Kinds(), CounterKinds()...) }

// counted is the total of a counter a Scan gave.
func counted(r Record) (int64, error) {
	if len(r.Body) != 8 {
		return 0, fmt.Errorf("counter %s: a total of %d bytes", Describe(r.Key), len(r.Body))
	}
	return int64(binary.BigEndian.Uint64(r.Body)), nil
}

func scanner(tx Tx) (Scanner, error) {
	sc, ok := tx.(Scanner)
	if !ok {
		return nil, fmt.Errorf("store transaction %T cannot enumerate its records (no Scan)", tx)
	}
	return sc, nil
}

var errStop = errors.New("stop")

// checkEmpty is ErrNotEmpty, naming a kind, when s holds any record or
// one-time key.
func checkEmpty(ctx context.Context, s Store) error {
	return s.View(ctx, func(tx Tx) error {
		sc, err := scanner(tx)
		if err != nil {
			return err
		}
		stop := func(Record) error { return errStop }
		for _, k := range allKinds() {
			if err := sc.Scan(k, stop); errors.Is(err, errStop) {
				return fmt.Errorf("%w: it holds %s", ErrNotEmpty, k.Name)
			} else if err != nil {
				return err
			}
		}
		err = sc.ScanOnce(func(string, time.Time) error { return errStop })
		if errors.Is(err, errStop) {
			return fmt.Errorf("%w: it holds one-time keys", ErrNotEmpty)
		}
		return err
	})
}

// CopyReport is what CheckCopy found. The copy checks out when Problems is
// empty.
type CopyReport struct {
	Counts          []KindCount
	Holders         int // activity chains checked, one per holder
	ActivityEntries int
	Verifiers       int // verification logs checked, one per verifier
	Verifications   int
	Newest          time.Time      // of every activity and verification entry: the recovery point of a restored copy
	Compared        int            // sampled records found alike in both stores, by key and by index
	Opened          map[string]int // sealed values opened with the master key, by what they are
	Problems        []string
}

// KindCount is the number of records of a kind in each store.
type KindCount struct {
	Kind         string
	Source, Copy int
}

// maxProblems bounds the problems a report lists: a wrong master key fails
// every sealed value, and one line says it as well as a million.
const maxProblems = 20

func (r *CopyReport) problem(format string, args ...any) {
	switch {
	case len(r.Problems) < maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	case len(r.Problems) == maxProblems:
		r.Problems = append(r.Problems, "… and more")
	}
}

// CheckCopy checks dst, a copy of src that Copy made: the same number of
// records of every kind; a sample of about sample records of each kind,
// spread over it, found in dst by key and by each index with the same
// body; every holder's activity chain unbroken (CheckChain) and every
// verifier's log in order, its own entries only, with no entry of either
// left over; and sealed values (the service key, every issuer key and
// webhook secret, and the credential claims, credential copies, share
// items and share documents of the sampled records, as the copy holds
// them) opened with keys, the master key's, under the associated data the
// service seals them with (THREATS T25). The error is a failure to
// check; what does not check out is in the report's Problems.
func CheckCopy(ctx context.Context, dst, src Store, keys *Keys, sample int) (*CopyReport, error) {
	if sample < 1 {
		sample = 1
	}
	rep := &CopyReport{Opened: map[string]int{}}
	srcCounts, err := countRecords(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("count the source: %w", err)
	}
	dstCounts, err := countRecords(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("count the copy: %w", err)
	}
	steps := map[string]int{}
	for _, k := range allKinds() {
		s, d := srcCounts[k.Name], dstCounts[k.Name]
		rep.Counts = append(rep.Counts, KindCount{Kind: k.Name, Source: s, Copy: d})
		if s != d {
			rep.problem("%s: %d records in the source, %d in the copy", k.Name, s, d)
		}
		if k.Counter {
			// Counters are not sampled (no Get): their totals compare.
			if s, d := srcCounts[totalOf(k)], dstCounts[totalOf(k)]; s != d {
				rep.problem("%s: a total of %d in the source, %d in the copy", k.Name, s, d)
			}
			continue
		}
		steps[k.Name] = max(1, s/sample)
	}
	var samples map[string][]Record
	err = src.View(ctx, func(tx Tx) error {
		samples, err = sampleRecords(tx, steps)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sample the source: %w", err)
	}
	err = dst.View(ctx, func(tx Tx) error {
		copied, err := compareSamples(tx, samples, rep)
		if err != nil {
			return err
		}
		if err := checkLogs(tx, rep, dstCounts); err != nil {
			return err
		}
		sealer, err := NewAESGCM(keys.Seal, rand.Reader)
		if err != nil {
			return err
		}
		return openSealed(tx, sealer, copied, rep)
	})
	if err != nil {
		return nil, fmt.Errorf("check the copy: %w", err)
	}
	return rep, nil
}

// countRecords counts every kind's records, and under totalOf a counter
// kind's total.
func countRecords(ctx context.Context, s Store) (map[string]int, error) {
	counts := map[string]int{}
	err := s.View(ctx, func(tx Tx) error {
		sc, err := scanner(tx)
		if err != nil {
			return err
		}
		for _, k := range allKinds() {
			n := 0
			if err := sc.Scan(k, func(r Record) error {
				n++
				if k.Counter {
					v, err := counted(r)
					counts[totalOf(k)] += int(v)
					return err
				}
				return nil
			}); err != nil {
				return err
			}
			counts[k.Name] = n
		}
		return nil
	})
	return counts, err
}

// totalOf is where countRecords puts the total of counter kind k.
func totalOf(k *Kind) string { return k.Name + " total" }

// sampleRecords takes every steps[kind]-th record of each kind, the first
// included. They are gathered before any is looked at: a PostgreSQL
// connection runs one query at a time.
func sampleRecords(tx Tx, steps map[string]int) (map[string][]Record, error) {
	sc, err := scanner(tx)
	if err != nil {
		return nil, err
	}
	out := map[string][]Record{}
	for _, k := range Kinds() {
		i := 0
		err := sc.Scan(k, func(r Record) error {
			if i%steps[k.Name] == 0 {
				out[k.Name] = append(out[k.Name], r)
			}
			i++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// compareSamples looks each sampled source record up in the copy by key,
// by each unique index entry, and in the list of each other index's first
// column (a time column may be kept at another precision by the other
// store), and compares the bodies. It returns the sampled records the copy
// holds, with the copy's bodies, for openSealed: no second scan of the
// copy.
func compareSamples(tx Tx, samples map[string][]Record, rep *CopyReport) (map[string][]Record, error) {
	copied := map[string][]Record{}
	for _, k := range Kinds() {
		for _, r := range samples[k.Name] {
			what := k.Name + " " + Describe(r.Key)
			body, err := Get(tx, k, r.Key...)
			if errors.Is(err, ErrNotFound) {
				rep.problem("%s: not in the copy", what)
				continue
			}
			if err != nil {
				return nil, err
			}
			copied[k.Name] = append(copied[k.Name], Record{Key: r.Key, Body: body})
			ok := bytes.Equal(body, r.Body)
			if !ok {
				rep.problem("%s: another body in the copy", what)
			}
			for i, ix := range k.Indexes {
				if r.Index[i] == nil {
					continue
				}
				found := false
				if ix.Unique {
					b, err := GetBy(tx, k, ix.Name, r.Index[i]...)
					if err != nil && !errors.Is(err, ErrNotFound) {
						return nil, err
					}
					found = err == nil && bytes.Equal(b, r.Body)
				} else {
					list, err := tx.List(k, ix.Name, Order{}, r.Index[i][0])
					if err != nil {
						return nil, err
					}
					for _, b := range list {
						found = found || bytes.Equal(b, r.Body)
					}
				}
				if !found {
					rep.problem("%s: not found by its %s index in the copy", what, ix.Name)
				}
				ok = ok && found
			}
			if ok {
				rep.Compared++
			}
		}
	}
	return copied, nil
}

// checkLogs checks every holder's activity chain and every verifier's log
// in the copy, and that they hold every entry of it.
func checkLogs(tx Tx, rep *CopyReport, counts map[string]int) error {
	sc, err := scanner(tx)
	if err != nil {
		return err
	}
	keysOf := func(k *Kind) ([]string, error) {
		var ids []string
		err := sc.Scan(k, func(r Record) error { ids = append(ids, r.Key[0].(string)); return nil })
		return ids, err
	}
	holders, err := keysOf(Holders.Kind())
	if err != nil {
		return err
	}
	for _, id := range holders {
		entries, err := ActivityLog.List(tx, "", Order{}, id)
		if err != nil {
			return err
		}
		if at := chainBreak(entries); at >= 0 {
			rep.problem("activity of holder %s: the chain breaks at entry %d", id, at+1)
		}
		for _, e := range entries {
			rep.Newest = latest(rep.Newest, e.At)
		}
		rep.Holders++
		rep.ActivityEntries += len(entries)
	}
	if n := counts[ActivityLog.Kind().Name]; n != rep.ActivityEntries {
		rep.problem("activity: %d entries, %d in the holders' chains", n, rep.ActivityEntries)
	}
	verifiers, err := keysOf(Verifiers.Kind())
	if err != nil {
		return err
	}
	for _, id := range verifiers {
		log, err := VerificationLog.List(tx, "", Order{}, id)
		if err != nil {
			return err
		}
		// Not a hash chain. The log is listed in key order (verifier,
		// seq), so this checks that each entry's body agrees with its
		// key: it names this verifier, and the seqs rise as the keys do.
		// compareSamples sees only some entries; this sees them all.
		for i, v := range log {
			rep.Newest = latest(rep.Newest, v.At)
			if v.VerifierID != id || i > 0 && v.Seq <= log[i-1].Seq {
				rep.problem("verification log of %s: entry %d is %s #%d, out of place", id, i+1, v.VerifierID, v.Seq)
				break
			}
		}
		rep.Verifiers++
		rep.Verifications += len(log)
	}
	if n := counts[VerificationLog.Kind().Name]; n != rep.Verifications {
		rep.problem("verifications: %d entries, %d in the verifiers' logs", n, rep.Verifications)
	}
	return nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// openSealed opens the sealed values of the sampled records of the copy
// (and every issuer key and webhook secret, and the service key), under
// the associated data the service seals each with.
func openSealed(tx Tx, sealer Sealer, samples map[string][]Record, rep *CopyReport) error {
	open := func(what string, sealed []byte, ad ...string) {
		if _, err := sealer.Open(sealed, []byte(strings.Join(ad, "|"))); err != nil {
			rep.problem("%s %s: does not open with this master key", what, strings.Join(ad[1:], "/"))
			return
		}
		rep.Opened[what]++
	}
	sealed, err := Meta.Get(tx, metaServiceKey)
	switch {
	case err == nil:
		open("service key", sealed, "meta", metaServiceKey)
	case !errors.Is(err, ErrNotFound): // a store that never served has none
		return err
	}
	issuers, err := Issuers.List(tx, "", Order{})
	if err != nil {
		return err
	}
	for _, is := range issuers {
		for _, k := range is.Keys {
			open("issuer key", k.Private, "issuer-key", is.ID, k.Kid)
		}
	}
	verifiers, err := Verifiers.List(tx, "", Order{})
	if err != nil {
		return err
	}
	for _, v := range verifiers {
		if len(v.WebhookSecret) > 0 {
			open("webhook secret", v.WebhookSecret, "verifier-webhook", v.ID)
		}
	}
	for _, r := range samples[Credentials.Kind().Name] {
		c, err := Credentials.decode(r.Body)
		if err != nil {
			return fmt.Errorf("credential %s: %w", Describe(r.Key), err)
		}
		open("credential claims", c.Claims, "credential", c.ID, c.HolderID)
	}
	for _, r := range samples[CredentialCopies.Kind().Name] {
		open("credential copy", r.Body, "credential-copy", r.Key[0].(string), r.Key[1].(string))
	}
	for _, r := range samples[Shares.Kind().Name] {
		sh, err := Shares.decode(r.Body)
		if err != nil {
			return fmt.Errorf("share %s: %w", Describe(r.Key), err)
		}
		for _, it := range sh.Items {
			if len(it.Presentation) > 0 {
				open("share item", it.Presentation, "share-item", sh.ID, it.CredentialID)
			}
		}
	}
	for _, r := range samples[ShareDocuments.Kind().Name] {
		id := r.Key[0].(string)
		docs, err := ShareDocuments.decode(r.Body)
		if err != nil {
			return fmt.Errorf("share documents %s: %w", id, err)
		}
		// The documents of a share, or of an answered request: the
		// items name the credential each document is bound to.
		var items []ShareItem
		if sh, err := Shares.Get(tx, id); err == nil {
			items = sh.Items
		} else if !errors.Is(err, ErrNotFound) {
			return err
		} else if req, err := Requests.Get(tx, id); err == nil {
			items = req.Items
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if len(items) != len(docs) {
			rep.problem("share documents %s: %d documents for %d items", id, len(docs), len(items))
			continue
		}
		for i, d := range docs {
			open("share document", d, "share-document", id, items[i].CredentialID)
		}
	}
	return nil
}
