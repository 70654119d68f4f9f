//! Where each section of `SPEC.md` (the byte-level reference, in the repository) is implemented.
//!
//! | SPEC.md section | module |
//! |---|---|
//! | 1. Primitives and constants | [`crate::primitives::keys`], [`crate::primitives::kem`], [`crate::handshake::protocol`] |
//! | 2. Encodings (`EncodeEC`, `EncodeKEM`) | [`crate::primitives::keys`], [`crate::primitives::kem`] |
//! | 3. Signatures (XEdDSA) | [`crate::primitives::xeddsa`] |
//! | 4. Keys and prekeys | [`crate::handshake::identity`], [`crate::handshake::prekey`], [`crate::handshake::prekey_store`] |
//! | 4.1 Safety numbers | [`crate::handshake::safety_number`] |
//! | 5. Prekey bundle (JSON) | [`crate::handshake::bundle`] (`bundle_json` with the `serde` feature) |
//! | 5.1 Verified bundles and their cache | [`crate::handshake::verified_bundle`], [`crate::handshake::bundle_cache`] |
//! | 6. The PQXDH handshake | [`crate::handshake::agreement`] |
//! | 6.1 Initial-message header | [`crate::handshake::header`] |
//! | 6.2 Prekey consumption | [`crate::handshake::prekey_store`] |
//! | 6.3 Replay record | [`crate::handshake::replay_record`] |
//! | 7. The three-key PQXDH, step by step | [`crate::handshake::agreement`], [`crate::handshake::session_id`] |
//! | 8.1 Key derivation | [`crate::ratchet::root_key`], [`crate::ratchet::chain_key`], [`crate::ratchet::message_key`] |
//! | 8.2, 8.3 Session start, receiving | [`crate::ratchet::session`] |
//! | 8.4 to 8.6 Wire messages, what is authenticated | [`crate::ratchet::message`] |
//! | 8.7 Saved session state | [`crate::ratchet::session_state`] |
//! | 9.1, 9.2 Encrypted files, identity files | the `pqxdh-files` crate |
//! | 9.3 Prekey rotation and forward secrecy | [`crate::handshake::prekey_store`], [`crate::handshake::clock`] |
//! | 10. Sessions from handshakes, storage | [`crate::sessions::establish`], [`crate::handshake::store`], [`crate::sessions::store`] |
//! | 11. The node | the `pqxdh-node` crate |
//! | 12. The server | the `pqxdh-server` crate; bodies and request signing in `pqxdh-api` |
//! | 13. The client | the `pqxdh-client` crate (store, sessions, trust); commands in `pqxdh-cli` |
//! | 14. SPQR (the ML-KEM Braid), its messages and saved state | [`crate::spqr`] (feature `spqr`) |
