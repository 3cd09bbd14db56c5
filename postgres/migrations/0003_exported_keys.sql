-- Migration 3: the device keys whose credential copies a holder exported
-- (issue 11), by RFC 7638 thumbprint, each naming its device: a
-- presentation of an exported copy is refused once that device is
-- revoked.
CREATE TABLE exported_keys (
    thumbprint text PRIMARY KEY,
    rec        bytea NOT NULL
);
