-- pqxdh-server schema v1 (SPEC.md section 12.6). Public keys and opaque ciphertext only.
CREATE TABLE accounts (
    name TEXT PRIMARY KEY NOT NULL,
    identity_key BYTEA NOT NULL,
    signed_prekey_id BIGINT NOT NULL,
    signed_prekey BYTEA NOT NULL,
    signed_prekey_signature BYTEA NOT NULL,
    last_resort_id BIGINT NOT NULL,
    last_resort_key BYTEA NOT NULL,
    last_resort_signature BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE one_time_prekeys (
    seq BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    key_id BIGINT NOT NULL,
    public_key BYTEA NOT NULL,
    UNIQUE (account, key_id)
);
CREATE TABLE pq_prekeys (
    seq BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    key_id BIGINT NOT NULL,
    public_key BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    UNIQUE (account, key_id)
);
CREATE TABLE envelopes (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    sender TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    body BYTEA NOT NULL
);
CREATE INDEX envelopes_by_recipient ON envelopes (recipient, seq);
CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    size BIGINT NOT NULL,
    complete BIGINT NOT NULL,
    sha256 BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE attachment_chunks (
    attachment TEXT NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (attachment, seq)
);
CREATE TABLE request_nonces (
    account TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (account, nonce)
);
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_ms);
CREATE TABLE rate_buckets (
    bucket TEXT PRIMARY KEY NOT NULL,
    level_milli BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
