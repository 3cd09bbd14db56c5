package wallet

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// The public documents (an issuer's JWKS and metadata, the trust list,
// status list tokens) are what every relying party fetches, so at
// national scale a CDN serves them (docs/operations.md "CDN and caching")
// and each replica answers the CDN from memory: a request reads the store
// for a document (and signs it, if it is signed) only when the replica
// holds no copy of it younger than half its lifetime and later than the
// replica's own last change to it; requests that find none at the same
// moment each read it. The rest of the lifetime is left to HTTP caches,
// so a copy is never older than its lifetime, counted from the read,
// wherever it was kept (Document.FreshUntil).

// PublicDocTTL is how long a copy of an issuer's JWKS, its metadata or the
// trust list stays fresh. Issuer keys rotate and retire at once (SPEC
// §3.5, RotateIssuerKey): a new key reaches every HTTP cache within this,
// and a retired one leaves them within it.
const PublicDocTTL = 5 * time.Minute

// Document is a public document as served: its exact bytes (shared: never
// modify them), their ETag, and until when a copy is fresh, which is its
// lifetime after the store was read for it.
type Document struct {
	Body       []byte
	ETag       string
	FreshUntil time.Time
}

// ETag is a strong entity tag of body (RFC 9110 §8.8.3), of the public
// documents and of whatever else the server serves with one: 96 bits of
// its SHA-256, base64url, quoted. Two replicas serving the same bytes give
// the same tag; a signed document differs per signature, so each
// replica's copy has its own.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

type docKind uint8

const (
	docStatusList docKind = iota
	docJWKS
	docMetadata
	docTrustList
	docTrustBundle
)

// docKey names a cached document: its kind, the issuer it is of (none for
// the trust list) and, for a status list, the list.
type docKey struct {
	kind   docKind
	issuer string
	list   int
}

type cachedDoc struct {
	doc   Document
	until time.Time // served from memory until then
}

// document returns the document of key from memory, or builds it (reading
// the store), tags it and keeps it for half of ttl. Requests that miss
// together wait for one build (the trust bundle signs every status list).
// A document built while a drop happens is returned to the requests made
// before the drop but not kept: it may have been read before the change
// the drop is for.
func (s *Service) document(key docKey, ttl time.Duration, build func(now time.Time) ([]byte, error)) (Document, error) {
	doc, gen, ok := s.cachedDoc(key)
	if ok {
		return doc, nil
	}
	// A request after a drop never joins a build begun before it.
	v, err, _ := s.building.Do(fmt.Sprintf("%v@%d", key, gen), func() (any, error) {
		if doc, _, ok := s.cachedDoc(key); ok { // built by a flight just ended
			return doc, nil
		}
		now := s.now()
		body, err := build(now)
		if err != nil {
			return Document{}, err
		}
		doc := Document{Body: body, ETag: ETag(body), FreshUntil: now.Add(ttl)}
		s.mu.Lock()
		if s.docsGen == gen {
			s.docs[key] = cachedDoc{doc: doc, until: now.Add(ttl / 2)}
		}
		s.mu.Unlock()
		return doc, nil
	})
	return v.(Document), err
}

// cachedDoc is the document of key kept in memory, if it is still to be
// served, and the drop generation it was looked up in.
func (s *Service) cachedDoc(key docKey) (Document, uint64, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.docs[key]
	return c.doc, s.docsGen, ok && now.Before(c.until)
}

// dropDocs forgets the cached documents drop names. Other replicas keep
// theirs until half their lifetime has passed.
func (s *Service) dropDocs(drop func(docKey) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docsGen++
	for k := range s.docs {
		if drop(k) {
			delete(s.docs, k)
		}
	}
}

// dropStatusTokens forgets an issuer's cached status list tokens, and the
// trust bundle that carries them: a status in one of them changed.
func (s *Service) dropStatusTokens(issuerID string) {
	s.dropDocs(func(k docKey) bool {
		return k.kind == docStatusList && k.issuer == issuerID || k.kind == docTrustBundle
	})
}

// dropIssuerDocs forgets every cached document an issuer's record goes
// into: its JWKS, its metadata, its status list tokens (their signing key
// may have changed) and the trust list.
func (s *Service) dropIssuerDocs(issuerID string) {
	s.dropDocs(func(k docKey) bool { return k.issuer == issuerID || k.kind == docTrustList || k.kind == docTrustBundle })
}
