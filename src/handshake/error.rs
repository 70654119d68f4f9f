//! Why a handshake failed, and why a prekey store could not answer.

use crate::handshake::bundle::BundleError;
use crate::handshake::prekey::PreKeyId;
use crate::primitives::kem::{KemError, KemType};
use crate::primitives::keys::KeyError;

/// Errors from the handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The prekey store could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The bundle failed verification.
    #[error("bundle: {0}")]
    Bundle(#[from] BundleError),
    /// A DH output was all zeros, or a key was malformed.
    #[error("key agreement: {0}")]
    Key(#[from] KeyError),
    /// The KEM step failed (invalid key, mismatched KEM types).
    #[error("KEM: {0}")]
    Kem(#[from] KemError),
    /// The initial message names a signed prekey the responder does not have.
    #[error("unknown signed prekey id {0}")]
    UnknownSignedPreKey(PreKeyId),
    /// The initial message names a one-time prekey the responder does not have (or used already).
    #[error("unknown or already used one-time prekey id {0}")]
    UnknownOneTimePreKey(PreKeyId),
    /// The initial message names a PQ prekey the responder does not have (or used already).
    #[error("unknown or already used PQ prekey id {0}")]
    UnknownPqPreKey(PreKeyId),
    /// A PQXDH responder got a header without a KEM ciphertext (a downgrade to X3DH).
    #[error("the initial message carries no KEM ciphertext")]
    MissingKemCiphertext,
    /// The header's KEM ciphertext is of another KEM than the named PQ prekey.
    #[error("the KEM ciphertext is {actual}, the PQ prekey is {expected}")]
    KemMismatch {
        /// The prekey's KEM.
        expected: KemType,
        /// The ciphertext's KEM.
        actual: KemType,
    },
    /// The initial-message header is malformed.
    #[error("malformed initial-message header: {0}")]
    MalformedHeader(&'static str),
    /// The initial-message header has an unknown version.
    #[error("unknown initial-message header version {0}")]
    UnknownHeaderVersion(u8),
}

/// A storage backend failed (its own error, as text: the core cannot know its type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);
