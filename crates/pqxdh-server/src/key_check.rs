//! Uploaded keys checked with the core's own decoders before anything is stored: type bytes
//! and lengths, the FIPS 203 section 7.2 check of every ML-KEM key, and every signature under
//! the account's identity key (the checks an initiator makes on a bundle, made on upload too,
//! so the directory never hands out a bundle that fails them).

use pqxdh::PublicKey;
use pqxdh::primitives::kem::KemPublicKey;
use pqxdh::primitives::xeddsa::{Signature, VerifyingKey};

use crate::db::{LastResort, OneTimeRow, PqRow, SignedPreKeyRow};
use crate::error::ApiError;
use crate::wire::{OneTimePreKeyJson, PqPreKeyJson, SignedPreKeyJson};

fn unhex(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    hex::decode(text).map_err(|_| ApiError::Malformed(format!("{field}: not hex")))
}

/// Decodes `EncodeEC(IK)`.
pub fn identity_key(text: &str) -> Result<PublicKey, ApiError> {
    PublicKey::decode(&unhex("identity_key", text)?)
        .map_err(|e| ApiError::InvalidKey(format!("identity_key: {e}")))
}

fn ec_key(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let key = PublicKey::decode(&unhex(field, text)?)
        .map_err(|e| ApiError::InvalidKey(format!("{field}: {e}")))?;
    Ok(key.encode().to_vec())
}

fn kem_key(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let key = KemPublicKey::decode(&unhex(field, text)?)
        .map_err(|e| ApiError::InvalidKey(format!("{field}: {e}")))?;
    Ok(key.encode())
}

fn signed(
    verifier: &VerifyingKey,
    field: &str,
    message: &[u8],
    text: &str,
) -> Result<Vec<u8>, ApiError> {
    let signature = Signature::from_slice(&unhex(field, text)?)
        .map_err(|e| ApiError::InvalidKey(format!("{field}: {e}")))?;
    verifier
        .verify(message, &signature)
        .map_err(|_| ApiError::InvalidKey(format!("{field}: signature does not verify")))?;
    Ok(signature.as_bytes().to_vec())
}

/// Checks keys against one identity key.
pub struct KeyChecker {
    verifier: VerifyingKey,
}

impl KeyChecker {
    /// A checker for keys signed by `identity`.
    pub fn new(identity: &PublicKey) -> Result<Self, ApiError> {
        let verifier = VerifyingKey::new(identity)
            .map_err(|e| ApiError::InvalidKey(format!("identity_key: {e}")))?;
        Ok(Self { verifier })
    }

    /// A signed prekey, its signature verified.
    pub fn signed_prekey(&self, key: &SignedPreKeyJson) -> Result<SignedPreKeyRow, ApiError> {
        let encoded = ec_key("signed_prekey.key", &key.key)?;
        let signature = signed(
            &self.verifier,
            "signed_prekey.signature",
            &encoded,
            &key.signature,
        )?;
        Ok(SignedPreKeyRow {
            id: key.id,
            key: encoded,
            signature,
        })
    }

    /// A PQ prekey, its key checked and its signature verified.
    pub fn pq_prekey(&self, field: &str, key: &PqPreKeyJson) -> Result<PqRow, ApiError> {
        let encoded = kem_key(field, &key.key)?;
        let signature = signed(&self.verifier, field, &encoded, &key.signature)?;
        Ok(PqRow {
            id: key.id,
            key: encoded,
            signature,
        })
    }

    /// A last-resort PQ prekey.
    pub fn last_resort(&self, key: &PqPreKeyJson) -> Result<LastResort, ApiError> {
        let row = self.pq_prekey("last_resort_pq_prekey", key)?;
        Ok(LastResort {
            id: row.id,
            key: row.key,
            signature: row.signature,
        })
    }

    /// One-time EC and PQ prekeys, at most `max` of each, ids distinct within each kind.
    pub fn one_time(
        &self,
        ec: &[OneTimePreKeyJson],
        pq: &[PqPreKeyJson],
        max: usize,
    ) -> Result<(Vec<OneTimeRow>, Vec<PqRow>), ApiError> {
        if ec.len() > max || pq.len() > max {
            return Err(ApiError::Malformed(format!(
                "at most {max} one-time prekeys of each kind per upload"
            )));
        }
        let ec_rows = ec
            .iter()
            .map(|k| {
                Ok(OneTimeRow {
                    id: k.id,
                    key: ec_key("one_time_prekeys.key", &k.key)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let pq_rows = pq
            .iter()
            .map(|k| self.pq_prekey("pq_prekeys", k))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let distinct = |ids: Vec<u32>| {
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            sorted.len() == ids.len()
        };
        if !distinct(ec_rows.iter().map(|r| r.id).collect())
            || !distinct(pq_rows.iter().map(|r| r.id).collect())
        {
            return Err(ApiError::Malformed(
                "duplicate prekey id in one upload".into(),
            ));
        }
        Ok((ec_rows, pq_rows))
    }
}
