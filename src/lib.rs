//! # pqxdh
//!
//! Signal's PQXDH key agreement (X25519 Diffie-Hellman plus an ML-KEM-1024 or Kyber1024
//! encapsulation, mixed by HKDF into one hybrid secret) feeding a Double Ratchet with AES-256-GCM,
//! byte-compatible with libsignal's handshake and checked against known-answer vectors.
//! `SPEC.md` describes every byte; `SECURITY.md` the threat model.
//!
//! ```
//! use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
//!
//! let mut rng = rand::rng();
//! // Bob publishes a bundle: identity key, signed prekey, last-resort ML-KEM-1024 prekey.
//! let mut bob = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! let bundle: PreKeyBundle = bob.default_bundle()?;
//!
//! // Alice fetches it (a server relays it; `to_json` and `from_json` with the `serde` feature),
//! // and `initiate` verifies it, runs PQXDH, and starts a session whose messages are pre-key
//! // messages until Bob replies.
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let mut a = pqxdh::sessions::establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng)?;
//! let wire = a.session.encrypt(b"hello Bob", &mut rng)?;
//!
//! // Bob runs his side from his private prekeys, decrypts, and the Double Ratchet takes over.
//! let (mut b, plaintext) = pqxdh::sessions::establish::accept(&mut bob, &wire, Backend::Libcrux)?;
//! assert_eq!(plaintext, b"hello Bob");
//! assert_eq!(b.session_id, a.session_id);
//! let reply = b.session.encrypt(b"hello Alice", &mut rng)?;
//! assert_eq!(a.session.decrypt(&reply)?, b"hello Alice");
//!
//! // Each message key is used once: a replay is refused and changes nothing.
//! assert_eq!(a.session.decrypt(&reply), Err(pqxdh::DecryptError::Duplicate));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod handshake;
pub mod primitives;
pub mod ratchet;
pub mod sessions;

pub use handshake::bundle::{BundleError, PreKeyBundle};
pub use handshake::identity::IdentityKeyPair;
pub use handshake::prekey_store::{PreKeyStore, RotateError};
pub use handshake::replay_record::ReplayError;
pub use handshake::session_id::SessionId;
pub use handshake::{HandshakeError, InitialHeader, Initiation, SharedKeys};
pub use primitives::kem::{Backend, KemError, KemType};
pub use primitives::keys::{KeyError, KeyPair, PrivateKey, PublicKey};
pub use ratchet::chain_key::ChainKey;
pub use ratchet::root_key::RootKey;
pub use ratchet::{DecryptError, EncryptError, Session, StateError, WireMessage};
pub use sessions::establish::{EstablishError, Established, accept, initiate};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
