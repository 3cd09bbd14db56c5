package wallet

import (
	"context"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// Store is the persistence the service needs (CONVENTIONS: the domain owns
// its storage contract). Implementations live in bolt/ and postgres/ and
// pass the same contract suite, wallet/storetest.
//
// Every write is durable when Update or Batch returns nil: the service
// answers only after that (SPEC §3.3 step 4, THREATS T31).
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it durably
	// when fn returns nil; any error rolls it back. A store may run fn more
	// than once (PostgreSQL retries serialization failures), so fn sets,
	// rather than accumulates, what it hands out.
	Update(ctx context.Context, fn func(Tx) error) error
	// Batch is Update for small independent transactions that may be
	// committed together, sharing one fsync (redemptions under load). fn
	// may run more than once, so it must only touch the store.
	Batch(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the store can serve (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction. Getters return ErrNotFound for a missing record;
// writers of a unique key return ErrExists when it is taken. Lists are in
// the order documented on each method.
type Tx interface {
	Issuer(id string) (*Issuer, error)
	Issuers() ([]*Issuer, error) // by id
	PutIssuer(*Issuer) error

	Verifier(id string) (*Verifier, error)
	Verifiers() ([]*Verifier, error) // by id
	PutVerifier(*Verifier) error

	APIKey(id string) (*APIKey, error)
	APIKeyByHash(hash []byte) (*APIKey, error)
	// PutAPIKey stores a key; a new key whose hash is taken is ErrExists.
	PutAPIKey(*APIKey) error

	Holder(id string) (*Holder, error)
	HolderByCitizen(citizenHash []byte) (*Holder, error)
	// PutHolder stores a holder; a new holder whose citizen hash is taken
	// is ErrExists.
	PutHolder(*Holder) error

	Device(id string) (*Device, error)
	Devices(holderID string) ([]*Device, error) // oldest first
	PutDevice(*Device) error

	ActivationCode(hash []byte) (*ActivationCode, error)
	PutActivationCode(*ActivationCode) error

	Credential(id string) (*Credential, error)
	Credentials(holderID string) ([]*Credential, error) // oldest first
	PutCredential(*Credential) error
	// CredentialCopy, PutCredentialCopy and DeleteCredentialCopy keep the
	// sealed SD-JWT each device holds of a credential, as raw bytes apart
	// from the credential record. Deleting a missing copy is not an error.
	CredentialCopy(credentialID, deviceID string) ([]byte, error)
	PutCredentialCopy(credentialID, deviceID string, sealed []byte) error
	DeleteCredentialCopy(credentialID, deviceID string) error

	Share(id string) (*Share, error)
	ShareByToken(tokenHash []byte) (*Share, error)
	Shares(holderID string) ([]*Share, error) // newest first
	PutShare(*Share) error
	// ShareDocuments and PutShareDocuments keep the sealed documents of an
	// approved share, one per item, apart from the share: redemptions
	// rewrite the small share record, never these.
	ShareDocuments(shareID string) ([][]byte, error)
	PutShareDocuments(shareID string, docs [][]byte) error

	Request(id string) (*Request, error)
	RequestByToken(tokenHash []byte) (*Request, error)
	// Requests lists the requests addressed to a holder, newest first, at
	// most limit (0: all).
	Requests(holderID string, limit int) ([]*Request, error)
	// PutRequest stores a request; a token hash held by another request is
	// ErrExists. The holder index follows HolderID when it is set later.
	PutRequest(*Request) error

	Presence(tokenHash []byte) (*Presence, error)
	PutPresence(*Presence) error

	StatusList(issuerID string, list int) (*StatusList, error)
	PutStatusList(*StatusList) error
	// AllocateStatusIndex claims index idx of a list for good; ErrExists
	// when it was ever claimed (indices are never reused, SPEC §3.5).
	AllocateStatusIndex(issuerID string, list, idx int) error

	// AppendActivity adds e to its holder's log; ErrExists when an entry
	// with e.Seq exists (the caller chains entries, see Activity).
	AppendActivity(e *api.ActivityEntry) error
	// Activity lists a holder's entries newest first, at most limit (0: all).
	Activity(holderID string, limit int) ([]*api.ActivityEntry, error)

	// AppendVerification adds e to its verifier's log (Seq assigned by the
	// caller as for activity).
	AppendVerification(e *api.Verification) error
	// Verifications lists a verifier's entries newest first, at most limit.
	Verifications(verifierID string, limit int) ([]*api.Verification, error)

	// UseOnce records key as used until expires; ErrExists when it is
	// already recorded and not expired (jti and nonce replay, T11, T12).
	UseOnce(key string, expires time.Time, now time.Time) error

	// Meta and PutMeta keep small service-wide values (the service key).
	Meta(name string) ([]byte, error)
	PutMeta(name string, value []byte) error
}
