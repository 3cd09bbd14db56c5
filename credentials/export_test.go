package credentials

// Digest exposes the disclosure digest (RFC 9901 §4.2.3) to the black-box tests.
var Digest = digest
