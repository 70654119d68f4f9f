//! The JSON bodies of API version 1 (SPEC.md section 12.3). Keys are hex of their type-prefixed
//! encodings, as in the bundle JSON; envelope bodies are standard base64.

use pqxdh::PreKeyStore;
use pqxdh::handshake::prekey::{
    OneTimePreKeyPublic, PqPreKeyKind, PqPreKeyPublic, SignedPreKeyPublic,
};
use serde::{Deserialize, Serialize};

/// A signed prekey: `EncodeEC(SPK)` and `Sig(IK, EncodeEC(SPK))`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPreKeyJson {
    /// Its id.
    pub id: u32,
    /// Hex of `EncodeEC(SPK)`.
    pub key: String,
    /// Hex of the XEdDSA signature.
    pub signature: String,
}

/// A PQ prekey (one-time or last-resort): `EncodeKEM(PQPK)` and its signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PqPreKeyJson {
    /// Its id.
    pub id: u32,
    /// Hex of `EncodeKEM(PQPK)`.
    pub key: String,
    /// Hex of the XEdDSA signature.
    pub signature: String,
}

/// A one-time EC prekey: `EncodeEC(OPK)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneTimePreKeyJson {
    /// Its id.
    pub id: u32,
    /// Hex of `EncodeEC(OPK)`.
    pub key: String,
}

/// `POST /v1/accounts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The account name (must equal the `x-pqxdh-account` header).
    pub name: String,
    /// Hex of `EncodeEC(IK)`; the request is signed with this key.
    pub identity_key: String,
    /// The first signed prekey.
    pub signed_prekey: SignedPreKeyJson,
    /// The first last-resort PQ prekey.
    pub last_resort_pq_prekey: PqPreKeyJson,
    /// One-time EC prekeys.
    #[serde(default)]
    pub one_time_prekeys: Vec<OneTimePreKeyJson>,
    /// One-time PQ prekeys.
    #[serde(default)]
    pub pq_prekeys: Vec<PqPreKeyJson>,
}

/// `PUT /v1/keys`: replenishment and rotation; every field optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysUpload {
    /// A new signed prekey, replacing the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_prekey: Option<SignedPreKeyJson>,
    /// A new last-resort PQ prekey, replacing the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resort_pq_prekey: Option<PqPreKeyJson>,
    /// More one-time EC prekeys.
    #[serde(default)]
    pub one_time_prekeys: Vec<OneTimePreKeyJson>,
    /// More one-time PQ prekeys.
    #[serde(default)]
    pub pq_prekeys: Vec<PqPreKeyJson>,
}

/// `GET /v1/keys`: what the account has left on the server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyCounts {
    /// One-time EC prekeys left.
    pub one_time_prekeys: u64,
    /// One-time PQ prekeys left.
    pub pq_prekeys: u64,
    /// The current signed prekey's id.
    pub signed_prekey_id: u32,
    /// The current last-resort PQ prekey's id.
    pub last_resort_pq_prekey_id: u32,
}

/// `PUT /v1/messages/{name}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The opaque envelope body, base64.
    pub body: String,
    /// The recipient's identity key the sender encrypted to (hex of its 33-byte encoding);
    /// when given and the account's key differs, the deposit is refused with 409
    /// `identity_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<String>,
}

/// The answer to a deposit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepositResponse {
    /// The envelope's id.
    pub id: String,
}

/// One envelope as fetched.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// The id to acknowledge and to deduplicate on.
    pub id: String,
    /// The sender's account, as the server authenticated it.
    pub sender: String,
    /// When the server accepted it (ms since the epoch).
    pub received_ms: u64,
    /// The opaque body, base64.
    pub body: String,
}

/// `GET /v1/messages`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mail {
    /// Waiting envelopes, oldest first.
    pub envelopes: Vec<Envelope>,
}

/// The answer to an attachment upload.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttachmentReceipt {
    /// The attachment's id (128 random bits, hex): whoever holds it can download.
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Hex of its SHA-256.
    pub sha256: String,
}

impl From<&SignedPreKeyPublic> for SignedPreKeyJson {
    fn from(key: &SignedPreKeyPublic) -> Self {
        Self {
            id: key.id,
            key: hex::encode(key.key.encode()),
            signature: hex::encode(key.signature.as_bytes()),
        }
    }
}

impl From<&PqPreKeyPublic> for PqPreKeyJson {
    fn from(key: &PqPreKeyPublic) -> Self {
        Self {
            id: key.id,
            key: hex::encode(key.key.encode()),
            signature: hex::encode(key.signature.as_bytes()),
        }
    }
}

impl From<&OneTimePreKeyPublic> for OneTimePreKeyJson {
    fn from(key: &OneTimePreKeyPublic) -> Self {
        Self {
            id: key.id,
            key: hex::encode(key.key.encode()),
        }
    }
}

/// Why a store cannot be registered as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The store has no current signed prekey.
    #[error("the store has no signed prekey")]
    NoSignedPreKey,
    /// The store has no last-resort PQ prekey.
    #[error("the store has no last-resort PQ prekey")]
    NoLastResort,
}

impl RegisterRequest {
    /// The registration of `name` with everything public in `store`: its identity key, current
    /// signed and last-resort prekeys, and every one-time EC and PQ prekey.
    pub fn from_store(name: &str, store: &PreKeyStore) -> Result<Self, RegisterError> {
        let signed = store
            .current_signed_prekey()
            .ok_or(RegisterError::NoSignedPreKey)?;
        let last_resort = store
            .last_resort_pq_prekey()
            .ok_or(RegisterError::NoLastResort)?;
        Ok(Self {
            name: name.to_owned(),
            identity_key: hex::encode(store.identity().public_key().encode()),
            signed_prekey: (&signed.public()).into(),
            last_resort_pq_prekey: (&last_resort.public()).into(),
            one_time_prekeys: store
                .one_time_prekeys()
                .map(|k| (&k.public()).into())
                .collect(),
            pq_prekeys: store
                .pq_prekeys()
                .filter(|k| k.kind() == PqPreKeyKind::OneTime)
                .map(|k| (&k.public()).into())
                .collect(),
        })
    }
}
