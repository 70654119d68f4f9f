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
//! let mut a = pqxdh::establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng)?;
//! let wire = a.session.encrypt(b"hello Bob", &mut rng)?;
//!
//! // Bob runs his side from his private prekeys, decrypts, and the Double Ratchet takes over.
//! let (mut b, plaintext) = pqxdh::establish::accept(&mut bob, &wire, Backend::Libcrux)?;
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

pub mod bundle;
#[cfg(feature = "serde")]
pub mod bundle_json;
pub mod chain_key;
pub mod clock;
pub mod establish;
pub mod identity;
pub mod kem;
pub mod keys;
pub mod pqxdh;
pub mod prekey;
pub mod prekey_store;
pub mod ratchet;
pub mod replay_record;
pub mod root_key;
mod secret;
pub mod session_id;
pub mod xeddsa;

pub use bundle::{BundleError, PreKeyBundle};
pub use chain_key::ChainKey;
pub use establish::{EstablishError, Established};
pub use identity::IdentityKeyPair;
pub use kem::{Backend, KemError, KemType};
pub use keys::{KeyError, KeyPair, PrivateKey, PublicKey};
pub use pqxdh::{HandshakeError, InitialHeader, Initiation, SharedKeys};
pub use prekey_store::{PreKeyStore, RotateError};
pub use ratchet::{DecryptError, EncryptError, Session, StateError, WireMessage};
pub use replay_record::ReplayError;
pub use root_key::RootKey;
pub use session_id::SessionId;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
