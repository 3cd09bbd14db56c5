-- Migration 5: batch copies (issue 12). The one-time keys a device
-- registered, free until a copy is bound to one; the unused copies of each
-- credential on each device, each bound to a pool key with its own status
-- index; and the status indices of a credential's copies, which a status
-- change sets all.
CREATE TABLE pool_keys (
    device_id  text,
    thumbprint text,
    rec        json NOT NULL,
    PRIMARY KEY (device_id, thumbprint)
);

CREATE TABLE batch_copies (
    credential_id text,
    device_id     text,
    thumbprint    text,
    rec           json NOT NULL,
    PRIMARY KEY (credential_id, device_id, thumbprint)
);

CREATE TABLE copy_status (
    credential_id text,
    list          bigint,
    idx           bigint,
    rec           json NOT NULL,
    PRIMARY KEY (credential_id, list, idx)
);
