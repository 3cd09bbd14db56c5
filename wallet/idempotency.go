package wallet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
)

// Idempotency keys (issue 13; draft-ietf-httpapi-idempotency-key-header):
// an issuance or a share creation sent with a key is answered once; a
// retry with the same key and the same request gets the first answer
// again, and nothing is made twice; the same key with another request is
// refused (422, §2.7). Keys are per caller and per operation, kept
// IdempotencyTTL after the first answer (§2.3: the resource's expiry
// policy), then swept. The answer is stored sealed: a share's holds the
// presentations to sign.

// IdempotencyTTL is how long a key's first answer is kept, at least.
const IdempotencyTTL = 24 * time.Hour

// maxIdempotencyKey bounds a key: printable ASCII (§2.1: an sf-string).
const maxIdempotencyKey = 255

// IdempotentAnswer is the first answer given to a request with a key.
type IdempotentAnswer struct {
	Scope       string // operation, role and caller
	KeyHash     []byte // SHA-256 of the key
	RequestHash []byte // SHA-256 of the request, key left out
	Answer      []byte // its JSON, sealed
	Expires     time.Time
}

// idempotency is one request's key, resolved; nil when it has none.
type idempotency struct {
	scope            string
	keyHash, reqHash []byte
}

// idempotencyOf resolves key for operation op of p over req (whose own
// key field the caller has cleared).
func idempotencyOf(op string, p *Principal, key string, req any) (*idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > maxIdempotencyKey {
		return nil, Errorf(api.CodeInvalidRequest, "idempotency key: at most %d characters", maxIdempotencyKey)
	}
	for i := range len(key) {
		if key[i] < 0x20 || key[i] > 0x7e {
			return nil, Errorf(api.CodeInvalidRequest, "idempotency key: printable ASCII only")
		}
	}
	body, err := json.Marshal(req, json.Deterministic(true))
	if err != nil {
		return nil, err
	}
	kh, rh := sha256.Sum256([]byte(key)), sha256.Sum256(body)
	return &idempotency{scope: op + "|" + string(p.Role) + "|" + p.Subject, keyHash: kh[:], reqHash: rh[:]}, nil
}

func (id *idempotency) ad() string { return id.scope + "|" + hex.EncodeToString(id.keyHash) }

func errIdempotencyReused() error {
	return Errorf(api.CodeIdempotencyReused, "this Idempotency-Key was used with another request")
}

// answered reads, into out, the first answer given under id; false when
// there is none. The same key with another request is refused.
func (s *Service) answered(tx Tx, id *idempotency, out any) (bool, error) {
	if id == nil {
		return false, nil
	}
	a, err := IdempotentAnswers.Get(tx, id.scope, id.keyHash)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !bytes.Equal(a.RequestHash, id.reqHash) {
		return false, errIdempotencyReused()
	}
	raw, err := s.openBytes(a.Answer, "idempotent-answer", id.ad())
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(raw, out)
}

// remember stores, in the write transaction that makes it, the answer
// given under id.
func (s *Service) remember(tx Tx, id *idempotency, answer any, now time.Time) error {
	if id == nil {
		return nil
	}
	raw, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	sealed, err := s.sealBytes(raw, "idempotent-answer", id.ad())
	if err != nil {
		return err
	}
	return IdempotentAnswers.Put(tx, &IdempotentAnswer{Scope: id.scope, KeyHash: id.keyHash, RequestHash: id.reqHash,
		Answer: sealed, Expires: now.Add(IdempotencyTTL)})
}

// sweepIdempotentAnswers deletes the answers past their time.
func (s *Service) sweepIdempotentAnswers(ctx context.Context) {
	sweep(ctx, s, IdempotentAnswers, "idempotency keys", s.now().UTC(), func(a *IdempotentAnswer) time.Time { return a.Expires })
}
