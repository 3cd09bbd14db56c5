-- Migration 3: the devices' keys by RFC 7638 thumbprint, each naming its
-- device (issue 11): a presentation of a hosted credential to our
-- verifiers is accepted only from a key of an active device. Written at
-- enrolment and at each token (so devices enrolled before fill in as
-- their apps sign in) and at export.
CREATE TABLE device_keys (
    thumbprint text PRIMARY KEY,
    rec        bytea NOT NULL
);
