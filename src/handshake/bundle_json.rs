//! The bundle's JSON form (SPEC.md section 5), behind the `serde` feature: every key as hex of
//! its type-prefixed encoding, checked field by field when read.

use serde::{Deserialize, Serialize};

use crate::handshake::bundle::{
    BUNDLE_JSON_VERSION, BundleError, MAX_BUNDLE_JSON_LEN, PreKeyBundle,
};
use crate::handshake::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, PreKeyId, SignedPreKeyPublic};
use crate::primitives::kem::KemPublicKey;
use crate::primitives::keys::PublicKey;
use crate::primitives::xeddsa::Signature;

impl PreKeyBundle {
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
