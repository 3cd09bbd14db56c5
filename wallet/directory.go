package wallet

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// The verifier directory answers the consent screen's question, who could
// redeem a share not bound to a verifier (redeemable_by: every active
// verifier registered for all of its claims, SPEC §3.7), without reading
// every verifier at every share creation: a country has hundreds of
// thousands of shops, and shares are created at the rate of scans.
//
// Each process keeps the active verifiers in memory, with the answer for
// each claim set asked so far. Every write that changes what the directory
// shows (a verifier created or changed: changeVerifier) also puts a new
// random version under verifiersVersion in the same transaction; a share
// creation reads that version in its read transaction and loads the list
// again, in that transaction, when it differs from the one loaded. So a
// change made on any replica shows at the next share creation on every
// replica. The list is also loaded again after directoryMaxAge, so that a
// change written without a version (a binary from before it, during a
// rolling upgrade) shows too.
//
// The answer names at most maxRedeemableBy verifiers, by name then id,
// and says how many there are in all.

// maxRedeemableBy bounds the verifiers a share creation names.
const maxRedeemableBy = 50

// verifiersVersion is the Meta entry that changes with the directory.
const verifiersVersion = "verifiers_version"

// directoryMaxAge is how long a loaded directory is used at most.
const directoryMaxAge = 10 * time.Minute

// maxDirectoryAnswers bounds the claim sets whose answers are kept; past
// it they are computed again.
const maxDirectoryAnswers = 1024

type directory struct {
	mu       sync.Mutex
	version  []byte // nil: none loaded
	loadedAt time.Time
	active   []listed             // not retired, by name then id
	answers  map[string]redeemers // by claim set (claimSetKey)
}

// listed is what the directory keeps of a verifier.
type listed struct {
	party  api.VerifierParty
	claims map[string][]string
}

// redeemers are the verifiers a claim set's share could be redeemed by.
type redeemers struct {
	first []api.VerifierParty // at most maxRedeemableBy
	total int
}

// touchVerifiers gives the directory a new version, in the transaction
// of a write that changes it.
func (s *Service) touchVerifiers(tx Tx) error {
	v := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, v); err != nil {
		return err
	}
	return Meta.Put(tx, v, verifiersVersion)
}

// redeemers are the active verifiers registered for every claim of set,
// read through the directory in tx.
func (s *Service) redeemers(tx Tx, set map[string][]string, now time.Time) (redeemers, error) {
	version, err := Meta.Get(tx, verifiersVersion)
	switch {
	case errors.Is(err, ErrNotFound):
		version = []byte{} // no change recorded yet
	case err != nil:
		return redeemers{}, err
	}
	d := &s.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.version == nil || !bytes.Equal(d.version, version) || now.Sub(d.loadedAt) >= directoryMaxAge {
		all, err := Verifiers.List(tx, "", Order{})
		if err != nil {
			return redeemers{}, err
		}
		active := make([]listed, 0, len(all))
		for _, v := range all {
			if v.Retired == nil {
				active = append(active, listed{verifierParty(v), v.Claims})
			}
		}
		slices.SortFunc(active, func(a, b listed) int {
			return cmp.Or(strings.Compare(a.party.Name, b.party.Name), strings.Compare(a.party.ID, b.party.ID))
		})
		d.version, d.loadedAt, d.active, d.answers = version, now, active, map[string]redeemers{}
	}
	key := claimSetKey(set)
	if r, ok := d.answers[key]; ok {
		return r, nil
	}
	r := redeemers{first: []api.VerifierParty{}}
	for _, v := range d.active {
		if covers(v.claims, set) {
			if r.total < maxRedeemableBy {
				r.first = append(r.first, v.party)
			}
			r.total++
		}
	}
	if len(d.answers) >= maxDirectoryAnswers {
		clear(d.answers)
	}
	d.answers[key] = r
	return r, nil
}

// claimSetKey names a claim set, whatever the order of its types and
// claims.
func claimSetKey(set map[string][]string) string {
	var parts []string
	for typ, names := range set {
		for _, n := range names {
			parts = append(parts, typ+"\x00"+n)
		}
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), "\x01")
}
