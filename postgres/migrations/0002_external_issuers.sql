-- Migration 2: issuers hosted elsewhere that the operator trusts for some
-- credential types (issue 11: OpenID4VP from any standard wallet), their
-- keys as last fetched from their SD-JWT VC issuer metadata or JWKS.
CREATE TABLE external_issuers (
    id  text PRIMARY KEY,
    rec json NOT NULL
);
