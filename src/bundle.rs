//! Prekey bundles: what a party publishes so that others can start a PQXDH session with it
//! offline. A bundle is verified (both signatures, key lengths and types, the FIPS 203 section 7.2
//! check of the KEM key) before any of it is used.

use serde::{Deserialize, Serialize};

use crate::kem::{KemError, KemPublicKey};
use crate::keys::{KeyError, PublicKey};
use crate::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, PreKeyId, SignedPreKeyPublic};
use crate::xeddsa::{self, Signature, SignatureError};

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
        key.verify(
            &self.signed_prekey.key.encode(),
            &self.signed_prekey.signature,
        )
        .map_err(|_| BundleError::BadSignedPreKeySignature)?;
        key.verify(&self.pq_prekey.key.encode(), &self.pq_prekey.signature)
            .map_err(|_| BundleError::BadPqPreKeySignature)
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

    /// The bundle's JSON form (see SPEC.md): every key as hex of its type-prefixed encoding.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and numbers cannot fail.
        serde_json::to_string_pretty(&BundleJson::from(self)).unwrap_or_default()
    }

    /// The JSON form as a value, for embedding in other JSON.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(BundleJson::from(self)).unwrap_or(serde_json::Value::Null)
    }

    /// Decodes the JSON form, checking every field. Signatures are checked by [`Self::verify`].
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        if json.len() > MAX_BUNDLE_JSON_LEN {
            return Err(BundleError::TooLarge(json.len()));
        }
        let raw: BundleJson =
            serde_json::from_str(json).map_err(|e| BundleError::Json(e.to_string()))?;
        raw.try_into()
    }

    /// Decodes the JSON form from a parsed value.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self, BundleError> {
        let raw = BundleJson::deserialize(value).map_err(|e| BundleError::Json(e.to_string()))?;
        raw.try_into()
    }
}

#[derive(Serialize, Deserialize)]
struct BundleJson {
    version: u32,
    identity_key: String,
    signed_prekey: SignedPreKeyJson,
    pq_prekey: PqPreKeyJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_prekey: Option<OneTimePreKeyJson>,
}

#[derive(Serialize, Deserialize)]
struct SignedPreKeyJson {
    id: PreKeyId,
    key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
struct PqPreKeyJson {
    id: PreKeyId,
    last_resort: bool,
    key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
struct OneTimePreKeyJson {
    id: PreKeyId,
    key: String,
}

impl From<&PreKeyBundle> for BundleJson {
    fn from(b: &PreKeyBundle) -> Self {
        Self {
            version: BUNDLE_JSON_VERSION,
            identity_key: hex::encode(b.identity_key.encode()),
            signed_prekey: SignedPreKeyJson {
                id: b.signed_prekey.id,
                key: hex::encode(b.signed_prekey.key.encode()),
                signature: hex::encode(b.signed_prekey.signature.as_bytes()),
            },
            pq_prekey: PqPreKeyJson {
                id: b.pq_prekey.id,
                last_resort: b.pq_prekey.last_resort,
                key: hex::encode(b.pq_prekey.key.encode()),
                signature: hex::encode(b.pq_prekey.signature.as_bytes()),
            },
            one_time_prekey: b.one_time_prekey.map(|o| OneTimePreKeyJson {
                id: o.id,
                key: hex::encode(o.key.encode()),
            }),
        }
    }
}

fn unhex(field: &'static str, text: &str) -> Result<Vec<u8>, BundleError> {
    hex::decode(text).map_err(|_| BundleError::Hex(field))
}

fn ec_key(field: &'static str, text: &str) -> Result<PublicKey, BundleError> {
    PublicKey::decode(&unhex(field, text)?).map_err(|source| BundleError::Key { field, source })
}

fn signature(field: &'static str, text: &str) -> Result<Signature, BundleError> {
    Signature::from_slice(&unhex(field, text)?)
        .map_err(|source| BundleError::Signature { field, source })
}

impl TryFrom<BundleJson> for PreKeyBundle {
    type Error = BundleError;
    fn try_from(raw: BundleJson) -> Result<Self, BundleError> {
        if raw.version != BUNDLE_JSON_VERSION {
            return Err(BundleError::UnsupportedVersion(raw.version));
        }
        let one_time_prekey = match raw.one_time_prekey {
            Some(o) => Some(OneTimePreKeyPublic {
                id: o.id,
                key: ec_key("one_time_prekey.key", &o.key)?,
            }),
            None => None,
        };
        Ok(Self {
            identity_key: ec_key("identity_key", &raw.identity_key)?,
            signed_prekey: SignedPreKeyPublic {
                id: raw.signed_prekey.id,
                key: ec_key("signed_prekey.key", &raw.signed_prekey.key)?,
                signature: signature("signed_prekey.signature", &raw.signed_prekey.signature)?,
            },
            pq_prekey: PqPreKeyPublic {
                id: raw.pq_prekey.id,
                last_resort: raw.pq_prekey.last_resort,
                key: KemPublicKey::decode(&unhex("pq_prekey.key", &raw.pq_prekey.key)?)
                    .map_err(BundleError::Kem)?,
                signature: signature("pq_prekey.signature", &raw.pq_prekey.signature)?,
            },
            one_time_prekey,
        })
    }
}
