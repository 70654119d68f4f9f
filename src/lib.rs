//! # pqxdh
//!
//! Signal's PQXDH key agreement (X25519 Diffie-Hellman plus an ML-KEM-1024 or Kyber1024
//! encapsulation, mixed by HKDF into one hybrid secret) feeding a Double Ratchet with AES-256-GCM,
//! byte-compatible with libsignal's handshake and checked against known-answer vectors.
//! `SPEC.md` describes every byte ([`spec`] maps its sections to modules); `SECURITY.md` the
//! threat model.
//!
//! The layers, bottom up: [`primitives`] (X25519, XEdDSA, the KEMs, wiping secret containers),
//! [`handshake`] (identities, prekeys and their store, bundles, PQXDH), [`ratchet`] (the Double
//! Ratchet and its wire format; with SPQR, the triple ratchet), `spqr` (the Sparse Post-Quantum
//! Ratchet, feature `spqr`), [`sessions`] (sessions from handshakes). The operations are
//! synchronous and work on values the caller owns and saves.
//!
//! ## Establish a session and talk
//!
//! ```
//! use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
//!
//! let mut rng = rand::rng();
//! // Bob publishes a bundle: identity key, signed prekey, last-resort ML-KEM-1024 prekey.
//! let mut bob = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! let bundle: PreKeyBundle = bob.default_bundle()?;
//!
//! // Alice fetches it (a server relays it; `to_json` and `from_json` with the `serde` feature);
//! // `initiate` verifies it, runs PQXDH, and starts a session whose messages are pre-key
//! // messages until Bob replies.
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let mut a = pqxdh::initiate(&alice, &bundle, Backend::Libcrux, &mut rng)?;
//! let wire = a.session.encrypt(b"hello Bob", &mut rng)?;
//!
//! // Bob runs his side from his private prekeys, decrypts, and the Double Ratchet takes over.
//! let (mut b, plaintext) = pqxdh::accept(&mut bob, &wire, Backend::Libcrux)?;
//! assert_eq!(plaintext, b"hello Bob");
//! assert_eq!(b.session_id, a.session_id);
//! let reply = b.session.encrypt(b"hello Alice", &mut rng)?;
//! assert_eq!(a.session.decrypt(&reply)?, b"hello Alice");
//!
//! // Each message key is used once: a replay is refused and changes nothing.
//! assert_eq!(a.session.decrypt(&reply), Err(pqxdh::DecryptError::Duplicate));
//! // The same first message cannot open a second session either.
//! assert!(matches!(
//!     pqxdh::accept(&mut bob, &wire, Backend::Libcrux),
//!     Err(pqxdh::EstablishError::Replay(_))
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Start sessions again without checking the same signatures again
//!
//! A client that claims a contact's bundle again gets the same identity key, signed prekey and
//! PQ prekey with the same signatures, and usually a new one-time prekey. A
//! [`VerifiedBundleCache`] (bounded, in memory, SPEC.md section 5.1) remembers the signed material
//! that verified: a byte-identical repeat yields a [`VerifiedBundle`] without the two XEdDSA
//! checks, and [`initiate_verified`] starts the session from it. Any other bundle is verified on
//! its own merits.
//!
//! ```
//! use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore, VerifiedBundleCache};
//!
//! let mut rng = rand::rng();
//! let bob = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let mut cache = VerifiedBundleCache::new();
//! let first = cache.verify(bob.default_bundle()?)?; // both signatures checked
//! let a = pqxdh::initiate_verified(&alice, &first, Backend::Libcrux, &mut rng)?;
//! let again = cache.verify(bob.default_bundle()?)?; // the same signed material: no check
//! let b = pqxdh::initiate_verified(&alice, &again, Backend::Libcrux, &mut rng)?;
//! assert_ne!(a.session_id, b.session_id);
//! assert_eq!((cache.stats().verifications, cache.stats().hits), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Save and restore a session
//!
//! A session's saved form holds every secret of it (SPEC.md section 8.7): store it like a
//! private key. Restoring an older copy never reuses an AES-GCM key and nonce (each message
//! draws a fresh salt), but messages the peer already received on those counters are refused.
//!
//! ```
//! # use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore, Session};
//! # let mut rng = rand::rng();
//! # let mut bob = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! # let alice = IdentityKeyPair::generate(&mut rng);
//! # let mut a = pqxdh::initiate(&alice, &bob.default_bundle()?, Backend::Libcrux, &mut rng)?;
//! # let (mut b, _) = pqxdh::accept(&mut bob, &a.session.encrypt(b"hi", &mut rng)?, Backend::Libcrux)?;
//! let saved = b.session.to_bytes(); // zeroized on drop
//! let mut restored = Session::from_bytes(&saved)?;
//! let wire = a.session.encrypt(b"after the restart", &mut rng)?;
//! assert_eq!(restored.decrypt(&wire)?, b"after the restart");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Rotate prekeys
//!
//! A pre-key message or file on last-resort keys stays readable to a thief of the store until
//! those keys are deleted (SPEC.md section 9.3). Rotate, publish the new bundle, and prune retired
//! keys once messages sent to them can no longer arrive.
//!
//! ```
//! use pqxdh::handshake::clock::{Clock, DAY, SystemClock};
//! use pqxdh::handshake::prekey_store::RETIRED_PREKEY_RETENTION;
//! # use pqxdh::{IdentityKeyPair, KemType, PreKeyStore};
//! # let mut rng = rand::rng();
//! let now = SystemClock.now();
//! let mut bob = PreKeyStore::generate_at(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, now, &mut rng)?;
//! let old = bob.default_bundle()?;
//! bob.rotate(now, &mut rng)?;
//! let new = bob.default_bundle()?;
//! assert_eq!(new.signed_prekey.id, old.signed_prekey.id + 1);
//! // The retired keys still answer messages in flight until the retention period has passed.
//! assert!(bob.signed_prekey(old.signed_prekey.id).is_some());
//! assert_eq!(bob.prune(now.plus(RETIRED_PREKEY_RETENTION), RETIRED_PREKEY_RETENTION), 2);
//! assert!(bob.signed_prekey(old.signed_prekey.id).is_none());
//! # let _ = DAY;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `serde`: the bundle's JSON form ([`PreKeyBundle::to_json`](handshake::bundle::PreKeyBundle),
//!   `from_json`).
//! - `pqclean`: PQClean's ML-KEM-1024 as a second backend ([`Backend::PqClean`]).
//!
//! Later additions (the post-quantum triple ratchet, faster backends) come as further named
//! features of this crate, each off by default.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod handshake;
pub mod primitives;
pub mod ratchet;
pub mod sessions;
pub mod spec;
#[cfg(feature = "spqr")]
pub mod spqr;

pub use handshake::bundle::{BundleError, PreKeyBundle};
pub use handshake::bundle_cache::{VERIFIED_BUNDLE_CACHE_LIMIT, VerifiedBundleCache};
pub use handshake::identity::IdentityKeyPair;
pub use handshake::prekey_store::{PreKeyStore, RotateError};
pub use handshake::replay_record::ReplayError;
pub use handshake::session_id::SessionId;
pub use handshake::verified_bundle::VerifiedBundle;
pub use handshake::{HandshakeError, InitialHeader, Initiation, SharedKeys};
pub use primitives::kem::{Backend, KemError, KemType};
pub use primitives::keys::{KeyError, KeyPair, PrivateKey, PublicKey};
pub use ratchet::chain_key::ChainKey;
pub use ratchet::root_key::RootKey;
pub use ratchet::{DecryptError, EncryptError, Session, StateError, WireMessage};
pub use sessions::establish::{
    EstablishError, Established, RatchetKind, accept, initiate, initiate_verified,
    initiate_with_ratchet,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
