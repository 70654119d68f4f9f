//! Prekey bundles: what a party publishes so that others can start a PQXDH session with it
//! offline. A bundle is verified (both signatures, key lengths and types, the FIPS 203 section 7.2
//! check of the KEM key) before any of it is used.

use crate::handshake::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, SignedPreKeyPublic};
use crate::primitives::kem::KemError;
use crate::primitives::keys::{KeyError, PublicKey};
use crate::primitives::xeddsa::{self, SignatureError};

/// Version number of the bundle's JSON form.
pub const BUNDLE_JSON_VERSION: u32 = 1;

/// Largest bundle JSON accepted, in bytes: a bundle is about 3.5 KB, so this only stops abuse.
pub const MAX_BUNDLE_JSON_LEN: usize = 64 * 1024;

/// Errors from decoding or verifying a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The signature over `EncodeEC(SPK)` does not verify under the identity key.
    #[error("the signed prekey's signature does not verify under the identity key")]
    BadSignedPreKeySignature,
    /// The signature over `EncodeKEM(PQPK)` does not verify under the identity key.
    #[error("the PQ prekey's signature does not verify under the identity key")]
    BadPqPreKeySignature,
    /// A field holds an invalid X25519 key encoding.
    #[error("{field}: {source}")]
    Key {
        /// The JSON field.
        field: &'static str,
        /// What is wrong with it.
        source: KeyError,
    },
    /// The PQ prekey is not a valid KEM key encoding (unknown type, length, FIPS 203 7.2 check).
    #[error("pq_prekey.key: {0}")]
    Kem(KemError),
    /// A signature field is malformed.
    #[error("{field}: {source}")]
    Signature {
        /// The JSON field.
        field: &'static str,
        /// What is wrong with it.
        source: SignatureError,
    },
    /// A field is not valid lowercase or uppercase hex.
    #[error("{0}: not valid hex")]
    Hex(&'static str),
    /// The JSON is malformed or lacks a field.
    #[error("bundle JSON: {0}")]
    Json(String),
    /// The JSON declares a version this code does not know.
    #[error("unsupported bundle version {0}")]
    UnsupportedVersion(u32),
    /// The JSON is larger than [`MAX_BUNDLE_JSON_LEN`].
    #[error("bundle JSON too large ({0} bytes)")]
    TooLarge(usize),
}

/// A prekey bundle as published: identity key, signed prekey, PQ prekey, optional one-time prekey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// `IK_B`.
    pub identity_key: PublicKey,
    /// `SPK_B` with its signature.
    pub signed_prekey: SignedPreKeyPublic,
    /// `PQPK_B` (one-time or last-resort) with its signature.
    pub pq_prekey: PqPreKeyPublic,
    /// `OPK_B`, when the server had one left.
    pub one_time_prekey: Option<OneTimePreKeyPublic>,
}

impl PreKeyBundle {
    /// Verifies both prekey signatures (PQXDH section 3.3: abort if either fails). Key lengths,
    /// types and the KEM key check were already enforced when the bundle was built or decoded.
    /// Both signatures are under the identity key, so it is converted to Edwards form once.
    pub fn verify(&self) -> Result<(), BundleError> {
        let key = xeddsa::VerifyingKey::new(&self.identity_key)
            .map_err(|_| BundleError::BadSignedPreKeySignature)?;
        let [signed, pq] = key.verify_two(
            (
                &self.signed_prekey.key.encode(),
                &self.signed_prekey.signature,
            ),
            (&self.pq_prekey.key.encode(), &self.pq_prekey.signature),
        );
        signed.map_err(|_| BundleError::BadSignedPreKeySignature)?;
        pq.map_err(|_| BundleError::BadPqPreKeySignature)
    }

    /// Verifies only the signed prekey's signature: all that classical X3DH uses.
    pub fn verify_signed_prekey(&self) -> Result<(), BundleError> {
        xeddsa::verify(
            &self.identity_key,
            &self.signed_prekey.key.encode(),
            &self.signed_prekey.signature,
        )
        .map_err(|_| BundleError::BadSignedPreKeySignature)
    }
}
