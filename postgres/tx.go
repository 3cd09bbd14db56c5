package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// tx is a wallet.Tx over one pgx transaction.
//
// PostgreSQL aborts a transaction at its first failed statement, but the
// contract lets fn go on, and commit, after a put refused with ErrExists
// (the service tries another status index in the same transaction). So no
// writer lets a unique key raise an SQL error: each checks and writes in
// one statement (ON CONFLICT DO NOTHING, or INSERT … SELECT … WHERE NOT
// EXISTS) and reports ErrExists when it wrote no row. Under SERIALIZABLE
// a concurrent transaction that takes the same key makes that statement,
// or the commit, fail with a serialization failure instead, and Update
// runs fn again.
type tx struct {
	ctx context.Context
	tx  pgx.Tx
	// failed is the first error a statement returned: from then on
	// PostgreSQL refuses every statement and the commit (see Store.run).
	failed error
}

var _ wallet.Tx = (*tx)(nil)

// pruneBatch is how many expired one-time keys each UseOnce call removes:
// more than the one it adds, so the table shrinks back to the live keys
// without a sweeper (the contract has no delete).
const pruneBatch = 8

// maxOnceKey bounds UseOnce keys.
const maxOnceKey = 4096

// --- statements -------------------------------------------------------------

func (t *tx) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

// scanOne runs a query for at most one row; found is false when there is
// none.
func (t *tx) scanOne(sql string, args []any, dest ...any) (found bool, err error) {
	err = t.tx.QueryRow(t.ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(err)
	}
	return true, nil
}

// exec runs a statement and returns how many rows it wrote.
func (t *tx) exec(sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	if err != nil {
		return 0, t.fail(err)
	}
	return tag.RowsAffected(), nil
}

// get loads the record a query selects (one json column); ErrNotFound when
// there is none. what names the record in errors.
func get[T any](t *tx, what, sql string, args ...any) (*T, error) {
	var raw []byte
	found, err := t.scanOne(sql, args, &raw)
	if err != nil {
		return nil, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	rec := new(T)
	if err := json.Unmarshal(raw, rec); err != nil {
		return nil, fmt.Errorf("postgres: get %s: decode: %w", what, err)
	}
	return rec, nil
}

// getByID loads the record of kind with id. An id no put accepts cannot
// be stored, so it is not found (rather than an SQL error for a NUL byte).
func getByID[T any](t *tx, kind, sql, id string) (*T, error) {
	what := fmt.Sprintf("%s %q", kind, id)
	if checkID(kind, id) != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	return get[T](t, what, sql, id)
}

// getByHash loads the record of kind a query finds by a hash. The hash is
// left out of errors: it stands for a secret.
func getByHash[T any](t *tx, kind, sql string, hash []byte) (*T, error) {
	if len(hash) == 0 {
		return nil, fmt.Errorf("postgres: %s: %w", kind, wallet.ErrNotFound)
	}
	return get[T](t, kind, sql, hash)
}

// list loads the records a query selects (one json column), in its order.
func list[T any](t *tx, what, sql string, args ...any) ([]*T, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, t.fail(err))
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("postgres: list %s: %w", what, err)
		}
		rec := new(T)
		if err := json.Unmarshal(raw, rec); err != nil {
			return nil, fmt.Errorf("postgres: list %s: decode: %w", what, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, t.fail(err))
	}
	return out, nil
}

// listOwned is list for the records of one owner (holder or verifier),
// the query's first parameter. An owner id no put accepts has no records.
func listOwned[T any](t *tx, kind, owner, sql string, args ...any) ([]*T, error) {
	if checkID(kind, owner) != nil {
		return []*T{}, nil
	}
	return list[T](t, fmt.Sprintf("%s of %q", kind, owner), sql, append([]any{owner}, args...)...)
}

// put encodes rec and runs a write with args and then the encoded record
// as its last parameter; it returns how many rows the write wrote.
func (t *tx) put(what, sql string, rec any, args ...any) (int64, error) {
	raw, err := json.Marshal(rec, json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true))
	if err != nil {
		return 0, fmt.Errorf("postgres: put %s: encode: %w", what, err)
	}
	n, err := t.exec(sql, append(args, raw)...)
	if err != nil {
		return 0, fmt.Errorf("postgres: put %s: %w", what, err)
	}
	return n, nil
}

// putUnique is put for a write that checks a unique key in the statement
// and writes no row when another record holds it: ErrExists then.
func (t *tx) putUnique(what, sql string, rec any, args ...any) error {
	n, err := t.put(what, sql, rec, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: put %s: %w", what, wallet.ErrExists)
	}
	return nil
}

// checkID rejects ids that cannot be stored: empty, longer than any id we
// make, or not text PostgreSQL accepts (a NUL byte, invalid UTF-8).
func checkID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("postgres: %s: empty id", kind)
	case len(id) > 1024:
		return fmt.Errorf("postgres: %s: id longer than 1024 bytes", kind)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("postgres: %s %q: id holds a NUL byte", kind, id)
	case !utf8.ValidString(id):
		return fmt.Errorf("postgres: %s %q: id is not UTF-8", kind, id)
	}
	return nil
}

// nullIfEmpty stores an empty hash or id as NULL: not indexed, not unique.
func nullIfEmpty[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// limitArg is a LIMIT parameter: NULL, no limit, when n <= 0.
func limitArg(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

func errNil(kind string) error { return fmt.Errorf("postgres: put %s: nil record", kind) }

// --- issuers and verifiers --------------------------------------------------

func (t *tx) Issuer(id string) (*wallet.Issuer, error) {
	return getByID[wallet.Issuer](t, "issuer", `SELECT rec FROM issuers WHERE id = $1`, id)
}

// Issuers lists every issuer by id (byte order).
func (t *tx) Issuers() ([]*wallet.Issuer, error) {
	return list[wallet.Issuer](t, "issuers", `SELECT rec FROM issuers ORDER BY id`)
}

func (t *tx) PutIssuer(i *wallet.Issuer) error {
	if i == nil {
		return errNil("issuer")
	}
	if err := checkID("issuer", i.ID); err != nil {
		return err
	}
	_, err := t.put(fmt.Sprintf("issuer %q", i.ID), `
		INSERT INTO issuers (id, rec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec`,
		i, i.ID)
	return err
}

func (t *tx) Verifier(id string) (*wallet.Verifier, error) {
	return getByID[wallet.Verifier](t, "verifier", `SELECT rec FROM verifiers WHERE id = $1`, id)
}

// Verifiers lists every verifier by id (byte order).
func (t *tx) Verifiers() ([]*wallet.Verifier, error) {
	return list[wallet.Verifier](t, "verifiers", `SELECT rec FROM verifiers ORDER BY id`)
}

func (t *tx) PutVerifier(v *wallet.Verifier) error {
	if v == nil {
		return errNil("verifier")
	}
	if err := checkID("verifier", v.ID); err != nil {
		return err
	}
	_, err := t.put(fmt.Sprintf("verifier %q", v.ID), `
		INSERT INTO verifiers (id, rec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec`,
		v, v.ID)
	return err
}

// --- API keys and holders: records with one unique hash ---------------------

func (t *tx) APIKey(id string) (*wallet.APIKey, error) {
	return getByID[wallet.APIKey](t, "api key", `SELECT rec FROM api_keys WHERE id = $1`, id)
}

func (t *tx) APIKeyByHash(hash []byte) (*wallet.APIKey, error) {
	return getByHash[wallet.APIKey](t, "api key by hash", `SELECT rec FROM api_keys WHERE hash = $1`, hash)
}

// PutAPIKey stores k; ErrExists when another key has its hash. Re-putting
// a key (revoking it) is an update, and may change its hash.
func (t *tx) PutAPIKey(k *wallet.APIKey) error {
	if k == nil {
		return errNil("api key")
	}
	if err := checkID("api key", k.ID); err != nil {
		return err
	}
	what := fmt.Sprintf("api key %q", k.ID)
	if len(k.Hash) == 0 {
		return fmt.Errorf("postgres: put %s: empty hash", what)
	}
	return t.putUnique(what, `
		INSERT INTO api_keys (id, hash, rec)
		SELECT $1::text, $2::bytea, $3::json
		WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE hash = $2 AND id <> $1)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, rec = excluded.rec`,
		k, k.ID, k.Hash)
}

func (t *tx) Holder(id string) (*wallet.Holder, error) {
	return getByID[wallet.Holder](t, "holder", `SELECT rec FROM holders WHERE id = $1`, id)
}

func (t *tx) HolderByCitizen(citizenHash []byte) (*wallet.Holder, error) {
	return getByHash[wallet.Holder](t, "holder by citizen", `SELECT rec FROM holders WHERE citizen_hash = $1`, citizenHash)
}

// PutHolder stores h; ErrExists when another holder has its citizen hash.
func (t *tx) PutHolder(h *wallet.Holder) error {
	if h == nil {
		return errNil("holder")
	}
	if err := checkID("holder", h.ID); err != nil {
		return err
	}
	what := fmt.Sprintf("holder %q", h.ID)
	if len(h.CitizenHash) == 0 {
		return fmt.Errorf("postgres: put %s: empty citizen hash", what)
	}
	return t.putUnique(what, `
		INSERT INTO holders (id, citizen_hash, rec)
		SELECT $1::text, $2::bytea, $3::json
		WHERE NOT EXISTS (SELECT 1 FROM holders WHERE citizen_hash = $2 AND id <> $1)
		ON CONFLICT (id) DO UPDATE SET citizen_hash = excluded.citizen_hash, rec = excluded.rec`,
		h, h.ID, h.CitizenHash)
}

// --- devices and credentials: records listed per holder, oldest first -------

func (t *tx) Device(id string) (*wallet.Device, error) {
	return getByID[wallet.Device](t, "device", `SELECT rec FROM devices WHERE id = $1`, id)
}

// Devices lists a holder's devices oldest first (Created, then id).
func (t *tx) Devices(holderID string) ([]*wallet.Device, error) {
	return listOwned[wallet.Device](t, "devices", holderID, `
		SELECT rec FROM devices WHERE holder_id = $1 ORDER BY created, id`)
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
	_, err := t.put(fmt.Sprintf("device %q", d.ID), `
		INSERT INTO devices (id, holder_id, created, rec) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET holder_id = excluded.holder_id, created = excluded.created, rec = excluded.rec`,
		d, d.ID, d.HolderID, d.Created)
	return err
}

func (t *tx) Credential(id string) (*wallet.Credential, error) {
	return getByID[wallet.Credential](t, "credential", `SELECT rec FROM credentials WHERE id = $1`, id)
}

// Credentials lists a holder's credentials oldest first (IssuedAt, then
// id: a credential has no other creation time).
func (t *tx) Credentials(holderID string) ([]*wallet.Credential, error) {
	return listOwned[wallet.Credential](t, "credentials", holderID, `
		SELECT rec FROM credentials WHERE holder_id = $1 ORDER BY issued_at, id`)
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
	_, err := t.put(fmt.Sprintf("credential %q", c.ID), `
		INSERT INTO credentials (id, holder_id, issued_at, rec) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET holder_id = excluded.holder_id, issued_at = excluded.issued_at, rec = excluded.rec`,
		c, c.ID, c.HolderID, c.IssuedAt)
	return err
}

// copyIDs checks the two ids of a credential copy.
func copyIDs(credentialID, deviceID string) error {
	if err := checkID("credential", credentialID); err != nil {
		return err
	}
	return checkID("device", deviceID)
}

func (t *tx) CredentialCopy(credentialID, deviceID string) ([]byte, error) {
	what := fmt.Sprintf("credential copy %q/%q", credentialID, deviceID)
	if copyIDs(credentialID, deviceID) != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	var sealed []byte // pgx copies: the bytes outlive the transaction
	found, err := t.scanOne(`
		SELECT sealed FROM credential_copies WHERE credential_id = $1 AND device_id = $2`,
		[]any{credentialID, deviceID}, &sealed)
	if err != nil {
		return nil, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	return sealed, nil
}

func (t *tx) PutCredentialCopy(credentialID, deviceID string, sealed []byte) error {
	if err := copyIDs(credentialID, deviceID); err != nil {
		return err
	}
	if sealed == nil {
		sealed = []byte{} // NULL is no copy
	}
	_, err := t.exec(`
		INSERT INTO credential_copies (credential_id, device_id, sealed) VALUES ($1, $2, $3)
		ON CONFLICT (credential_id, device_id) DO UPDATE SET sealed = excluded.sealed`,
		credentialID, deviceID, sealed)
	if err != nil {
		return fmt.Errorf("postgres: put credential copy %q/%q: %w", credentialID, deviceID, err)
	}
	return nil
}

func (t *tx) DeleteCredentialCopy(credentialID, deviceID string) error {
	if err := copyIDs(credentialID, deviceID); err != nil {
		return err
	}
	_, err := t.exec(`DELETE FROM credential_copies WHERE credential_id = $1 AND device_id = $2`, credentialID, deviceID)
	if err != nil {
		return fmt.Errorf("postgres: delete credential copy %q/%q: %w", credentialID, deviceID, err)
	}
	return nil
}

// --- shares -----------------------------------------------------------------

func (t *tx) Share(id string) (*wallet.Share, error) {
	return getByID[wallet.Share](t, "share", `SELECT rec FROM shares WHERE id = $1`, id)
}

func (t *tx) ShareByToken(tokenHash []byte) (*wallet.Share, error) {
	return getByHash[wallet.Share](t, "share by token", `SELECT rec FROM shares WHERE token_hash = $1`, tokenHash)
}

// Shares lists a holder's shares newest first (Created, then id, both
// descending).
func (t *tx) Shares(holderID string) ([]*wallet.Share, error) {
	return listOwned[wallet.Share](t, "shares", holderID, `
		SELECT rec FROM shares WHERE holder_id = $1 ORDER BY created DESC, id DESC`)
}

// PutShare stores s. A pending share has no token hash (NULL); the update
// that approves it sets one. ErrExists when another share has the token
// hash (128 random bits: only a bug gets there).
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
	return t.putUnique(fmt.Sprintf("share %q", s.ID), `
		INSERT INTO shares (id, holder_id, created, token_hash, rec)
		SELECT $1::text, $2::text, $3::timestamptz, $4::bytea, $5::json
		WHERE $4::bytea IS NULL
		   OR NOT EXISTS (SELECT 1 FROM shares WHERE token_hash = $4 AND id <> $1)
		ON CONFLICT (id) DO UPDATE SET holder_id = excluded.holder_id, created = excluded.created,
			token_hash = excluded.token_hash, rec = excluded.rec`,
		s, s.ID, s.HolderID, s.Created, nullIfEmpty(s.TokenHash))
}

// ShareDocuments returns the sealed documents of a share, raw.
func (t *tx) ShareDocuments(shareID string) ([][]byte, error) {
	what := fmt.Sprintf("share documents %q", shareID)
	if checkID("share", shareID) != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	var docs [][]byte
	found, err := t.scanOne(`SELECT docs FROM share_documents WHERE share_id = $1`, []any{shareID}, &docs)
	if err != nil {
		return nil, fmt.Errorf("postgres: get %s: %w", what, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	return docs, nil
}

func (t *tx) PutShareDocuments(shareID string, docs [][]byte) error {
	if err := checkID("share", shareID); err != nil {
		return err
	}
	if docs == nil {
		docs = [][]byte{} // NULL is no documents
	}
	_, err := t.exec(`
		INSERT INTO share_documents (share_id, docs) VALUES ($1, $2)
		ON CONFLICT (share_id) DO UPDATE SET docs = excluded.docs`,
		shareID, docs)
	if err != nil {
		return fmt.Errorf("postgres: put share documents %q: %w", shareID, err)
	}
	return nil
}

// --- requests ---------------------------------------------------------------

func (t *tx) Request(id string) (*wallet.Request, error) {
	return getByID[wallet.Request](t, "request", `SELECT rec FROM requests WHERE id = $1`, id)
}

func (t *tx) RequestByToken(tokenHash []byte) (*wallet.Request, error) {
	return getByHash[wallet.Request](t, "request by token", `SELECT rec FROM requests WHERE token_hash = $1`, tokenHash)
}

// Requests lists the requests addressed to a holder newest first (Created,
// then id, both descending), at most limit (all when limit <= 0). A
// request without a holder is listed for no one.
func (t *tx) Requests(holderID string, limit int) ([]*wallet.Request, error) {
	return listOwned[wallet.Request](t, "requests", holderID, `
		SELECT rec FROM requests WHERE holder_id = $1 ORDER BY created DESC, id DESC LIMIT $2`,
		limitArg(limit))
}

// PutRequest stores r. A request without a holder (shown by a verifier,
// not yet resolved) or without a token hash (addressed through a presence
// code) keeps NULL there, in no index; the update that sets either adds
// it. ErrExists when another request has the token hash.
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
	return t.putUnique(fmt.Sprintf("request %q", r.ID), `
		INSERT INTO requests (id, holder_id, created, token_hash, rec)
		SELECT $1::text, $2::text, $3::timestamptz, $4::bytea, $5::json
		WHERE $4::bytea IS NULL
		   OR NOT EXISTS (SELECT 1 FROM requests WHERE token_hash = $4 AND id <> $1)
		ON CONFLICT (id) DO UPDATE SET holder_id = excluded.holder_id, created = excluded.created,
			token_hash = excluded.token_hash, rec = excluded.rec`,
		r, r.ID, nullIfEmpty(r.HolderID), r.Created, nullIfEmpty(r.TokenHash))
}

// --- activation and presence codes: records keyed by a hash ----------------

func (t *tx) ActivationCode(hash []byte) (*wallet.ActivationCode, error) {
	return getByHash[wallet.ActivationCode](t, "activation code", `SELECT rec FROM activation_codes WHERE hash = $1`, hash)
}

func (t *tx) PutActivationCode(a *wallet.ActivationCode) error {
	if a == nil {
		return errNil("activation code")
	}
	what := fmt.Sprintf("activation code for holder %q", a.HolderID)
	if len(a.Hash) == 0 {
		return fmt.Errorf("postgres: put %s: empty hash", what)
	}
	_, err := t.put(what, `
		INSERT INTO activation_codes (hash, rec) VALUES ($1, $2)
		ON CONFLICT (hash) DO UPDATE SET rec = excluded.rec`,
		a, a.Hash)
	return err
}

func (t *tx) Presence(tokenHash []byte) (*wallet.Presence, error) {
	return getByHash[wallet.Presence](t, "presence", `SELECT rec FROM presence WHERE token_hash = $1`, tokenHash)
}

func (t *tx) PutPresence(p *wallet.Presence) error {
	if p == nil {
		return errNil("presence")
	}
	what := fmt.Sprintf("presence for holder %q", p.HolderID)
	if len(p.TokenHash) == 0 {
		return fmt.Errorf("postgres: put %s: empty token hash", what)
	}
	_, err := t.put(what, `
		INSERT INTO presence (token_hash, rec) VALUES ($1, $2)
		ON CONFLICT (token_hash) DO UPDATE SET rec = excluded.rec`,
		p, p.TokenHash)
	return err
}

// --- status lists -----------------------------------------------------------

func (t *tx) StatusList(issuerID string, list int) (*wallet.StatusList, error) {
	what := fmt.Sprintf("status list %s/%d", issuerID, list)
	if checkID("status list issuer", issuerID) != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, wallet.ErrNotFound)
	}
	return get[wallet.StatusList](t, what, `
		SELECT rec FROM status_lists WHERE issuer_id = $1 AND list = $2`,
		issuerID, list)
}

func (t *tx) PutStatusList(l *wallet.StatusList) error {
	if l == nil {
		return errNil("status list")
	}
	if err := checkID("status list issuer", l.IssuerID); err != nil {
		return err
	}
	_, err := t.put(fmt.Sprintf("status list %s/%d", l.IssuerID, l.ID), `
		INSERT INTO status_lists (issuer_id, list, rec) VALUES ($1, $2, $3)
		ON CONFLICT (issuer_id, list) DO UPDATE SET rec = excluded.rec`,
		l, l.IssuerID, l.ID)
	return err
}

// AllocateStatusIndex claims idx of a list for good: the row is never
// deleted, so an index is never handed out twice (SPEC §3.5).
func (t *tx) AllocateStatusIndex(issuerID string, list, idx int) error {
	what := fmt.Sprintf("status index %s/%d/%d", issuerID, list, idx)
	if err := checkID("status list issuer", issuerID); err != nil {
		return err
	}
	if idx < 0 {
		return fmt.Errorf("postgres: allocate %s: negative index", what)
	}
	n, err := t.exec(`
		INSERT INTO status_indices (issuer_id, list, idx) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`,
		issuerID, list, idx)
	if err != nil {
		return fmt.Errorf("postgres: allocate %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: allocate %s: %w", what, wallet.ErrExists)
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
	return t.appendLog(`
		INSERT INTO activity (holder_id, seq, rec) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`,
		"activity", e.HolderID, e.Seq, e)
}

// Activity lists a holder's entries newest first (highest Seq first), at
// most limit (all when limit <= 0).
func (t *tx) Activity(holderID string, limit int) ([]*api.ActivityEntry, error) {
	return listOwned[api.ActivityEntry](t, "activity", holderID, `
		SELECT rec FROM activity WHERE holder_id = $1 ORDER BY seq DESC LIMIT $2`,
		limitArg(limit))
}

func (t *tx) AppendVerification(e *api.Verification) error {
	if e == nil {
		return errNil("verification")
	}
	if err := checkID("verification verifier", e.VerifierID); err != nil {
		return err
	}
	return t.appendLog(`
		INSERT INTO verifications (verifier_id, seq, rec) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`,
		"verification", e.VerifierID, e.Seq, e)
}

// Verifications lists a verifier's entries newest first (highest Seq
// first), at most limit (all when limit <= 0).
func (t *tx) Verifications(verifierID string, limit int) ([]*api.Verification, error) {
	return listOwned[api.Verification](t, "verifications", verifierID, `
		SELECT rec FROM verifications WHERE verifier_id = $1 ORDER BY seq DESC LIMIT $2`,
		limitArg(limit))
}

// appendLog adds an entry at owner/seq; ErrExists when the seq is taken.
func (t *tx) appendLog(sql, kind, owner string, seq uint64, rec any) error {
	what := fmt.Sprintf("%s %q/%d", kind, owner, seq)
	if seq > math.MaxInt64 {
		return fmt.Errorf("postgres: append %s: seq beyond bigint", what)
	}
	n, err := t.put(what, sql, rec, owner, int64(seq))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: append %s: %w", what, wallet.ErrExists)
	}
	return nil
}

// --- one-time keys ----------------------------------------------------------

// UseOnce records key until expires. A recorded key is taken while now is
// not after its expiry (the boundary counts as taken: the safe side for a
// replay check); an expired one is recorded anew. The same statement
// removes a few other keys that expired before now, oldest expiry first,
// skipping any a concurrent transaction holds.
func (t *tx) UseOnce(key string, expires time.Time, now time.Time) error {
	if key == "" || len(key) > maxOnceKey {
		return fmt.Errorf("postgres: use once: key length %d out of range", len(key))
	}
	n, err := t.exec(`
		WITH pruned AS (
			DELETE FROM once WHERE key IN (
				SELECT key FROM once WHERE expires < $3 AND key <> $1
				ORDER BY expires LIMIT $4 FOR UPDATE SKIP LOCKED))
		INSERT INTO once (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE once.expires < $3`,
		[]byte(key), expires, now, pruneBatch)
	if err != nil {
		return fmt.Errorf("postgres: use once: %w", err)
	}
	if n == 0 {
		// The key may be a nonce: not in the error.
		return fmt.Errorf("postgres: use once: %w", wallet.ErrExists)
	}
	return nil
}

// --- meta -------------------------------------------------------------------

func (t *tx) Meta(name string) ([]byte, error) {
	if checkID("meta", name) != nil {
		return nil, fmt.Errorf("postgres: meta %q: %w", name, wallet.ErrNotFound)
	}
	var value []byte // pgx copies: the bytes outlive the transaction
	found, err := t.scanOne(`SELECT value FROM meta WHERE name = $1`, []any{name}, &value)
	if err != nil {
		return nil, fmt.Errorf("postgres: get meta %q: %w", name, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: meta %q: %w", name, wallet.ErrNotFound)
	}
	return value, nil
}

func (t *tx) PutMeta(name string, value []byte) error {
	if err := checkID("meta", name); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // NULL is no value
	}
	_, err := t.exec(`
		INSERT INTO meta (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		name, value)
	if err != nil {
		return fmt.Errorf("postgres: put meta %q: %w", name, err)
	}
	return nil
}
