package bolt

import (
	"encoding/binary"
	"fmt"
	"github.com/go-json-experiment/json"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket names. Record buckets are keyed by id; "_by_" buckets are indexes.
const (
	bucketIssuers          = "issuers"
	bucketVerifiers        = "verifiers"
	bucketAPIKeys          = "api_keys"
	bucketAPIKeysByHash    = "api_keys_by_hash" // hash → id
	bucketHolders          = "holders"
	bucketHoldersByCitizen = "holders_by_citizen" // citizen hash → id
	bucketDevices          = "devices"
	bucketDevicesByHolder  = "devices_by_holder" // ownerTimeKey → empty
	bucketActivationCodes  = "activation_codes"  // code hash → record
	bucketCredentials      = "credentials"
	bucketCredsByHolder    = "credentials_by_holder" // ownerTimeKey → empty
	bucketCredentialCopies = "credential_copies"     // credential id ‖ 0 ‖ device id → sealed
	bucketShares           = "shares"
	bucketSharesByToken    = "shares_by_token"  // token hash → id
	bucketSharesByHolder   = "shares_by_holder" // ownerTimeKey → empty
	bucketShareDocuments   = "share_documents"  // share id → sealed documents
	bucketRequests         = "requests"
	bucketRequestsByToken  = "requests_by_token"  // token hash → id
	bucketRequestsByHolder = "requests_by_holder" // ownerTimeKey → empty
	bucketPresence         = "presence"           // token hash → record
	bucketStatusLists      = "status_lists"       // listKey → record
	bucketStatusIndices    = "status_indices"     // listKey + idx → empty, never deleted
	bucketActivity         = "activity"           // seqKey → record
	bucketVerifications    = "verifications"      // seqKey → record
	bucketOnce             = "once"               // key → expiry (timeKey)
	bucketOnceByExpiry     = "once_by_expiry"     // expiry + key → empty
	bucketMeta             = "meta"               // name → value
)

// allBuckets lists every bucket Open makes sure exists.
func allBuckets() []string {
	return []string{
		bucketIssuers, bucketVerifiers, bucketAPIKeys, bucketAPIKeysByHash,
		bucketHolders, bucketHoldersByCitizen, bucketDevices, bucketDevicesByHolder,
		bucketActivationCodes, bucketCredentials, bucketCredsByHolder, bucketCredentialCopies,
		bucketShares, bucketSharesByToken, bucketSharesByHolder, bucketShareDocuments,
		bucketRequests, bucketRequestsByToken, bucketRequestsByHolder, bucketPresence,
		bucketStatusLists, bucketStatusIndices, bucketActivity, bucketVerifications,
		bucketOnce, bucketOnceByExpiry, bucketMeta,
	}
}

// timeLen is the length of an encoded time.
const timeLen = 12

// appendTime appends t so that byte order is time order for every
// time.Time: seconds as a big-endian int64 with the sign bit flipped (so
// times before 1970 sort first), then nanoseconds. UnixNano would be
// shorter but overflows outside 1678–2262, zero time included.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// parseTime reverses appendTime; b holds at least timeLen bytes.
func parseTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:])))
}

// ownerPrefix is the start of every index key of owner. The 0x00 ends the
// owner, so "h1" never sees the keys of "h10" (ids never hold 0x00,
// checkID).
func ownerPrefix(owner string) []byte {
	b := make([]byte, 0, len(owner)+1+timeLen+32)
	return append(append(b, owner...), 0)
}

// ownerTimeKey is owner, 0x00, created, id: a forward walk over the
// owner's prefix lists oldest first, ties by id.
func ownerTimeKey(owner string, created time.Time, id string) []byte {
	return append(appendTime(ownerPrefix(owner), created), id...)
}

// seqKey is owner, 0x00, big-endian seq: log entries in seq order.
func seqKey(owner string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(ownerPrefix(owner), seq)
}

// listKey names status list list of issuer. The int64 sign bit is flipped
// like appendTime's so keys sort by list number.
func listKey(issuer string, list int) []byte {
	return binary.BigEndian.AppendUint64(ownerPrefix(issuer), uint64(int64(list))^(1<<63))
}

// checkID rejects ids that cannot be keys: empty (bbolt refuses empty
// keys), holding 0x00 (the owner separator), or longer than any id we make.
func checkID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("bolt: %s: empty id", kind)
	case len(id) > 1024:
		return fmt.Errorf("bolt: %s: id longer than 1024 bytes", kind)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("bolt: %s %q: id holds a NUL byte", kind, id)
	}
	return nil
}

// getJSON decodes the record at key into a new T; nil, nil when there is
// none. Decoding copies, so the result outlives the transaction (bbolt's
// values point into the mmap).
func getJSON[T any](b *bbolt.Bucket, key []byte) (*T, error) {
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	rec := new(T)
	if err := json.Unmarshal(v, rec, jsonOpts); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return rec, nil
}

// putJSON encodes rec and stores it at key.
func putJSON(b *bbolt.Bucket, key []byte, rec any) error {
	v, err := json.Marshal(rec, jsonOpts)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(key, v)
}

// jsonOpts: records are encoded with go-json-experiment (one pass, about
// twice as fast as encoding/json on these records, which matters inside
// the single writer's transaction), keeping nil slices and maps as null so
// that they read back as nil.
var jsonOpts = json.JoinOptions(json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true))
