package wallet

import "github.com/eidwallet/eidwallet/credentials"

// The service key is the service's own P-256 signing key, made on the first
// start and kept sealed in the store (loadServiceKey). It signs access
// tokens (typ at+jwt, checked only by the service) and what the service
// attests to others: activity checkpoints (SPEC §3.6). Each kind has its own
// typ, and every verifier requires the typ it expects, so one kind is never
// taken for another (RFC 8725 §3.11).

// ServiceKid is the kid of the service key: its RFC 7638 thumbprint.
func (s *Service) ServiceKid() string { return s.serviceKid }

// ServiceJWKS is the JSON Web Key Set of the service key (kid, alg ES256,
// use sig), published at /.well-known/jwks.json so that anyone can check
// what the service signs.
func (s *Service) ServiceJWKS() ([]byte, error) {
	return credentials.JWKS(&s.serviceKey.PublicKey)
}

// signAsService signs claims with the service key as a compact JWS with the
// given typ and the service kid.
func (s *Service) signAsService(typ string, claims any) (string, error) {
	return credentials.SignJWT(s.serviceKey, typ, s.serviceKid, claims)
}
