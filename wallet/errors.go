package wallet

import (
	"errors"
	"fmt"

	"github.com/eidwallet/eidwallet/credentials"
)

// Code is the transport-neutral error code: the `error` member of SPEC §5.
// The server maps each code to an HTTP status in exactly one table.
type Code string

const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeMethodNotAllowed   Code = "method_not_allowed" // the server's routing: a path asked with a method it does not take
	CodeAlreadyRedeemed    Code = "share_already_redeemed"
	CodeReplay             Code = "replay_detected"
	CodeConflict           Code = "conflict"
	CodeShareExpired       Code = "share_expired"
	CodeShareCancelled     Code = "share_cancelled"
	CodeTooLarge           Code = "payload_too_large"
	CodeUnsupportedMedia   Code = "unsupported_media_type"
	CodeVerificationFailed Code = "verification_failed"
	CodeRateLimited        Code = "rate_limited"
	CodeStatusUnavailable  Code = "status_unavailable"
	CodeStorageUnavailable Code = "storage_unavailable"
	CodeInternal           Code = "server_error"
)

// Reasons the service adds to those of credentials (SPEC §5, THREATS).
const (
	ReasonAudienceMismatch    = "audience_mismatch"     // 403: a share bound to another verifier (T14)
	ReasonClaimsNotRegistered = "claims_not_registered" // 403: a share holding claims the verifier is not registered for (T35)
	ReasonDeviceRevoked       = "device_revoked"        // 422: the approving device was revoked after the approval (T33)
)

// Error is what the service returns to a caller: a code, an optional reason
// (422 verification_failed, 403 audience_mismatch) and a message that is
// safe to show to the client: never claim values, tokens or keys.
type Error struct {
	Code    Code
	Reason  string
	Message string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: CodeInternal for anything that is not
// an *Error (it is logged, never shown).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// errNotFound is the one answer for an unknown id and for someone else's
// object, so the two cannot be told apart (THREATS T18).
func errNotFound(what string) *Error { return Errorf(CodeNotFound, "%s not found", what) }

// mine is the one rule for reading a caller's own record (SPEC §5,
// THREATS T18, T42): a missing record and someone else's are the same
// 404; any other error is a storage failure, answered 503 by storeErr.
// belongs is called only when the record was read.
func mine(err error, what string, belongs func() bool) error {
	if errors.Is(err, ErrNotFound) || err == nil && !belongs() {
		return errNotFound(what)
	}
	return err
}

// verificationFailed turns a credentials failure into the 422 answer with
// its reason (SPEC §5).
func verificationFailed(err error) *Error {
	r := credentials.ReasonOf(err)
	if r == "" {
		r = credentials.ReasonMalformed
	}
	return &Error{Code: CodeVerificationFailed, Reason: string(r), Message: "verification failed: " + string(r)}
}

// ErrNotFound is returned by a Store for a missing record.
var ErrNotFound = errors.New("record not found")

// ErrExists is returned by a Store when a unique key is already taken.
var ErrExists = errors.New("record already exists")
