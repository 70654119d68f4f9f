-- The client store (SPEC.md section 13.2). Every column named `sealed*` holds
-- nonce || AES-256-GCM ciphertext || tag under the store's row key, bound to its table and row.

-- Account facts and counters: format, account, server, protection, salt, KDF costs, check value.
CREATE TABLE meta (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- The identity key, signed and PQ prekeys and the replay record (an identity-file body, SPEC 9.2).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);

-- One-time EC prekeys, one private key a row (the identity-file body does not hold them).
CREATE TABLE one_time_prekeys (
    id INTEGER PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);

-- Contacts: the pinned identity key, and a changed key waiting for the user's decision.
CREATE TABLE contacts (
    name TEXT PRIMARY KEY NOT NULL,
    identity_key BLOB NOT NULL,
    pending_key BLOB,
    verified INTEGER NOT NULL DEFAULT 0,
    added_ms INTEGER NOT NULL
);

-- Double Ratchet sessions; the highest `rank` of a contact is its current session.
CREATE TABLE sessions (
    contact TEXT NOT NULL,
    session_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (contact, session_id)
);

-- Every message sent, in order: the content, and the envelope that carries it once encrypted.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    sealed_content BLOB NOT NULL,
    sealed_wire BLOB NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    envelope_id TEXT
);

-- Every message received, once: keyed by the server's envelope id.
CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    envelope_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    sealed_content BLOB NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    -- Where a shared file was saved, once downloaded.
    saved_path TEXT
);

-- Envelopes from a contact whose identity key changed, kept until the user trusts the new key.
CREATE TABLE held (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    envelope_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    sealed_body BLOB NOT NULL
);

-- Envelopes processed without a message: duplicates and undecryptable ones, with the reason.
CREATE TABLE dropped (
    envelope_id TEXT PRIMARY KEY NOT NULL,
    sender TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
