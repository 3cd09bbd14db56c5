package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
)

// tx is a wallet.Tx over one bbolt transaction. Every writer checks its
// unique keys before it writes anything, so a put that returns ErrExists
// leaves the transaction as it was even when the caller goes on and
// commits.
type tx struct {
	btx *bbolt.Tx
}

var _ wallet.Tx = (*tx)(nil)

// pruneBatch is how many expired UseOnce entries each UseOnce call removes:
// more than the one it adds, so the bucket shrinks back to the live entries
// without a sweeper (the contract has no delete).
const pruneBatch = 8

// maxOnceKey bounds UseOnce keys, well under bbolt's key limit.
const maxOnceKey = 4096

// b returns a bucket Open created.
func (t *tx) b(name string) *bbolt.Bucket { return t.btx.Bucket([]byte(name)) }

// --- generic helpers --------------------------------------------------------

// getByID returns the record of kind at id, or ErrNotFound.
func getByID[T any](t *tx, bucket, kind, id string) (*T, error) {
	rec, err := getJSON[T](t.b(bucket), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("bolt: get %s %q: %w", kind, id, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("bolt: %s %q: %w", kind, id, wallet.ErrNotFound)
	}
	return rec, nil
}

// putByID stores a record of kind that has no index.
func putByID(t *tx, bucket, kind, id string, rec any) error {
	if err := checkID(kind, id); err != nil {
		return err
	}
	if err := putJSON(t.b(bucket), []byte(id), rec); err != nil {
		return fmt.Errorf("bolt: put %s %q: %w", kind, id, err)
	}
	return nil
}

// listAll returns every record of a bucket in key order.
func listAll[T any](t *tx, bucket, kind string) ([]*T, error) {
	out := []*T{}
	err := t.b(bucket).ForEach(func(k, v []byte) error {
		rec := new(T)
		if err := json.Unmarshal(v, rec); err != nil {
			return fmt.Errorf("bolt: list %s: decode %q: %w", kind, k, err)
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listOwned follows the owner index of a record kind (keys ownerTimeKey)
// and loads each record: oldest first, or newest first; at most limit
// records (all when limit <= 0).
func listOwned[T any](t *tx, index, bucket, kind, owner string, newestFirst bool, limit int) ([]*T, error) {
	prefix := ownerPrefix(owner)
	recs := t.b(bucket)
	c := t.b(index).Cursor()
	out := []*T{}
	var k []byte
	if newestFirst {
		k, _ = lastWithPrefix(c, prefix)
	} else {
		k, _ = c.Seek(prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k = step(c, newestFirst) {
		if limit > 0 && len(out) == limit {
			break
		}
		id := k[len(prefix)+timeLen:]
		rec, err := getJSON[T](recs, id)
		if err != nil {
			return nil, fmt.Errorf("bolt: list %s of %q: %s %q: %w", kind, owner, kind, id, err)
		}
		if rec == nil {
			return nil, fmt.Errorf("bolt: list %s of %q: index names missing %s %q", kind, owner, kind, id)
		}
		out = append(out, rec)
	}
	return out, nil
}

// listLog walks a log bucket (keys seqKey) newest first, at most limit
// entries (all when limit <= 0).
func listLog[T any](t *tx, bucket, kind, owner string, limit int) ([]*T, error) {
	prefix := ownerPrefix(owner)
	c := t.b(bucket).Cursor()
	out := []*T{}
	for k, v := lastWithPrefix(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if limit > 0 && len(out) == limit {
			break
		}
		rec := new(T)
		if err := json.Unmarshal(v, rec); err != nil {
			return nil, fmt.Errorf("bolt: list %s of %q: decode seq %d: %w", kind, owner, binary.BigEndian.Uint64(k[len(prefix):]), err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// lastWithPrefix positions c on the last key starting with prefix (which
// ends in the 0x00 separator), or wherever Prev from there leads when there
// is none: the caller checks the prefix.
func lastWithPrefix(c *bbolt.Cursor, prefix []byte) ([]byte, []byte) {
	// The same owner followed by 0x01 sorts after every key of the owner
	// and before any key of another owner that sorts after it.
	end := bytes.Clone(prefix)
	end[len(end)-1] = 1
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

func step(c *bbolt.Cursor, back bool) []byte {
	if back {
		k, _ := c.Prev()
		return k
	}
	k, _ := c.Next()
	return k
}

// moveKey replaces oldKey by newKey in an index (oldKey nil: none before;
// newKey nil: none after).
func moveKey(idx *bbolt.Bucket, oldKey, newKey, value []byte) error {
	if oldKey != nil && !bytes.Equal(oldKey, newKey) {
		if err := idx.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey != nil {
		return idx.Put(newKey, value)
	}
	return nil
}

// takenByOther reports whether a unique index holds key for another id.
func takenByOther(idx *bbolt.Bucket, key []byte, id string) bool {
	cur := idx.Get(key)
	return cur != nil && string(cur) != id
}

func errNil(kind string) error { return fmt.Errorf("bolt: put %s: nil record", kind) }

// --- issuers and verifiers --------------------------------------------------

func (t *tx) Issuer(id string) (*wallet.Issuer, error) {
	return getByID[wallet.Issuer](t, bucketIssuers, "issuer", id)
}

// Issuers lists every issuer by id (byte order).
func (t *tx) Issuers() ([]*wallet.Issuer, error) {
	return listAll[wallet.Issuer](t, bucketIssuers, "issuers")
}

func (t *tx) PutIssuer(i *wallet.Issuer) error {
	if i == nil {
		return errNil("issuer")
	}
	return putByID(t, bucketIssuers, "issuer", i.ID, i)
}

func (t *tx) Verifier(id string) (*wallet.Verifier, error) {
	return getByID[wallet.Verifier](t, bucketVerifiers, "verifier", id)
}

// Verifiers lists every verifier by id (byte order).
func (t *tx) Verifiers() ([]*wallet.Verifier, error) {
	return listAll[wallet.Verifier](t, bucketVerifiers, "verifiers")
}

func (t *tx) PutVerifier(v *wallet.Verifier) error {
	if v == nil {
		return errNil("verifier")
	}
	return putByID(t, bucketVerifiers, "verifier", v.ID, v)
}

// --- API keys and holders: records with one unique hash ---------------------

func (t *tx) APIKey(id string) (*wallet.APIKey, error) {
	return getByID[wallet.APIKey](t, bucketAPIKeys, "api key", id)
}

func (t *tx) APIKeyByHash(hash []byte) (*wallet.APIKey, error) {
	// The hash is left out of errors: it stands for a secret.
	if len(hash) == 0 {
		return nil, fmt.Errorf("bolt: api key by hash: %w", wallet.ErrNotFound)
	}
	id := t.b(bucketAPIKeysByHash).Get(hash)
	if id == nil {
		return nil, fmt.Errorf("bolt: api key by hash: %w", wallet.ErrNotFound)
	}
	return getByID[wallet.APIKey](t, bucketAPIKeys, "api key", string(id))
}

// PutAPIKey stores k; ErrExists when another key has its hash. Re-putting
// a key (revoking it) is an update; a changed hash moves the index entry.
func (t *tx) PutAPIKey(k *wallet.APIKey) error {
	if k == nil {
		return errNil("api key")
	}
	old, err := t.uniquePrecheck("api key", bucketAPIKeys, bucketAPIKeysByHash, k.ID, k.Hash)
	if err != nil {
		return err
	}
	var oldHash []byte
	if old != nil {
		o := new(wallet.APIKey)
		if err := json.Unmarshal(old, o, jsonOpts); err != nil {
			return fmt.Errorf("bolt: put api key %q: decode old: %w", k.ID, err)
		}
		oldHash = o.Hash
	}
	return t.uniquePut("api key", bucketAPIKeys, bucketAPIKeysByHash, k.ID, oldHash, k.Hash, k)
}

func (t *tx) Holder(id string) (*wallet.Holder, error) {
	return getByID[wallet.Holder](t, bucketHolders, "holder", id)
}

func (t *tx) HolderByCitizen(citizenHash []byte) (*wallet.Holder, error) {
	if len(citizenHash) == 0 {
		return nil, fmt.Errorf("bolt: holder by citizen: %w", wallet.ErrNotFound)
	}
	id := t.b(bucketHoldersByCitizen).Get(citizenHash)
	if id == nil {
		return nil, fmt.Errorf("bolt: holder by citizen: %w", wallet.ErrNotFound)
	}
	return getByID[wallet.Holder](t, bucketHolders, "holder", string(id))
}

// PutHolder stores h; ErrExists when another holder has its citizen hash.
// The hash of a holder never changes, but if it did the index would follow.
func (t *tx) PutHolder(h *wallet.Holder) error {
	if h == nil {
		return errNil("holder")
	}
	old, err := t.uniquePrecheck("holder", bucketHolders, bucketHoldersByCitizen, h.ID, h.CitizenHash)
	if err != nil {
		return err
	}
	var oldHash []byte
	if old != nil {
		o := new(wallet.Holder)
		if err := json.Unmarshal(old, o, jsonOpts); err != nil {
			return fmt.Errorf("bolt: put holder %q: decode old: %w", h.ID, err)
		}
		oldHash = o.CitizenHash
	}
	return t.uniquePut("holder", bucketHolders, bucketHoldersByCitizen, h.ID, oldHash, h.CitizenHash, h)
}

// uniquePrecheck validates a record with a required unique hash and
// returns the stored record's raw bytes, if any; ErrExists when another
// record holds the hash.
func (t *tx) uniquePrecheck(kind, bucket, index, id string, hash []byte) ([]byte, error) {
	if err := checkID(kind, id); err != nil {
		return nil, err
	}
	if len(hash) == 0 {
		return nil, fmt.Errorf("bolt: put %s %q: empty hash", kind, id)
	}
	if takenByOther(t.b(index), hash, id) {
		return nil, fmt.Errorf("bolt: put %s %q: hash taken: %w", kind, id, wallet.ErrExists)
	}
	return t.b(bucket).Get([]byte(id)), nil
}

// uniquePut writes a record and points its unique index at it.
func (t *tx) uniquePut(kind, bucket, index, id string, oldHash, hash []byte, rec any) error {
	// Keys and values handed to bbolt must stay unchanged until commit:
	// copy the caller's hash.
	if err := moveKey(t.b(index), oldHash, bytes.Clone(hash), []byte(id)); err != nil {
		return fmt.Errorf("bolt: put %s %q: index: %w", kind, id, err)
	}
	if err := putJSON(t.b(bucket), []byte(id), rec); err != nil {
		return fmt.Errorf("bolt: put %s %q: %w", kind, id, err)
	}
	return nil
}

// --- devices, credentials, shares: records listed per holder ----------------

func (t *tx) Device(id string) (*wallet.Device, error) {
	return getByID[wallet.Device](t, bucketDevices, "device", id)
}

// Devices lists a holder's devices oldest first (Created, then id).
func (t *tx) Devices(holderID string) ([]*wallet.Device, error) {
	return listOwned[wallet.Device](t, bucketDevicesByHolder, bucketDevices, "device", holderID, false, 0)
}

func (t *tx) PutDevice(d *wallet.Device) error {
	if d == nil {
		return errNil("device")
	}
	if err := checkID("device", d.ID); err != nil {
		return err
	}
	if err := checkID("device holder", d.HolderID); err != nil {
		return err
	}
	old, err := getJSON[wallet.Device](t.b(bucketDevices), []byte(d.ID))
	if err != nil {
		return fmt.Errorf("bolt: put device %q: old: %w", d.ID, err)
	}
	var oldKey []byte
	if old != nil {
		oldKey = ownerTimeKey(old.HolderID, old.Created, old.ID)
	}
	return t.ownedPut("device", bucketDevices, bucketDevicesByHolder, d.ID, oldKey, ownerTimeKey(d.HolderID, d.Created, d.ID), d)
}

func (t *tx) Credential(id string) (*wallet.Credential, error) {
	return getByID[wallet.Credential](t, bucketCredentials, "credential", id)
}

// Credentials lists a holder's credentials oldest first (IssuedAt, then
// id: a credential has no other creation time).
func (t *tx) Credentials(holderID string) ([]*wallet.Credential, error) {
	return listOwned[wallet.Credential](t, bucketCredsByHolder, bucketCredentials, "credential", holderID, false, 0)
}

func (t *tx) PutCredential(c *wallet.Credential) error {
	if c == nil {
		return errNil("credential")
	}
	if err := checkID("credential", c.ID); err != nil {
		return err
	}
	if err := checkID("credential holder", c.HolderID); err != nil {
		return err
	}
	old, err := getJSON[struct {
		ID       string    `json:"id"`
		HolderID string    `json:"holder_id"`
		IssuedAt time.Time `json:"issued_at"`
	}](t.b(bucketCredentials), []byte(c.ID))
	if err != nil {
		return fmt.Errorf("bolt: put credential %q: old: %w", c.ID, err)
	}
	var oldKey []byte
	if old != nil {
		oldKey = ownerTimeKey(old.HolderID, old.IssuedAt, old.ID)
	}
	return t.ownedPut("credential", bucketCredentials, bucketCredsByHolder, c.ID, oldKey, ownerTimeKey(c.HolderID, c.IssuedAt, c.ID), c)
}

// copyKey is credential id ‖ 0 ‖ device id; ids hold no NUL (checkID).
func copyKey(credentialID, deviceID string) ([]byte, error) {
	if err := checkID("credential", credentialID); err != nil {
		return nil, err
	}
	if err := checkID("device", deviceID); err != nil {
		return nil, err
	}
	return []byte(credentialID + "\x00" + deviceID), nil
}

func (t *tx) CredentialCopy(credentialID, deviceID string) ([]byte, error) {
	k, err := copyKey(credentialID, deviceID)
	if err != nil {
		return nil, err
	}
	v := t.b(bucketCredentialCopies).Get(k)
	if v == nil {
		return nil, fmt.Errorf("bolt: credential copy %q/%q: %w", credentialID, deviceID, wallet.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (t *tx) PutCredentialCopy(credentialID, deviceID string, sealed []byte) error {
	k, err := copyKey(credentialID, deviceID)
	if err != nil {
		return err
	}
	if err := t.b(bucketCredentialCopies).Put(k, bytes.Clone(sealed)); err != nil {
		return fmt.Errorf("bolt: put credential copy %q/%q: %w", credentialID, deviceID, err)
	}
	return nil
}

func (t *tx) DeleteCredentialCopy(credentialID, deviceID string) error {
	k, err := copyKey(credentialID, deviceID)
	if err != nil {
		return err
	}
	if err := t.b(bucketCredentialCopies).Delete(k); err != nil {
		return fmt.Errorf("bolt: delete credential copy %q/%q: %w", credentialID, deviceID, err)
	}
	return nil
}

func (t *tx) Share(id string) (*wallet.Share, error) {
	return getByID[wallet.Share](t, bucketShares, "share", id)
}

func (t *tx) ShareByToken(tokenHash []byte) (*wallet.Share, error) {
	if len(tokenHash) == 0 {
		return nil, fmt.Errorf("bolt: share by token: %w", wallet.ErrNotFound)
	}
	id := t.b(bucketSharesByToken).Get(tokenHash)
	if id == nil {
		return nil, fmt.Errorf("bolt: share by token: %w", wallet.ErrNotFound)
	}
	return getByID[wallet.Share](t, bucketShares, "share", string(id))
}

// Shares lists a holder's shares newest first (Created, then id, both
// descending).
func (t *tx) Shares(holderID string) ([]*wallet.Share, error) {
	return listOwned[wallet.Share](t, bucketSharesByHolder, bucketShares, "share", holderID, true, 0)
}

// PutShare stores s. A pending share has no token hash and no token index
// entry; the update that approves it adds one. ErrExists when another share
// has the token hash (128 random bits: only a bug gets there).
func (t *tx) PutShare(s *wallet.Share) error {
	if s == nil {
		return errNil("share")
	}
	if err := checkID("share", s.ID); err != nil {
		return err
	}
	if err := checkID("share holder", s.HolderID); err != nil {
		return err
	}
	tokens := t.b(bucketSharesByToken)
	if len(s.TokenHash) > 0 && takenByOther(tokens, s.TokenHash, s.ID) {
		return fmt.Errorf("bolt: put share %q: token hash taken: %w", s.ID, wallet.ErrExists)
	}
	// Only the indexed fields of the stored share are needed.
	old, err := getJSON[struct {
		ID        string    `json:"id"`
		HolderID  string    `json:"holder_id"`
		Created   time.Time `json:"created"`
		TokenHash []byte    `json:"token_hash"`
	}](t.b(bucketShares), []byte(s.ID))
	if err != nil {
		return fmt.Errorf("bolt: put share %q: old: %w", s.ID, err)
	}
	var oldKey, oldToken []byte
	if old != nil {
		oldKey = ownerTimeKey(old.HolderID, old.Created, old.ID)
		oldToken = old.TokenHash
	}
	if err := moveToken(tokens, oldToken, s.TokenHash, s.ID); err != nil {
		return fmt.Errorf("bolt: put share %q: token index: %w", s.ID, err)
	}
	return t.ownedPut("share", bucketShares, bucketSharesByHolder, s.ID, oldKey, ownerTimeKey(s.HolderID, s.Created, s.ID), s)
}

// moveToken points a token index at id for newToken in place of oldToken;
// an empty token has no entry. The caller checked takenByOther.
func moveToken(tokens *bbolt.Bucket, oldToken, newToken []byte, id string) error {
	var o, n []byte
	if len(oldToken) > 0 {
		o = oldToken
	}
	if len(newToken) > 0 {
		// Keys handed to bbolt must stay unchanged until commit: copy the
		// caller's hash.
		n = bytes.Clone(newToken)
	}
	return moveKey(tokens, o, n, []byte(id))
}

// Share documents are opaque sealed blobs, stored as they are, each
// prefixed by its length (uvarint): no JSON and no base64 to undo on the
// redemption path.
func (t *tx) ShareDocuments(shareID string) ([][]byte, error) {
	v := t.b(bucketShareDocuments).Get([]byte(shareID))
	if v == nil {
		return nil, fmt.Errorf("bolt: share documents %q: %w", shareID, wallet.ErrNotFound)
	}
	var docs [][]byte
	for len(v) > 0 {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			return nil, fmt.Errorf("bolt: share documents %q: corrupt framing", shareID)
		}
		docs = append(docs, bytes.Clone(v[k:k+int(n)]))
		v = v[k+int(n):]
	}
	return docs, nil
}

func (t *tx) PutShareDocuments(shareID string, docs [][]byte) error {
	if err := checkID("share", shareID); err != nil {
		return err
	}
	v := []byte{}
	for _, d := range docs {
		v = binary.AppendUvarint(v, uint64(len(d)))
		v = append(v, d...)
	}
	if err := t.b(bucketShareDocuments).Put([]byte(shareID), v); err != nil {
		return fmt.Errorf("bolt: put share documents %q: %w", shareID, err)
	}
	return nil
}

// --- requests ---------------------------------------------------------------

func (t *tx) Request(id string) (*wallet.Request, error) {
	return getByID[wallet.Request](t, bucketRequests, "request", id)
}

func (t *tx) RequestByToken(tokenHash []byte) (*wallet.Request, error) {
	// The hash is left out of errors: it stands for a secret.
	if len(tokenHash) == 0 {
		return nil, fmt.Errorf("bolt: request by token: %w", wallet.ErrNotFound)
	}
	id := t.b(bucketRequestsByToken).Get(tokenHash)
	if id == nil {
		return nil, fmt.Errorf("bolt: request by token: %w", wallet.ErrNotFound)
	}
	return getByID[wallet.Request](t, bucketRequests, "request", string(id))
}

// Requests lists the requests addressed to a holder newest first (Created,
// then id, both descending), at most limit (all when limit <= 0).
func (t *tx) Requests(holderID string, limit int) ([]*wallet.Request, error) {
	return listOwned[wallet.Request](t, bucketRequestsByHolder, bucketRequests, "request", holderID, true, limit)
}

// PutRequest stores r. A request without a holder (shown by a verifier,
// not yet resolved) has no holder index entry, and one without a token
// hash (addressed through a presence code) no token index entry; the
// update that sets either adds the entry. ErrExists when another request
// has the token hash.
func (t *tx) PutRequest(r *wallet.Request) error {
	if r == nil {
		return errNil("request")
	}
	if err := checkID("request", r.ID); err != nil {
		return err
	}
	if r.HolderID != "" {
		if err := checkID("request holder", r.HolderID); err != nil {
			return err
		}
	}
	tokens := t.b(bucketRequestsByToken)
	if len(r.TokenHash) > 0 && takenByOther(tokens, r.TokenHash, r.ID) {
		return fmt.Errorf("bolt: put request %q: token hash taken: %w", r.ID, wallet.ErrExists)
	}
	// Only the indexed fields of the stored request are needed.
	old, err := getJSON[struct {
		ID        string    `json:"id"`
		HolderID  string    `json:"holder_id"`
		Created   time.Time `json:"created"`
		TokenHash []byte    `json:"token_hash"`
	}](t.b(bucketRequests), []byte(r.ID))
	if err != nil {
		return fmt.Errorf("bolt: put request %q: old: %w", r.ID, err)
	}
	var oldKey, oldToken, newKey []byte
	if old != nil {
		if old.HolderID != "" {
			oldKey = ownerTimeKey(old.HolderID, old.Created, old.ID)
		}
		oldToken = old.TokenHash
	}
	if r.HolderID != "" {
		newKey = ownerTimeKey(r.HolderID, r.Created, r.ID)
	}
	if err := moveToken(tokens, oldToken, r.TokenHash, r.ID); err != nil {
		return fmt.Errorf("bolt: put request %q: token index: %w", r.ID, err)
	}
	return t.ownedPut("request", bucketRequests, bucketRequestsByHolder, r.ID, oldKey, newKey, r)
}

// ownedPut writes a record and moves its owner index entry (oldKey nil:
// none before; newKey nil: none after).
func (t *tx) ownedPut(kind, bucket, index, id string, oldKey, newKey []byte, rec any) error {
	if err := moveKey(t.b(index), oldKey, newKey, []byte{}); err != nil {
		return fmt.Errorf("bolt: put %s %q: owner index: %w", kind, id, err)
	}
	if err := putJSON(t.b(bucket), []byte(id), rec); err != nil {
		return fmt.Errorf("bolt: put %s %q: %w", kind, id, err)
	}
	return nil
}

// --- activation codes -------------------------------------------------------

func (t *tx) ActivationCode(hash []byte) (*wallet.ActivationCode, error) {
	rec, err := getJSON[wallet.ActivationCode](t.b(bucketActivationCodes), hash)
	if err != nil {
		return nil, fmt.Errorf("bolt: get activation code: %w", err)
	}
	if rec == nil || len(hash) == 0 {
		return nil, fmt.Errorf("bolt: activation code: %w", wallet.ErrNotFound)
	}
	return rec, nil
}

func (t *tx) PutActivationCode(a *wallet.ActivationCode) error {
	if a == nil {
		return errNil("activation code")
	}
	if len(a.Hash) == 0 {
		return errors.New("bolt: put activation code: empty hash")
	}
	if err := putJSON(t.b(bucketActivationCodes), bytes.Clone(a.Hash), a); err != nil {
		return fmt.Errorf("bolt: put activation code for holder %q: %w", a.HolderID, err)
	}
	return nil
}

// --- presence codes ---------------------------------------------------------

// Presence codes are keyed by their token hash, like activation codes.
func (t *tx) Presence(tokenHash []byte) (*wallet.Presence, error) {
	rec, err := getJSON[wallet.Presence](t.b(bucketPresence), tokenHash)
	if err != nil {
		return nil, fmt.Errorf("bolt: get presence: %w", err)
	}
	if rec == nil || len(tokenHash) == 0 {
		return nil, fmt.Errorf("bolt: presence: %w", wallet.ErrNotFound)
	}
	return rec, nil
}

func (t *tx) PutPresence(p *wallet.Presence) error {
	if p == nil {
		return errNil("presence")
	}
	if len(p.TokenHash) == 0 {
		return errors.New("bolt: put presence: empty token hash")
	}
	if err := putJSON(t.b(bucketPresence), bytes.Clone(p.TokenHash), p); err != nil {
		return fmt.Errorf("bolt: put presence for holder %q: %w", p.HolderID, err)
	}
	return nil
}

// --- status lists -----------------------------------------------------------

func (t *tx) StatusList(issuerID string, list int) (*wallet.StatusList, error) {
	rec, err := getJSON[wallet.StatusList](t.b(bucketStatusLists), listKey(issuerID, list))
	if err != nil {
		return nil, fmt.Errorf("bolt: get status list %s/%d: %w", issuerID, list, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("bolt: status list %s/%d: %w", issuerID, list, wallet.ErrNotFound)
	}
	return rec, nil
}

func (t *tx) PutStatusList(l *wallet.StatusList) error {
	if l == nil {
		return errNil("status list")
	}
	if err := checkID("status list issuer", l.IssuerID); err != nil {
		return err
	}
	if err := putJSON(t.b(bucketStatusLists), listKey(l.IssuerID, l.ID), l); err != nil {
		return fmt.Errorf("bolt: put status list %s/%d: %w", l.IssuerID, l.ID, err)
	}
	return nil
}

// AllocateStatusIndex claims idx of a list for good: the key is never
// deleted, so an index is never handed out twice (SPEC §3.5).
func (t *tx) AllocateStatusIndex(issuerID string, list, idx int) error {
	if err := checkID("status list issuer", issuerID); err != nil {
		return err
	}
	if idx < 0 {
		return fmt.Errorf("bolt: allocate status index %s/%d/%d: negative index", issuerID, list, idx)
	}
	b := t.b(bucketStatusIndices)
	k := binary.BigEndian.AppendUint64(listKey(issuerID, list), uint64(idx))
	if b.Get(k) != nil {
		return fmt.Errorf("bolt: allocate status index %s/%d/%d: %w", issuerID, list, idx, wallet.ErrExists)
	}
	if err := b.Put(k, []byte{}); err != nil {
		return fmt.Errorf("bolt: allocate status index %s/%d/%d: %w", issuerID, list, idx, err)
	}
	return nil
}

// --- logs -------------------------------------------------------------------

func (t *tx) AppendActivity(e *api.ActivityEntry) error {
	if e == nil {
		return errNil("activity entry")
	}
	if err := checkID("activity holder", e.HolderID); err != nil {
		return err
	}
	return appendLog(t, bucketActivity, "activity", e.HolderID, e.Seq, e)
}

// Activity lists a holder's entries newest first (highest Seq first), at
// most limit (all when limit <= 0).
func (t *tx) Activity(holderID string, limit int) ([]*api.ActivityEntry, error) {
	return listLog[api.ActivityEntry](t, bucketActivity, "activity", holderID, limit)
}

func (t *tx) AppendVerification(e *api.Verification) error {
	if e == nil {
		return errNil("verification")
	}
	if err := checkID("verification verifier", e.VerifierID); err != nil {
		return err
	}
	return appendLog(t, bucketVerifications, "verification", e.VerifierID, e.Seq, e)
}

// Verifications lists a verifier's entries newest first (highest Seq
// first), at most limit (all when limit <= 0).
func (t *tx) Verifications(verifierID string, limit int) ([]*api.Verification, error) {
	return listLog[api.Verification](t, bucketVerifications, "verifications", verifierID, limit)
}

// appendLog adds an entry at owner/seq; ErrExists when the seq is taken.
func appendLog(t *tx, bucket, kind, owner string, seq uint64, rec any) error {
	b := t.b(bucket)
	k := seqKey(owner, seq)
	if b.Get(k) != nil {
		return fmt.Errorf("bolt: append %s %q/%d: %w", kind, owner, seq, wallet.ErrExists)
	}
	if err := putJSON(b, k, rec); err != nil {
		return fmt.Errorf("bolt: append %s %q/%d: %w", kind, owner, seq, err)
	}
	return nil
}

// --- one-time keys ----------------------------------------------------------

// UseOnce records key until expires. A recorded key is taken while now is
// not after its expiry (the boundary counts as taken: the safe side for a
// replay check). Each call also removes a few expired keys, oldest expiry
// first, found through the expiry index.
func (t *tx) UseOnce(key string, expires time.Time, now time.Time) error {
	if key == "" || len(key) > maxOnceKey {
		return fmt.Errorf("bolt: use once: key length %d out of range", len(key))
	}
	once, byExp := t.b(bucketOnce), t.b(bucketOnceByExpiry)
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
	if err := t.pruneOnce(once, byExp, now); err != nil {
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
func (t *tx) pruneOnce(once, byExp *bbolt.Bucket, now time.Time) error {
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

// --- meta -------------------------------------------------------------------

func (t *tx) Meta(name string) ([]byte, error) {
	// A cursor tells an empty value from a missing key; Get may not.
	k, v := t.b(bucketMeta).Cursor().Seek([]byte(name))
	if name == "" || k == nil || string(k) != name {
		return nil, fmt.Errorf("bolt: meta %q: %w", name, wallet.ErrNotFound)
	}
	// v points into the mmap, valid only inside the transaction.
	return v, nil
}

func (t *tx) PutMeta(name string, value []byte) error {
	if err := checkID("meta", name); err != nil {
		return err
	}
	if err := t.b(bucketMeta).Put([]byte(name), bytes.Clone(value)); err != nil {
		return fmt.Errorf("bolt: put meta %q: %w", name, err)
	}
	return nil
}
