package credentials

import (
	"errors"
	"fmt"
)

// Reason is a machine-readable verification failure code. The values are the
// `reason` strings of SPEC §5 (422 verification_failed) and THREATS T1–T12,
// T21, T22.
type Reason string

const (
	// Structure and size.
	ReasonMalformed          Reason = "malformed"            // not an SD-JWT / JWT / disclosure of the expected shape
	ReasonTooLarge           Reason = "payload_too_large"    // input over the byte cap (T22)
	ReasonTooManyDisclosures Reason = "too_many_disclosures" // more than MaxDisclosures (T22)
	ReasonTooDeep            Reason = "nesting_too_deep"     // JSON nested deeper than MaxDepth (T22)
	ReasonDuplicateKey       Reason = "duplicate_key"        // a JSON object repeats a member name

	// Issuer-signed JWT.
	ReasonInvalidSignature    Reason = "invalid_signature"              // T1
	ReasonUnsupportedAlg      Reason = "unsupported_alg"                // T2
	ReasonUntrustedIssuer     Reason = "untrusted_issuer"               // T3
	ReasonIssuerNotAuthorized Reason = "issuer_not_authorized_for_type" // T4
	ReasonInvalidTyp          Reason = "invalid_typ"                    // header typ is not the expected one
	ReasonUnsupportedHeader   Reason = "unsupported_header"             // crit, or another header this profile forbids
	ReasonMissingClaim        Reason = "missing_claim"                  // a claim the profile requires is absent or of the wrong type
	ReasonExpired             Reason = "credential_expired"             // T16
	ReasonNotYetValid         Reason = "credential_not_yet_valid"       // nbf or iat in the future
	ReasonRevoked             Reason = "credential_revoked"             // T21
	ReasonSuspended           Reason = "credential_suspended"           // T21

	// Selective disclosure (RFC 9901 §7.1).
	ReasonInvalidDisclosure  Reason = "invalid_disclosure"   // T5: bad shape, or not referenced by any digest
	ReasonDuplicateDigest    Reason = "duplicate_digest"     // T6
	ReasonForbiddenClaimName Reason = "forbidden_claim_name" // T7: disclosure names _sd or ...
	ReasonClaimNameCollision Reason = "claim_name_collision" // T7: disclosed name already in the object
	ReasonUnsupportedSDAlg   Reason = "unsupported_sd_alg"   // T7: _sd_alg other than sha-256
	ReasonSDValidityClaim    Reason = "sd_validity_claim"    // T8: iss, nbf, exp, cnf, vct, status disclosed
	ReasonMissingHolderKey   Reason = "missing_holder_key"   // key binding asked for but no usable cnf.jwk

	// Key binding (RFC 9901 §7.3).
	ReasonKBRequired       Reason = "kb_required"          // T9
	ReasonKBInvalid        Reason = "kb_invalid"           // T10: signature, typ, alg, shape
	ReasonKBSDHashMismatch Reason = "kb_sd_hash_mismatch"  // T10
	ReasonKBNonceMismatch  Reason = "kb_nonce_mismatch"    // T11
	ReasonKBAudMismatch    Reason = "kb_aud_mismatch"      // T11
	ReasonKBIatOutOfWindow Reason = "kb_iat_out_of_window" // T11: iat outside the window, or the KB-JWT's exp passed or nbf ahead

	// Encrypted responses (OpenID4VP 1.0 §8.3).
	ReasonDecryptionFailed Reason = "decryption_failed" // not encrypted to the request's key, or tampered with

	// Token Status List.
	ReasonStatusInvalid    Reason = "status_list_invalid" // the status list token or its encoding is bad
	ReasonStatusOutOfRange Reason = "status_index_out_of_range"
)

// Error is a verification failure: one Reason plus a detail that is safe to
// log (it never carries claim values, tokens or keys).
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

// Is lets errors.Is match on the reason: errors.Is(err, &Error{Reason: ReasonExpired}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason carried by err, or "" when err is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
