package wallet

import (
	"errors"
	"fmt"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Error is what the service returns to a caller: a code, an optional reason
// (422 verification_failed, 403 audience_mismatch) and a message that is
// safe to show to the client: never claim values, tokens or keys.
type Error struct {
	Code    api.Code
	Reason  string
	Message string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// inField is err, a refusal of field's value, with the field named first
// in its message ("issuer: url: …"); any other error is left as it is.
func inField(field string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Reason: e.Reason, Message: field + ": " + e.Message}
	}
	return err
}

// Errorf returns an *Error with a formatted message.
func Errorf(code api.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: CodeInternal for anything that is not
// an *Error (it is logged, never shown).
func ErrorCode(err error) api.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return api.CodeInternal
}

// errNotFound is the one answer for an unknown id and for someone else's
// object, so the two cannot be told apart (THREATS T18).
func errNotFound(what string) *Error { return Errorf(api.CodeNotFound, "%s not found", what) }

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

// failed is a 422 verification_failed with reason (SPEC §5) and a
// message safe to show.
func failed[R ~string](reason R, message string) *Error {
	return &Error{Code: api.CodeVerificationFailed, Reason: string(reason), Message: message}
}

// verificationFailed turns a credentials failure into the 422 answer with
// its reason (SPEC §5).
func verificationFailed(err error) *Error {
	r := credentials.ReasonOf(err)
	if r == "" {
		r = credentials.ReasonMalformed
	}
	return failed(r, "verification failed: "+string(r))
}

// ErrNotFound is returned by a Store for a missing record.
var ErrNotFound = errors.New("record not found")

// ErrExists is returned by a Store when a unique key is already taken.
var ErrExists = errors.New("record already exists")

// ErrChanged is a Swap refused because the record is no longer the one
// that was read: another transaction changed it since.
var ErrChanged = errors.New("record changed since it was read")
