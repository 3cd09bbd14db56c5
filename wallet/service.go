package wallet

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Config is everything a Service depends on.
type Config struct {
	Store     Store
	Keys      *Keys                 // from DeriveKeys(master key)
	PublicURL string                // e.g. https://wallet.example (no trailing slash)
	Types     *credentials.Registry // credential types
	Now       func() time.Time      // the clock (time.Now)
	Rand      io.Reader             // crypto/rand.Reader
	Logger    *slog.Logger
	Sealer    Sealer // nil: AES-256-GCM with Keys.Seal
	// WebhookRetries are the waits between webhook attempts (nil:
	// DefaultWebhookRetries). Webhooks go only to https on public unicast
	// addresses, checked on the address dialled (SPEC §6); there is no
	// client to inject, so nothing can bypass that check.
	WebhookRetries []time.Duration
	// AllowLoopbackWebhooks also lets webhooks go to loopback addresses,
	// over http or https: development and tests only, never private or
	// link-local ranges.
	AllowLoopbackWebhooks bool
	// OutboundRoots are the CAs outbound TLS connections (webhooks,
	// OpenID4VP request objects and responses) trust; nil: the system's.
	OutboundRoots *x509.CertPool
	// VerifierTrustAnchors are the CAs whose verifiers' OpenID4VP
	// requests (x509_san_dns, x509_hash) the holder's wallet side takes,
	// beside this service's own verifier CA.
	VerifierTrustAnchors []*x509.Certificate
	// Notifier wakes long-polls and event streams when what they wait
	// for changes (nil: an in-process Hub, enough for one process on
	// bbolt). Replicas over one database need one that reaches them all:
	// postgres.Notifier, or a polling Hub (NewHub(time.Second)).
	Notifier Notifier
	// BatchSize is how many batch copies of each credential a device with
	// a key pool holds (issue 12; 0: DefaultBatchSize).
	BatchSize int
	// StatsThreshold is the least count the usage statistics show (0:
	// DefaultStatsThreshold). Tests lower it to read exact counts; a
	// deployment keeps the default.
	StatsThreshold int
}

// Service runs the flows of SPEC §3. It is safe for concurrent use.
type Service struct {
	store Store
	keys  *Keys
	seal  Sealer
	url   string
	types *credentials.Registry
	// typeDocs are the type metadata documents, by the segment of their
	// URL after TypeMetadataPath (types.go).
	typeDocs map[string]Document
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger

	// logTick orders the verifier-log entries this process appends
	// within one millisecond (verificationSeq).
	logTick atomic.Uint64

	serviceKey *ecdsa.PrivateKey // signs access tokens
	serviceKid string
	attestKey  *ecdsa.PrivateKey // signs compact shares (EIDC1:, offline.go)

	mu         sync.Mutex
	signers    map[string]*ecdsa.PrivateKey // issuer kid → unsealed key (kids are content-addressed, so entries never go stale)
	publicKeys map[string]*ecdsa.PublicKey  // issuer kid → parsed public key
	docs       map[docKey]cachedDoc         // public documents served from memory (public.go)
	docsGen    uint64                       // counts drops of docs
	building   singleflight.Group           // builds of docs, one per key at a time
	ca         *verifierCAKeys              // the verifier CA, once loaded (openid4vp.go)

	verifierAnchors []*x509.Certificate     // Config.VerifierTrustAnchors
	statusCache     map[string]cachedStatus // external issuers' status lists, by uri (external.go)
	refreshing      atomic.Bool             // a refresh of external issuers' keys is running

	notifier Notifier // wakes long-polls and event streams
	webhooks webhooks

	usage        tally       // refusals counted in memory until written (usage.go)
	threshold    int         // Config.StatsThreshold
	batch        int         // Config.BatchSize
	deviceThumbs sync.Map    // device id → its key's RFC 7638 thumbprint
	refills      refillQueue // devices whose batch copies to top up (batch.go)
	directory    directory   // who could redeem an unbound share (directory.go)
	keyCache     keyCache    // API keys that authenticated (keycache.go)
	signing      sync.Mutex  // held by the batch being signed (signAll)
}

// Timing and size rules of SPEC §3 and §4.
const (
	ActivationCodeTTL = 15 * time.Minute
	AccessTokenTTL    = 10 * time.Minute
	MaxAssertionTTL   = 5 * time.Minute
	DefaultShareTTL   = 60 * time.Second
	MaxShareTTL       = 300 * time.Second
	ApprovalWindow    = 5 * time.Minute // a share not approved by then expires
	MaxShareUses      = 100
	MaxShareItems     = 8
	StatusListSize    = 1 << 20 // entries per status list
	StatusListTTL     = 5 * time.Minute
	clockSkew         = 60 * time.Second
)

// New returns a service over cfg, creating the service signing key on the
// first start.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Types == nil || cfg.Rand == nil || cfg.PublicURL == "" {
		return nil, errors.New("wallet: store, keys, types, rand and public URL are required")
	}
	s := &Service{
		store: cfg.Store, keys: cfg.Keys, seal: cfg.Sealer, url: strings.TrimSuffix(cfg.PublicURL, "/"),
		types: cfg.Types, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger, notifier: cfg.Notifier,
		keyCache: keyCache{max: keyCacheSize},
		signers:  map[string]*ecdsa.PrivateKey{}, publicKeys: map[string]*ecdsa.PublicKey{}, docs: map[docKey]cachedDoc{},
		statusCache: map[string]cachedStatus{},
	}
	s.logTick.Store(mrand.Uint64()) // apart from other replicas' ticks
	if s.now == nil {
		s.now = time.Now
	}
	s.threshold = cmp.Or(cfg.StatsThreshold, DefaultStatsThreshold)
	if s.threshold < 1 {
		return nil, fmt.Errorf("wallet: stats threshold %d: at least 1", s.threshold)
	}
	s.batch = cmp.Or(cfg.BatchSize, DefaultBatchSize)
	if s.batch < 1 || s.batch > MaxBatchSize {
		return nil, fmt.Errorf("wallet: batch size %d: 1 to %d", s.batch, MaxBatchSize)
	}
	s.refills.devices, s.refills.kick = map[string]bool{}, make(chan struct{}, 1)
	var err error
	if s.typeDocs, err = buildTypeDocs(s.url, s.types); err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.notifier == nil {
		s.notifier = NewHub(0)
	}
	if s.seal == nil {
		aes, err := NewAESGCM(cfg.Keys.Seal, cfg.Rand)
		if err != nil {
			return nil, err
		}
		s.seal = aes
	}
	if err := s.loadServiceKey(ctx); err != nil {
		return nil, err
	}
	s.webhooks = newWebhooks(cfg.AllowLoopbackWebhooks, cfg.WebhookRetries, cfg.OutboundRoots)
	s.verifierAnchors = cfg.VerifierTrustAnchors
	s.startDispatcher()
	return s, nil
}

// PublicURL is the base URL the service is reached at.
func (s *Service) PublicURL() string { return s.url }

// TokenEndpoint is the aud of device assertions (SPEC §3.1).
func (s *Service) TokenEndpoint() string { return s.url + "/v1/token" }

// VerifyEndpoint is the aud of shares made for any verifier (SPEC §3.3).
func (s *Service) VerifyEndpoint() string { return s.url + "/v1/verify" }

// IssuerURL is the iss of an issuer's credentials.
func (s *Service) IssuerURL(id string) string { return s.url + "/issuers/" + id }

// StatusListURL is the uri of an issuer's status list.
func (s *Service) StatusListURL(issuerID string, list int) string {
	return fmt.Sprintf("%s/status-lists/%s/%d", s.url, issuerID, list)
}

// Types returns the credential type registry.
func (s *Service) Types() *credentials.Registry { return s.types }

const metaServiceKey = "service_key"

// Sealed reports whether store already holds records sealed with a
// master key (the service key, made at the first start): a start that
// finds no key file must then not make a new one, which would open none
// of them.
func Sealed(ctx context.Context, store Store) (bool, error) {
	err := store.View(ctx, func(tx Tx) error {
		_, err := Meta.Get(tx, metaServiceKey)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// loadServiceKey unseals the access-token signing key, or makes it, and
// the presentation-attestation key of compact shares (offline.go).
func (s *Service) loadServiceKey(ctx context.Context) error {
	key, err := s.loadKey(ctx, metaServiceKey)
	if err != nil {
		return fmt.Errorf("service key: %w", err)
	}
	kid, err := credentials.Thumbprint(&key.PublicKey)
	if err != nil {
		return err
	}
	s.serviceKey, s.serviceKid = key, kid
	if s.attestKey, err = s.loadKey(ctx, metaAttestationKey); err != nil {
		return fmt.Errorf("attestation key: %w", err)
	}
	return nil
}

// loadKey unseals the P-256 key kept in meta under name, making it on
// the first start (one replica's, when two start at once: the Update
// reads it again).
func (s *Service) loadKey(ctx context.Context, name string) (*ecdsa.PrivateKey, error) {
	ad := []byte("meta|" + name)
	var key *ecdsa.PrivateKey
	err := s.store.Update(ctx, func(tx Tx) error {
		sealed, err := Meta.Get(tx, name)
		if errors.Is(err, ErrNotFound) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			if sealed, err = s.seal.Seal(der, ad); err != nil {
				return err
			}
			if err := Meta.Put(tx, sealed, name); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		key, err = s.unsealKey(sealed, ad)
		return err
	})
	return key, err
}

func (s *Service) unsealKey(sealed, ad []byte) (*ecdsa.PrivateKey, error) {
	der, err := s.seal.Open(sealed, ad)
	if err != nil {
		return nil, err
	}
	return parsePKCS8(der)
}

// idEncoding writes ids and secrets: lower-case base32, no padding, its
// alphabet in ASCII order so that ids sort as the bytes they encode.
var idEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// newID returns prefix_ followed by 128 random bits.
func (s *Service) newID(prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:]), nil
}

// newOrderedID is newID for the records issued in bulk (credentials): its
// first 48 bits are the Unix time in milliseconds, then 80 random bits, as
// in a UUIDv7 (RFC 9562 §5.7). Records made together then sit together in
// the store's index, and issuing appends to it instead of dirtying a page
// at random for every record (the index locality of RFC 9562 §2.1; about
// 40 % less time in the bulk commit). The time told is no news to whoever
// sees the id: the holder and the issuer see when it was issued, and
// verifiers never see a credential's id.
func (s *Service) newOrderedID(prefix string) (string, error) {
	var b [16]byte
	ms := uint64(s.now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	if _, err := io.ReadFull(s.rand, b[6:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:]), nil
}

// newSecret returns 160 random bits for API keys (SPEC §6: 128+ bits from
// crypto/rand).
func (s *Service) newSecret(prefix string) (string, error) {
	var b [20]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// hashSecret is how tokens, keys and codes are stored: they carry 128+
// random bits, so a plain SHA-256 cannot be reversed by search.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// onceKey is how a single-use value (a jti) is recorded: a keyed hash, so
// the store holds none in the clear (SPEC §6), scoped by kind and owner.
func (s *Service) onceKey(kind, owner, value string) string {
	return kind + "|" + hex.EncodeToString(s.indexHash(kind, owner, value))
}

// citizenHash indexes a personal identification number by keyed hash, so
// the store never holds the number itself (SPEC §6, THREATS T25).
func (s *Service) citizenHash(citizenID string) []byte {
	return s.indexHash("citizen", citizenID)
}

// indexHash is the keyed hash (HMAC-SHA-256 under the index key) of parts
// joined by "|": how the store indexes what it must not hold in the clear.
func (s *Service) indexHash(parts ...string) []byte {
	m := hmac.New(sha256.New, s.keys.Index)
	m.Write([]byte(strings.Join(parts, "|")))
	return m.Sum(nil)
}

// sealJSON and openJSON seal records with their associated data.
func (s *Service) sealBytes(b []byte, ad ...string) ([]byte, error) {
	return s.seal.Seal(b, []byte(strings.Join(ad, "|")))
}

// errDamaged is the answer to a stored record that is not what the
// records beside it say it must be: a storage failure, never "not found"
// (fail closed).
func errDamaged() error {
	return &Error{Code: api.CodeStorageUnavailable, Message: "a stored record could not be read"}
}

func (s *Service) openBytes(sealed []byte, ad ...string) ([]byte, error) {
	b, err := s.seal.Open(sealed, []byte(strings.Join(ad, "|")))
	if err != nil {
		// A record that does not open was tampered with or moved: fail
		// closed and say so in the log, once (T25).
		s.log.Error("sealed record does not open", "record", ad[0], "id", ad[1])
		return nil, errDamaged()
	}
	return b, nil
}

// storeErr maps a store failure to the client answer: not found stays not
// found, anything else is logged and answered 503 (SPEC §5).
func (s *Service) storeErr(ctx context.Context, err error, what string) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	s.log.ErrorContext(ctx, "store", "op", what, "err", err)
	return &Error{Code: api.CodeStorageUnavailable, Message: "storage is unavailable"}
}

// Ready reports whether the service can serve (the store answers).
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return s.storeErr(ctx, err, "ping")
	}
	return nil
}
