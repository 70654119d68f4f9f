//! # pqxdh
//!
//! Signal's PQXDH key agreement (X25519 Diffie-Hellman plus an ML-KEM-1024 or Kyber1024
//! encapsulation, mixed by HKDF into one hybrid secret), byte-compatible with libsignal, checked
//! against known-answer vectors. `SPEC.md` describes every byte.
//!
//! ```
//! use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
//!
//! let mut rng = rand::rng();
//! // Bob publishes a bundle: identity key, signed prekey, last-resort ML-KEM-1024 prekey.
//! let bob = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! let json = bob.default_bundle()?.to_json();
//!
//! // Alice fetches it, verifies it and runs PQXDH.
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let bundle = PreKeyBundle::from_json(&json)?;
//! let init = pqxdh::pqxdh::initiate(&alice, &bundle, Backend::Libcrux, &mut rng)?;
//!
//! // Bob answers the initial header with his private prekeys and reaches the same keys.
//! let header = pqxdh::InitialHeader::from_bytes(&init.header.to_bytes())?;
//! let keys = pqxdh::pqxdh::respond(&bob, &header, Backend::Libcrux, true)?;
//! assert_eq!(keys.root_key, init.keys.root_key);
//! assert_eq!(keys.session_id, init.keys.session_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod armor;
pub mod bundle;
pub mod chain_key;
pub mod cli;
pub mod establish;
pub mod files;
pub mod identity;
pub mod identity_file;
pub mod kat;
pub mod kem;
pub mod keys;
pub mod node;
pub mod pqxdh;
pub mod prekey;
pub mod prekey_store;
pub mod ratchet;
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
pub use prekey_store::PreKeyStore;
pub use ratchet::{DecryptError, EncryptError, Session, StateError, WireMessage};
pub use root_key::RootKey;
pub use session_id::SessionId;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
